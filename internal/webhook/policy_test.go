package webhook

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"
)

func constant(v float64) func() float64 { return func() float64 { return v } }

func TestPolicyNext(t *testing.T) {
	t.Parallel()
	first := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := DefaultPolicy()
	tests := []struct {
		name       string
		p          Policy
		attempt    int
		now        time.Time // zero: first
		retryAfter time.Duration
		rnd        float64
		wantWait   time.Duration
		wantGiveUp bool
	}{
		{"first failure, mid draw", p, 1, time.Time{}, 0, 0.5, time.Second, false},
		{"zero draw retries at once", p, 1, time.Time{}, 0, 0, 0, false},
		{"third failure, top draw", p, 3, time.Time{}, 0, 1, 8 * time.Second, false},
		{"eleventh failure under the cap", p, 11, time.Time{}, 0, 1, 2048 * time.Second, false},
		{"twelfth failure capped", p, 12, time.Time{}, 0, 1, time.Hour, false},
		{"huge attempt does not overflow", p, 1 << 30, time.Time{}, 0, 0.5, 30 * time.Minute, false},
		{"attempt 0 counts as 1", p, 0, time.Time{}, 0, 1, 2 * time.Second, false},
		{"negative attempt counts as 1", p, -5, time.Time{}, 0, 1, 2 * time.Second, false},
		{"draw above 1 clamped", p, 2, time.Time{}, 0, 7, 4 * time.Second, false},
		{"negative draw clamped", p, 2, time.Time{}, 0, -1, 0, false},
		{"retry-after longer than draw", p, 1, time.Time{}, 30 * time.Second, 0.5, 30 * time.Second, false},
		{"retry-after shorter than draw", p, 2, time.Time{}, time.Second, 0.75, 3 * time.Second, false},
		{"retry-after capped", p, 1, time.Time{}, 5 * time.Hour, 0, time.Hour, false},
		{"give up past max age", p, 30, first.Add(23*time.Hour + 30*time.Minute), 0, 1, time.Hour, true},
		{"exactly at max age is kept", p, 30, first.Add(23 * time.Hour), 0, 1, time.Hour, false},
		{"retry-after past max age gives up", p, 2, first.Add(23*time.Hour + 59*time.Minute), 2 * time.Minute, 0, 2 * time.Minute, true},
		{"zero policy takes defaults", Policy{}, 12, time.Time{}, 0, 1, time.Hour, false},
		{"custom policy", Policy{Base: time.Second, Cap: 10 * time.Second, MaxAge: time.Minute}, 5, time.Time{}, 0, 1, 10 * time.Second, false},
		{"custom max age", Policy{Base: time.Second, Cap: 10 * time.Second, MaxAge: time.Minute}, 5, first.Add(55 * time.Second), 0, 1, 10 * time.Second, true},
		{"huge base and cap do not overflow", Policy{Base: 1 << 62, Cap: 1<<63 - 1, MaxAge: 1<<63 - 1}, 3, time.Time{}, 0, 1, 1<<63 - 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			now := tt.now
			if now.IsZero() {
				now = first
			}
			next, giveUp := tt.p.Next(tt.attempt, first, now, tt.retryAfter, constant(tt.rnd))
			if got := next.Sub(now); got != tt.wantWait || giveUp != tt.wantGiveUp {
				t.Errorf("Next = now+%v, giveUp %v; want now+%v, %v", got, giveUp, tt.wantWait, tt.wantGiveUp)
			}
		})
	}
}

func TestPolicyNextJitterRange(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	now := time.Unix(1_700_000_000, 0)
	rng := rand.New(rand.NewPCG(1, 2))
	for attempt := 1; attempt <= 20; attempt++ {
		ceiling := min(p.Base<<(attempt-1), p.Cap)
		var lo, hi time.Duration = ceiling, 0
		for range 2000 {
			next, _ := p.Next(attempt, now, now, 0, rng.Float64)
			w := next.Sub(now)
			if w < 0 || w > ceiling {
				t.Fatalf("attempt %d: wait %v outside [0, %v]", attempt, w, ceiling)
			}
			lo, hi = min(lo, w), max(hi, w)
		}
		// Full jitter: the draws cover the whole range, not a band near the top.
		if lo > ceiling/20 || hi < ceiling*19/20 {
			t.Errorf("attempt %d: waits span [%v, %v], want most of [0, %v]", attempt, lo, hi, ceiling)
		}
	}
	// nil uses the package's random source and stays in range.
	next, _ := p.Next(3, now, now, 0, nil)
	if w := next.Sub(now); w < 0 || w > 8*time.Second {
		t.Errorf("nil rnd: wait %v outside [0, 8s]", w)
	}
}

// attemptsInLife counts the attempts of a delivery that always fails, the
// first at time 0, each next one when Next says, until Next gives up.
func attemptsInLife(p Policy, rnd func() float64) int {
	first := time.Unix(0, 0)
	now, n := first, 1
	for {
		next, giveUp := p.Next(n, first, now, 0, rnd)
		if giveUp {
			return n
		}
		now, n = next, n+1
	}
}

// TestPolicySchedule computes the numbers in Policy's doc comment.
func TestPolicySchedule(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	if got := attemptsInLife(p, constant(0.5)); got != 58 {
		t.Errorf("average waits: %d attempts, doc says 58", got)
	}
	if got := attemptsInLife(p, constant(1)); got != 34 {
		t.Errorf("longest waits: %d attempts, doc says 34", got)
	}
	rng := rand.New(rand.NewPCG(2026, 1))
	const runs = 10000
	counts := make([]int, runs)
	sum := 0
	for i := range counts {
		counts[i] = attemptsInLife(p, rng.Float64)
		sum += counts[i]
	}
	slices.Sort(counts)
	mean := float64(sum) / runs
	p5, p95 := counts[runs*5/100], counts[runs*95/100]
	t.Logf("random jitter: mean %.1f attempts, 5th percentile %d, 95th %d", mean, p5, p95)
	// The seed is fixed and PCG's output is specified, so these are exact.
	if mean < 58.45 || mean >= 58.55 || p5 != 52 || p95 != 65 {
		t.Errorf("random jitter: mean %.2f, p5 %d, p95 %d; doc says 58.5, 52, 65", mean, p5, p95)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"120", 120 * time.Second},
		{" 5 ", 5 * time.Second},
		{"0", 0},
		{"007", 7 * time.Second},
		{"", 0},
		{"-5", 0},
		{"+5", 0},
		{"1.5", 0},
		{"5s", 0},
		{"soon", 0},
		{"604800", 7 * 24 * time.Hour},
		{"604801", 7 * 24 * time.Hour},
		{"99999999999999999999999", 7 * 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"Sunday, 01-Mar-26 12:02:00 GMT", 2 * time.Minute}, // RFC 850
		{"Sun Mar  1 12:00:30 2026", 30 * time.Second},      // ANSI C asctime
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Format(http.TimeFormat), 0},
		{now.Add(30 * 24 * time.Hour).Format(http.TimeFormat), 7 * 24 * time.Hour},
		{"Sun, 01 Mar 2026 12:00:10 +0000", 0}, // not an HTTP-date
	}
	for _, tt := range tests {
		if got := ParseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "-1", "Sun, 01 Mar 2026 12:00:10 GMT", "99999999999999999999", "", " 1 "} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, h string) {
		d := ParseRetryAfter(h, now)
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v, outside [0, %v]", h, d, maxRetryAfter)
		}
		next, _ := DefaultPolicy().Next(1, now, now, d, constant(0))
		if w := next.Sub(now); w < 0 || w > DefaultCap {
			t.Fatalf("Next with Retry-After %v waits %v, outside [0, %v]", d, w, DefaultCap)
		}
	})
}

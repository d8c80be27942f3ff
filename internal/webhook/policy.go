package webhook

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Policy schedules the retries of one delivery: capped exponential backoff
// with full jitter, at least what the bot asked for with Retry-After, and a
// deadline after which the delivery is given up.
//
// With DefaultPolicy (Base 2s, Cap 1h, MaxAge 24h) the ceiling of the wait
// after attempt n is 2s·2^(n-1): 2s, 4s, … 2048s (≈34 min) after attempt 11,
// then 1h. A delivery that keeps failing is therefore attempted (counting the
// first attempt, ignoring the time attempts themselves take):
//
//   - 58 times if every wait is the average (half the ceiling): 2047s for
//     the first 11 waits, then one attempt every 30 min;
//   - 34 times if every wait is the ceiling: 4094s, then one per hour;
//   - about 58 times with random jitter (mean 58.5 over 10,000 simulated
//     deliveries, 5th–95th percentile 52–65);
//
// and the last attempt is at most 24h after the first. TestPolicySchedule
// computes these numbers. Full jitter spreads the retries of many deliveries
// that failed together (a bot restarting) instead of sending them in waves;
// the price is that a single wait may be close to zero.
type Policy struct {
	// Base is the ceiling of the wait after the first attempt. Each further
	// failure doubles the ceiling.
	Base time.Duration
	// Cap bounds the ceiling, and a Retry-After the bot sends.
	Cap time.Duration
	// MaxAge bounds the life of a delivery: no attempt is scheduled later
	// than the first attempt plus MaxAge.
	MaxAge time.Duration
}

// DefaultPolicy retries for about a day: Base 2s, Cap 1h, MaxAge 24h.
func DefaultPolicy() Policy {
	return Policy{Base: DefaultBase, Cap: DefaultCap, MaxAge: DefaultMaxAge}
}

// Next returns when to make the next attempt after attempt number attempt
// (1 for the first) failed at now, or giveUp when that time would be later
// than firstAttemptAt+MaxAge.
//
// The wait is uniform in [0, min(Cap, Base·2^(attempt-1))]; when the bot
// sent Retry-After (retryAfter > 0) the wait is at least that, capped at
// Cap, so a bot cannot park a delivery for longer than Cap and a bot that
// asks for less than the drawn wait gets the drawn wait. rnd returns a
// number in [0, 1) (math/rand/v2's Float64, or a seeded *rand.Rand's Float64
// in tests); nil uses math/rand/v2. Attempt numbers below 1 count as 1, and
// zero or negative Base, Cap and MaxAge fields take DefaultPolicy's values.
func (p Policy) Next(attempt int, firstAttemptAt, now time.Time, retryAfter time.Duration, rnd func() float64) (next time.Time, giveUp bool) {
	p = p.withDefaults()
	if rnd == nil {
		rnd = rand.Float64
	}
	ceiling := p.ceiling(attempt)
	r := min(max(rnd(), 0), 1)
	wait := ceiling // r == 1: r*ceiling could round past the largest Duration
	if r < 1 {
		wait = time.Duration(r * float64(ceiling))
	}
	if retryAfter > 0 {
		wait = max(wait, min(retryAfter, p.Cap))
	}
	next = now.Add(wait)
	return next, next.After(firstAttemptAt.Add(p.MaxAge))
}

// ceiling is min(Cap, Base·2^(attempt-1)), computed without overflow.
func (p Policy) ceiling(attempt int) time.Duration {
	c := p.Base
	for i := 1; i < attempt && c < p.Cap; i++ {
		if c > p.Cap/2 {
			c = p.Cap
		} else {
			c *= 2
		}
	}
	return min(c, p.Cap)
}

func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.Base <= 0 {
		p.Base = d.Base
	}
	if p.Cap <= 0 {
		p.Cap = d.Cap
	}
	if p.MaxAge <= 0 {
		p.MaxAge = d.MaxAge
	}
	return p
}

// ParseRetryAfter returns the wait a Retry-After header asks for, relative
// to now: either delay-seconds (digits only) or an HTTP-date. Anything else
// (empty, negative, fractional, garbage) and a date in the past give 0, which
// means "no preference". Very large values are clamped to a week so they
// cannot overflow; Policy.Next caps them further.
func ParseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if isDigits(h) {
		secs, err := strconv.ParseInt(h, 10, 64)
		if err != nil || secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter // only digits, so the error is an overflow
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(h)
	if err != nil {
		return 0
	}
	d := t.Sub(now)
	switch {
	case d <= 0:
		return 0
	case d > maxRetryAfter:
		return maxRetryAfter
	}
	return d
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

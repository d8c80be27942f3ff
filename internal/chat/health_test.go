package chat

import (
	"testing"
	"time"
)

func TestHealthPolicy(t *testing.T) {
	t.Parallel()
	p := HealthPolicy{FailingAfter: 3, ProbeMin: 10 * time.Second, ProbeMax: 40 * time.Second}
	now := time.Unix(1000, 0)
	h := HealthState{State: HealthHealthy}
	steps := []struct {
		outcome       string
		probe         bool
		state         string
		fails         int
		probeInterval int64 // ms
	}{
		{OutcomeRetryable, false, HealthHealthy, 1, 0},
		{OutcomePermanent, false, HealthHealthy, 1, 0}, // a 400 does not count toward failing
		{OutcomeRetryable, false, HealthHealthy, 2, 0},
		{OutcomeRetryable, false, HealthFailing, 3, 10_000},
		{OutcomeRetryable, false, HealthFailing, 4, 10_000}, // in flight before failing: counts, keeps the probe time
		{OutcomeRetryable, true, HealthFailing, 5, 20_000},  // failed probe: doubles
		{OutcomeRetryable, true, HealthFailing, 6, 40_000},
		{OutcomeRetryable, true, HealthFailing, 7, 40_000}, // capped
		{OutcomeSuccess, true, HealthHealthy, 0, 0},        // a probe succeeded: resume
		{OutcomeGone, false, HealthDisabled, 0, 0},
	}
	var lastProbe int64
	for i, s := range steps {
		now = now.Add(time.Second)
		h = p.Next(h, s.outcome, "why", s.probe, now)
		if h.State == HealthFailing && !s.probe && lastProbe != 0 && h.NextProbeAt != lastProbe {
			t.Fatalf("step %d: a non-probe failure moved the next probe from %d to %d", i, lastProbe, h.NextProbeAt)
		}
		if h.State != s.state || h.ConsecutiveFails != s.fails || h.ProbeInterval != s.probeInterval {
			t.Fatalf("step %d (%s): got %s fails=%d interval=%d, want %s %d %d", i, s.outcome, h.State, h.ConsecutiveFails, h.ProbeInterval, s.state, s.fails, s.probeInterval)
		}
		if h.State == HealthFailing && (s.probe || lastProbe == 0) && h.NextProbeAt != now.UnixMilli()+h.ProbeInterval {
			t.Fatalf("step %d: next probe %d", i, h.NextProbeAt)
		}
		lastProbe = h.NextProbeAt
		if s.outcome == OutcomeGone && !h.Disable {
			t.Fatalf("410 must disable the bot")
		}
		if s.outcome == OutcomeSuccess && h.LastSuccessAt != now.Unix() {
			t.Fatalf("last success not recorded")
		}
	}
}

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
		state         string
		fails         int
		probeInterval int64 // ms
	}{
		{OutcomeRetryable, HealthHealthy, 1, 0},
		{OutcomePermanent, HealthHealthy, 1, 0}, // a 400 does not count toward failing
		{OutcomeRetryable, HealthHealthy, 2, 0},
		{OutcomeRetryable, HealthFailing, 3, 10_000},
		{OutcomeRetryable, HealthFailing, 4, 20_000}, // failed probe: doubles
		{OutcomeRetryable, HealthFailing, 5, 40_000},
		{OutcomeRetryable, HealthFailing, 6, 40_000}, // capped
		{OutcomeSuccess, HealthHealthy, 0, 0},        // a probe succeeded: resume
		{OutcomeGone, HealthDisabled, 0, 0},
	}
	for i, s := range steps {
		now = now.Add(time.Second)
		h = p.Next(h, s.outcome, "why", now)
		if h.State != s.state || h.ConsecutiveFails != s.fails || h.ProbeInterval != s.probeInterval {
			t.Fatalf("step %d (%s): got %s fails=%d interval=%d, want %s %d %d", i, s.outcome, h.State, h.ConsecutiveFails, h.ProbeInterval, s.state, s.fails, s.probeInterval)
		}
		if h.State == HealthFailing && h.NextProbeAt != now.UnixMilli()+h.ProbeInterval {
			t.Fatalf("step %d: next probe %d", i, h.NextProbeAt)
		}
		if s.outcome == OutcomeGone && !h.Disable {
			t.Fatalf("410 must disable the bot")
		}
		if s.outcome == OutcomeSuccess && h.LastSuccessAt != now.Unix() {
			t.Fatalf("last success not recorded")
		}
	}
}

package chat

import "time"

// HealthPolicy decides when a bot's endpoint counts as failing and how
// often a failing endpoint is probed.
type HealthPolicy struct {
	// FailingAfter consecutive retryable failures put the bot in the
	// failing state: its lanes hold and only probes go out.
	FailingAfter int
	// ProbeMin is the first wait before a probe; each failed probe doubles
	// it up to ProbeMax.
	ProbeMin, ProbeMax time.Duration
}

// DefaultHealthPolicy: failing after 5 failures in a row; probes after 15 s,
// then 30 s, 1 min, ... at most every 5 min.
func DefaultHealthPolicy() HealthPolicy {
	return HealthPolicy{FailingAfter: 5, ProbeMin: 15 * time.Second, ProbeMax: 5 * time.Minute}
}

// HealthState is a bot's health as the engine tracks it.
type HealthState struct {
	State            string
	Reason           string
	ConsecutiveFails int
	LastSuccessAt    int64 // s
	LastFailureAt    int64 // s
	FailingSince     int64 // s
	NextProbeAt      int64 // ms
	ProbeInterval    int64 // ms
	Disable          bool  // the bot must be disabled (410 Gone)
}

// Attempt outcomes as the health policy sees them.
const (
	OutcomeSuccess   = "success"   // 2xx
	OutcomeRetryable = "retryable" // timeout, connection error, 5xx, 408, 429
	OutcomePermanent = "permanent" // other 4xx, refused address: the delivery fails, the endpoint is not "down"
	OutcomeGone      = "gone"      // 410: the bot is disabled
)

// Next returns the health after an attempt with the given outcome at now.
// reason describes a failure ("http_503: ..."). probe tells that the
// attempt was the probe of a failing bot: only a failed probe pushes the
// next probe further out (attempts that were already in flight when the
// bot started failing only count).
func (p HealthPolicy) Next(cur HealthState, outcome, reason string, probe bool, now time.Time) HealthState {
	next := cur
	next.Disable = false
	switch outcome {
	case OutcomeSuccess:
		return HealthState{State: HealthHealthy, LastSuccessAt: now.Unix(), LastFailureAt: cur.LastFailureAt}
	case OutcomePermanent:
		// The endpoint answered; it rejected this one delivery.
		next.LastFailureAt = now.Unix()
		return next
	case OutcomeGone:
		next.State, next.Reason, next.Disable = HealthDisabled, reason, true
		next.LastFailureAt = now.Unix()
		next.NextProbeAt, next.ProbeInterval = 0, 0
		return next
	}
	next.ConsecutiveFails++
	next.LastFailureAt = now.Unix()
	switch {
	case cur.State == HealthFailing && !probe:
		// An attempt that started before the bot was failing.
	case cur.State == HealthFailing:
		// A failed probe: wait longer before the next one.
		next.ProbeInterval = min(max(cur.ProbeInterval*2, p.ProbeMin.Milliseconds()), p.ProbeMax.Milliseconds())
		next.NextProbeAt = now.UnixMilli() + next.ProbeInterval
		next.Reason = reason
	case next.ConsecutiveFails >= p.FailingAfter:
		next.State, next.Reason, next.FailingSince = HealthFailing, reason, now.Unix()
		next.ProbeInterval = p.ProbeMin.Milliseconds()
		next.NextProbeAt = now.UnixMilli() + next.ProbeInterval
	default:
		if next.State == "" {
			next.State = HealthHealthy
		}
	}
	return next
}

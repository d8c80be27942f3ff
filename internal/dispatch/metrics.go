package dispatch

import "time"

// Metrics receives the engine's observations (Prometheus in the server).
type Metrics struct {
	// Attempt observes every attempt (outcome: chat.Outcome*).
	Attempt func(bot, outcome string, latency time.Duration)
	// Completed observes a delivery that an attempt ended (state:
	// succeeded or failed).
	Completed func(bot, state string)
	// Maintenance observes a run of the periodic work on this node (on
	// one node of a cluster at a time).
	Maintenance func()
}

func (m *Metrics) observeAttempt(bot, outcome string, latency time.Duration) {
	if m.Attempt != nil {
		m.Attempt(bot, outcome, latency)
	}
}

func (m *Metrics) observeCompleted(bot, state string) {
	if m.Completed != nil {
		m.Completed(bot, state)
	}
}

func (m *Metrics) observeMaintenance() {
	if m != nil && m.Maintenance != nil {
		m.Maintenance()
	}
}

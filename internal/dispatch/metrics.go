package dispatch

import "time"

// Metrics receives the engine's observations (Prometheus in the server).
type Metrics struct {
	// Attempt observes every attempt (outcome: chat.Outcome*).
	Attempt func(bot, outcome string, latency time.Duration)
	// Completed observes a delivery that an attempt ended (state:
	// succeeded or failed).
	Completed func(bot, state string)
	Queue     func(pending int, oldestDue time.Duration)
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

func (m *Metrics) observeQueue(pending int, oldest time.Duration) {
	if m.Queue != nil {
		m.Queue(pending, oldest)
	}
}

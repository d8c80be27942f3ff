package dispatch

import "time"

// Metrics receives the engine's observations (Prometheus in the server).
type Metrics struct {
	Attempt func(bot, outcome string, latency time.Duration)
	Queue   func(pending int, oldestDue time.Duration)
}

func (m *Metrics) observeAttempt(bot, outcome string, latency time.Duration) {
	if m.Attempt != nil {
		m.Attempt(bot, outcome, latency)
	}
}

func (m *Metrics) observeQueue(pending int, oldest time.Duration) {
	if m.Queue != nil {
		m.Queue(pending, oldest)
	}
}

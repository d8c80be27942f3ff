package bench

import (
	"slices"
	"sync"
	"time"
)

// Recorder keeps every latency observed, so that quantiles are exact. A
// phase of a few seconds at a few thousand messages per second is tens of
// thousands of samples: a sorted slice is small and simpler than a
// histogram. Safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	samples []time.Duration
	sorted  bool
}

// Add records one latency.
func (r *Recorder) Add(d time.Duration) {
	r.mu.Lock()
	r.samples = append(r.samples, d)
	r.sorted = false
	r.mu.Unlock()
}

// Count is how many latencies were recorded.
func (r *Recorder) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.samples)
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) by the nearest-rank method,
// or 0 without samples.
func (r *Recorder) Quantile(q float64) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.quantileLocked(q)
}

func (r *Recorder) quantileLocked(q float64) time.Duration {
	n := len(r.samples)
	if n == 0 {
		return 0
	}
	if !r.sorted {
		slices.Sort(r.samples)
		r.sorted = true
	}
	i := int(q*float64(n)+0.999999999) - 1 // nearest rank: ceil(q·n), 1-based
	return r.samples[min(max(i, 0), n-1)]
}

// Latency is the summary of a Recorder, in milliseconds.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50Ms"`
	P90   float64 `json:"p90Ms"`
	P99   float64 `json:"p99Ms"`
	P999  float64 `json:"p999Ms"`
	Max   float64 `json:"maxMs"`
}

// Summary returns the recorded latencies' quantiles.
func (r *Recorder) Summary() Latency {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Latency{Count: len(r.samples), P50: ms(r.quantileLocked(0.50)), P90: ms(r.quantileLocked(0.90)),
		P99: ms(r.quantileLocked(0.99)), P999: ms(r.quantileLocked(0.999)), Max: ms(r.quantileLocked(1))}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

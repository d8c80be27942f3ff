package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// sendFn sends message seq of a run, by worker, with at as its marker's
// send time. It returns when the target answered.
type sendFn func(ctx context.Context, worker int, seq int64, at time.Time) error

// errorPause is how long a sender waits after a failed send, so that a
// target that refuses everything is not hammered in a tight loop.
const errorPause = 10 * time.Millisecond

// closedLoop runs workers senders for warm+dur; each sends its next
// message as soon as the previous one was answered. The phase's window is
// the last dur. Closed-loop load finds the most a target accepts, but
// hides queueing (a slow answer delays the next send): it measures
// throughput, not latency.
func closedLoop(ctx context.Context, p *Phase, workers int, warm, dur time.Duration, send sendFn) {
	start := time.Now()
	end := start.Add(warm + dur)
	p.start(start.Add(warm))
	p.stop(end)
	defer p.sampleCPU(ctx)()
	var seq atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				at := time.Now()
				if !at.Before(end) {
					return
				}
				err := send(ctx, w, seq.Add(1)-1, at)
				p.acked(at, err)
				if err != nil {
					pause(ctx, errorPause)
				}
			}
		}()
	}
	wg.Wait()
}

// openLoop sends rate messages per second for warm+dur, on a fixed
// schedule that does not wait for answers: message i is due at
// start + i/rate, and its latency is measured from that time, not from
// when a sender got to it. A target that falls behind therefore shows its
// queueing in the latency (no coordinated omission). workers bounds the
// requests in flight; due messages beyond it wait, and that wait counts.
func openLoop(ctx context.Context, p *Phase, rate float64, workers int, warm, dur time.Duration, send sendFn) {
	if rate <= 0 {
		return
	}
	start := time.Now().Add(time.Millisecond)
	end := start.Add(warm + dur)
	p.start(start.Add(warm))
	p.stop(end)
	defer p.sampleCPU(ctx)()
	n := int64(rate * (warm + dur).Seconds())
	interval := float64(time.Second) / rate
	type job struct {
		seq int64
		at  time.Time
	}
	// Room for every message of the run: the schedule never blocks on
	// busy senders.
	jobs := make(chan job, min(n, 1<<20))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if ctx.Err() != nil {
					continue
				}
				p.acked(j.at, send(ctx, w, j.seq, j.at))
			}
		}()
	}
	for i := int64(0); i < n && ctx.Err() == nil; i++ {
		at := start.Add(time.Duration(float64(i) * interval))
		if d := time.Until(at); d > 0 {
			pause(ctx, d)
		}
		jobs <- job{seq: i, at: at}
	}
	close(jobs)
	wg.Wait()
}

// pause sleeps for d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// drain waits until every accepted message of p was received, for at most
// limit, and reports whether it was.
func drain(ctx context.Context, p *Phase, limit time.Duration) bool {
	return waitFor(ctx, limit, func() bool { return p.got.Load() >= p.sent.Load() })
}

// waitFor polls cond every few milliseconds until it holds (true) or limit
// passes (false). The bench waits on its own counters this way; the
// polling costs nothing measurable.
func waitFor(ctx context.Context, limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		pause(ctx, 5*time.Millisecond)
	}
	return true
}

// sampleCPU reads the process CPU time (when p.cpu is set) at the start
// and the end of p's window, on a goroutine of its own; the returned
// function waits for it.
func (p *Phase) sampleCPU(ctx context.Context) (wait func()) {
	if p.cpu == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		from, to := time.Unix(0, p.win.from.Load()), time.Unix(0, p.win.to.Load())
		pause(ctx, time.Until(from))
		c0 := p.cpu()
		pause(ctx, time.Until(to))
		p.cpuUsed = p.cpu() - c0
	}()
	return func() { <-done }
}

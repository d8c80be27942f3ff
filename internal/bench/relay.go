package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// runThroughput: Senders users send closed-loop to Bots bots; the rate is
// counted when the recording endpoint receives the callbacks.
func (r *runner) runThroughput(ctx context.Context) error {
	c := r.cfg
	p := r.ps.add("throughput")
	r.progress("throughput: %d senders → %d bots, closed loop, %s", c.Senders, c.Bots, c.Duration)
	if err := r.withProfile(ScenarioThroughput, func() {
		closedLoop(ctx, p, c.Senders, r.warm(), c.Duration, r.relaySend(r.api, p, r.senders, r.bots))
	}); err != nil {
		return err
	}
	drain(ctx, p, r.drainLimit())
	res := p.result()
	r.throughput = &res
	r.rep.Throughput = &ThroughputReport{Senders: c.Senders, Bots: c.Bots, Parley: res}
	r.progress("throughput: %.0f msg/s, send → callback p50 %.1f ms p99 %.1f ms", res.Rate, res.Latency.P50, res.Latency.P99)
	return nil
}

// runIsolation repeats the throughput load with one more bot that gets
// an average bot's share of the load (the baseline rate divided by Bots),
// on a fixed schedule from its own stallSenders users, so that the fast
// bots' senders are exactly those of the baseline. It runs twice: first
// with the extra bot healthy (the control: what the extra load alone
// costs), then with one whose endpoint answers after StallDelay.
// Afterwards the stalled bot is deleted (with its backlog) so that later
// scenarios start clean, and the baseline load runs once more: every phase
// adds rows to the database, which makes the next one a little slower, so
// the stalled run is compared with the baseline at its own place in the
// sequence, interpolated between the runs before and after it (atStalled),
// not with the first alone.
func (r *runner) runIsolation(ctx context.Context) error {
	c := r.cfg
	base := r.throughput
	if base == nil {
		if err := r.runThroughput(ctx); err != nil {
			return err
		}
		base = r.throughput
	}
	extraRate := max(1, base.Rate/float64(c.Bots))
	run := func(name, bot string, profile bool) (fast, extra *Phase, err error) {
		fast, extra = r.ps.add(name), r.ps.add(name+"-extra")
		load := func() {
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				openLoop(ctx, extra, extraRate, stallSenders, r.warm(), c.Duration, r.relaySend(r.api, extra, r.slowSenders, []string{bot}))
			}()
			closedLoop(ctx, fast, c.Senders, r.warm(), c.Duration, r.relaySend(r.api, fast, r.senders, r.bots))
			wg.Wait()
		}
		if profile {
			err = r.withProfile(ScenarioIsolation, load)
		} else {
			load()
		}
		return fast, extra, err
	}
	r.progress("isolation: the same load plus a healthy bot (%.0f msg/s to it), the control", extraRate)
	cf, ce, err := run("isolation-control", r.extraBot, false)
	if err != nil {
		return err
	}
	drain(ctx, cf, r.drainLimit())
	drain(ctx, ce, r.drainLimit())
	r.progress("isolation: the same load plus a bot answering after %s (%.0f msg/s to it)", c.StallDelay, extraRate)
	sf, se, perr := run("isolation", r.slowBot, true)
	// The stalled bot's backlog would hold up later phases: delete the bot
	// (and its deliveries), then let the held requests answer.
	derr := r.api.deleteBot(ctx, r.slowBot)
	r.ep.releaseSlow()
	drain(ctx, sf, r.drainLimit())
	waitFor(ctx, r.drainLimit(), r.ep.idle)
	r.progress("isolation: the baseline load again, %s", c.Duration)
	af := r.ps.add("isolation-baseline-after")
	closedLoop(ctx, af, c.Senders, r.warm(), c.Duration, r.relaySend(r.api, af, r.senders, r.bots))
	drain(ctx, af, r.drainLimit())
	control, res, sres, after := cf.result(), sf.result(), se.result(), af.result()
	rep := &IsolationReport{StallDelaySec: c.StallDelay.Seconds(), StalledRate: extraRate, Baseline: *base, BaselineAfter: after,
		Control: control, WithStalled: res, Stalled: sres, BaselineRate: atStalled(base.Rate, after.Rate)}
	if rep.BaselineRate > 0 {
		rep.ThroughputLossPct = 100 * (1 - res.Rate/rep.BaselineRate)
	}
	if control.Rate > 0 {
		rep.LossVsControlPct = 100 * (1 - res.Rate/control.Rate)
	}
	if p99 := atStalled(base.Latency.P99, after.Latency.P99); p99 > 0 {
		rep.P99Ratio = res.Latency.P99 / p99
	}
	r.rep.Isolation = rep
	r.progress("isolation: fast bots %.0f msg/s: %.1f%% lost vs the baseline (%.0f before, %.0f after), %.1f%% vs the control; p99 %.1f ms (baseline %.1f / %.1f ms); stalled bot got %d",
		res.Rate, rep.ThroughputLossPct, base.Rate, after.Rate, rep.LossVsControlPct, res.Latency.P99, base.Latency.P99, after.Latency.P99, sres.Received)
	return errors.Join(perr, derr)
}

// atStalled is a baseline figure at the stalled run's place in the
// sequence of equal phases (baseline, control, stalled, baseline again),
// interpolated linearly between the baseline before (phase 1) and after
// (phase 4): two thirds of the way.
func atStalled(before, after float64) float64 { return before + (after-before)*2/3 }

// runCeilingThroughput runs the throughput load through the forwarder.
func (r *runner) runCeilingThroughput(ctx context.Context) error {
	c := r.cfg
	p := r.ceilingPhase("ceiling-throughput")
	r.progress("ceiling: throughput load through two bare HTTP hops")
	closedLoop(ctx, p, c.Senders, r.warm(), c.Duration, r.relaySend(r.ceil, p, r.senders, r.bots))
	res := p.result()
	if r.rep.Throughput == nil {
		r.rep.Throughput = &ThroughputReport{Senders: c.Senders, Bots: c.Bots}
	}
	t := r.rep.Throughput
	t.Ceiling = &res
	if res.Rate > 0 {
		t.Ratio = t.Parley.Rate / res.Rate
	}
	r.progress("ceiling: %.0f msg/s, p99 %.1f ms", res.Rate, res.Latency.P99)
	return nil
}

// runLatency sends at each fixed rate, open loop, to parley and (unless
// skipped) through the forwarder.
func (r *runner) runLatency(ctx context.Context) error {
	c := r.cfg
	for _, rate := range c.Rates {
		p := r.ps.add("latency-" + strconv.Itoa(rate))
		r.progress("latency: %d msg/s for %s", rate, c.Duration)
		if err := r.withProfile(ScenarioLatency, func() {
			openLoop(ctx, p, float64(rate), c.Senders, r.warm(), c.Duration, r.relaySend(r.api, p, r.senders, r.bots))
		}); err != nil {
			return err
		}
		drain(ctx, p, r.drainLimit())
		rr := RateReport{Rate: rate, Parley: p.result()}
		r.progress("latency: %d msg/s: achieved %.0f, p50 %.1f ms p99 %.1f ms p99.9 %.1f ms", rate, rr.Parley.Rate,
			rr.Parley.Latency.P50, rr.Parley.Latency.P99, rr.Parley.Latency.P999)
		if r.runs(ScenarioCeiling) {
			cp := r.ceilingPhase("ceiling-latency-" + strconv.Itoa(rate))
			openLoop(ctx, cp, float64(rate), c.Senders, r.warm(), c.Duration, r.relaySend(r.ceil, cp, r.senders, r.bots))
			res := cp.result()
			rr.Ceiling = &res
			r.progress("latency: %d msg/s through the ceiling: p50 %.1f ms p99 %.1f ms", rate, res.Latency.P50, res.Latency.P99)
		}
		r.rep.Latency = append(r.rep.Latency, rr)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// runRoundTrip: rtUserCount users, each with a live WebSocket, send to the
// echo bot at RoundTripRate; the bot answers the callback at once and then
// replies through POST /v3/bots/{uid}/messages; the time is taken when the
// user's WebSocket receives the reply.
func (r *runner) runRoundTrip(ctx context.Context) error {
	c := r.cfg
	cb := r.ps.add("roundtrip-callback")
	rt := r.ps.addLinked("roundtrip", cb)
	r.rtPhase.Store(rt)
	defer r.rtPhase.Store(nil)
	clients := make([]*wsClient, len(r.rtUsers))
	defer func() { closeAll(nonNil(clients)) }()
	onFrame := func(b []byte) {
		if p, ok := findMarker(b, replyKey); ok {
			if ph := r.ps.get(p.phase); ph != nil {
				ph.received(p.sent, time.Now())
			}
		}
	}
	if err := parallel(ctx, 16, len(r.rtUsers), func(ctx context.Context, i int) error {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var err error
		clients[i], err = dialWS(dctx, r.wsHTTPClient(), r.t.URL, r.t.AppID, r.rtTokens[i], onFrame)
		return err
	}); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	r.progress("roundtrip: %d users → echo bot → reply → WebSocket, %d msg/s for %s", len(r.rtUsers), c.RoundTripRate, c.Duration)
	send := func(ctx context.Context, _ int, seq int64, at time.Time) error {
		u := r.rtUsers[seq%int64(len(r.rtUsers))]
		return r.api.sendText(ctx, u, r.echoBot, "user", marker(cb.ID, at, u), -1)
	}
	if err := r.withProfile(ScenarioRoundTrip, func() {
		openLoop(ctx, cb, float64(c.RoundTripRate), c.Senders, r.warm(), c.Duration, send)
	}); err != nil {
		return err
	}
	waitFor(ctx, r.drainLimit(), func() bool { return rt.got.Load()+rt.errors.Load() >= cb.sent.Load() })
	rep := &RoundTripReport{Rate: c.RoundTripRate, Users: len(r.rtUsers), Callback: cb.result(), RoundTrip: rt.result()}
	rep.RoundTrip.Sent = cb.sent.Load()
	if rep.RoundTrip.Sent > rep.RoundTrip.Received {
		rep.RoundTrip.Missing = rep.RoundTrip.Sent - rep.RoundTrip.Received
	}
	r.rep.RoundTrip = rep
	r.progress("roundtrip: p50 %.1f ms p99 %.1f ms (callback p99 %.1f ms)", rep.RoundTrip.Latency.P50, rep.RoundTrip.Latency.P99,
		rep.Callback.Latency.P99)
	return nil
}

func nonNil[T any](xs []*T) []*T {
	out := xs[:0:0]
	for _, x := range xs {
		if x != nil {
			out = append(out, x)
		}
	}
	return out
}

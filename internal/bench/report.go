package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything a run measured. It is written as JSON as is.
type Report struct {
	Started    string            `json:"started"`
	ElapsedSec float64           `json:"elapsedSec"`
	Machine    Machine           `json:"machine"`
	Target     string            `json:"target"`
	Config     ReportConfig      `json:"config"`
	Throughput *ThroughputReport `json:"throughput,omitempty"`
	Isolation  *IsolationReport  `json:"isolation,omitempty"`
	Latency    []RateReport      `json:"latency,omitempty"`
	RoundTrip  *RoundTripReport  `json:"roundTrip,omitempty"`
	Fanout     *FanoutReport     `json:"fanout,omitempty"`
	Conns      *ConnsReport      `json:"conns,omitempty"`
	Idle       *IdleReport       `json:"idle,omitempty"`
	Targets    []TargetCheck     `json:"targets"`
	// CPUScope says whose CPU time the cpuUsPerMsg figures count.
	CPUScope string   `json:"cpuScope,omitempty"`
	Profile  string   `json:"cpuProfile,omitempty"`
	Errors   []string `json:"errors,omitempty"`
}

// Machine describes where the run happened. Load averages before and
// after show whether other work shared the machine.
type Machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	Go         string `json:"go"`
	LoadBefore string `json:"loadavgBefore,omitempty"`
	LoadAfter  string `json:"loadavgAfter,omitempty"`
}

// ReportConfig is the configuration the run used.
type ReportConfig struct {
	DurationSec   float64  `json:"durationSec"`
	WarmupSec     float64  `json:"warmupSec"`
	Senders       int      `json:"senders"`
	Bots          int      `json:"bots"`
	Rates         []int    `json:"rates"`
	RoundTripRate int      `json:"roundTripRate"`
	StallDelaySec float64  `json:"stallDelaySec"`
	GroupSize     int      `json:"groupSize"`
	Conns         int      `json:"conns"`
	Skip          []string `json:"skip,omitempty"`
}

func reportConfig(c Config) ReportConfig {
	return ReportConfig{DurationSec: c.Duration.Seconds(), WarmupSec: max(250*time.Millisecond, c.Duration/6).Seconds(),
		Senders: c.Senders, Bots: c.Bots, Rates: c.Rates, RoundTripRate: c.RoundTripRate, StallDelaySec: c.StallDelay.Seconds(),
		GroupSize: c.GroupSize, Conns: c.Conns, Skip: c.Skip}
}

// ThroughputReport is the closed-loop relay and its ceiling.
type ThroughputReport struct {
	Senders int     `json:"senders"`
	Bots    int     `json:"bots"`
	Parley  Result  `json:"parley"`
	Ceiling *Result `json:"ceiling,omitempty"`
	Ratio   float64 `json:"ratioToCeiling,omitempty"`
}

// IsolationReport compares the fast bots with and without a stalled bot.
type IsolationReport struct {
	StallDelaySec     float64 `json:"stallDelaySec"`
	StalledRate       float64 `json:"stalledBotMsgsPerSec"` // load sent to the stalled bot
	Baseline          Result  `json:"baseline"`             // the throughput phase, before
	BaselineAfter     Result  `json:"baselineAfter"`        // the same load once more, after the stalled run
	BaselineRate      float64 `json:"baselineMsgsPerSec"`   // at the stalled run's place, between the two (atStalled)
	Control           Result  `json:"control"`              // the same with the extra bot healthy
	WithStalled       Result  `json:"withStalled"`
	Stalled           Result  `json:"stalledBot"`
	ThroughputLossPct float64 `json:"throughputLossPct"` // the fast bots', vs BaselineRate
	LossVsControlPct  float64 `json:"lossVsControlPct"`  // the fast bots', vs the control
	P99Ratio          float64 `json:"p99Ratio"`          // vs the baselines' p99 at the stalled run's place
}

// RateReport is one fixed-rate latency phase.
type RateReport struct {
	Rate    int     `json:"rate"`
	Parley  Result  `json:"parley"`
	Ceiling *Result `json:"ceiling,omitempty"`
}

// RoundTripReport is user → bot → reply → user's WebSocket.
type RoundTripReport struct {
	Rate      int    `json:"rate"`
	Users     int    `json:"users"`
	Callback  Result `json:"callback"`  // send → callback
	RoundTrip Result `json:"roundTrip"` // send → reply on the WebSocket
}

// FanoutReport is one message to a group with every member connected.
type FanoutReport struct {
	Members    int     `json:"members"`
	Messages   int     `json:"messages"`
	Complete   int     `json:"complete"` // messages every member received
	ConnectSec float64 `json:"connectSec"`
	AllMembers Latency `json:"allMembers"` // send → the last member has it
	OneMember  Latency `json:"oneMember"`  // send → a member has it
}

// ConnsReport is the cost of idle WebSocket connections.
type ConnsReport struct {
	Conns             int     `json:"conns"`
	OpenSec           float64 `json:"openSec"`
	BytesPerConn      float64 `json:"bytesPerConn,omitempty"`
	HeapPerConn       float64 `json:"heapBytesPerConn,omitempty"`
	StackPerConn      float64 `json:"stackBytesPerConn,omitempty"`
	GoroutinesPerConn float64 `json:"goroutinesPerConn,omitempty"`
	RSSPerConn        float64 `json:"rssBytesPerConn,omitempty"`
	Method            string  `json:"method"`
}

// TargetCheck is one of the targets and whether this run met it.
type TargetCheck struct {
	Name  string `json:"name"`
	Goal  string `json:"goal"`
	Value string `json:"value"`
	Met   bool   `json:"met"`
	// Measured is the figure the goal is about, in Unit; Lower tells
	// whether lower is better (for best-of-several summaries).
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit"`
	Lower    bool    `json:"lowerIsBetter"`
}

// Targets of the performance issue.
const (
	targetCeilingShare = 0.5       // relay throughput ≥ half the two-hop ceiling
	targetP99Rate      = 2000      // …the rate the p99 goal is set at
	targetP99          = 10.0      // ms, send → callback
	targetRoundTripP99 = 20.0      // ms
	targetStallLoss    = 10.0      // % of the fast bots' throughput
	targetIdleRSS      = 40.0      // MB
	targetConnBytes    = 16 * 1024 // per idle WebSocket
	rateTolerance      = 0.97      // an achieved rate below this share of the asked one fails the latency goal
)

func checkTargets(r *Report) []TargetCheck {
	var out []TargetCheck
	if t := r.Throughput; t != nil && t.Ceiling != nil {
		out = append(out, TargetCheck{Name: "relay throughput", Goal: "≥ 50% of the two-hop ceiling",
			Value: fmt.Sprintf("%.0f of %.0f msg/s (%.0f%%)", t.Parley.Rate, t.Ceiling.Rate, 100*t.Ratio), Met: t.Ratio >= targetCeilingShare,
			Measured: 100 * t.Ratio, Unit: "% of the ceiling"})
	}
	for _, l := range r.Latency {
		if l.Rate != targetP99Rate {
			continue
		}
		ok := l.Parley.Latency.P99 <= targetP99 && l.Parley.Rate >= rateTolerance*float64(l.Rate) && l.Parley.Missing == 0
		out = append(out, TargetCheck{Name: "p99 send → callback at 2,000 msg/s", Goal: "≤ 10 ms",
			Value: fmt.Sprintf("%.1f ms (achieved %.0f msg/s)", l.Parley.Latency.P99, l.Parley.Rate), Met: ok,
			Measured: l.Parley.Latency.P99, Unit: "ms", Lower: true})
	}
	if rt := r.RoundTrip; rt != nil {
		out = append(out, TargetCheck{Name: fmt.Sprintf("round trip p99 at %d msg/s", rt.Rate), Goal: "≤ 20 ms",
			Value: fmt.Sprintf("%.1f ms", rt.RoundTrip.Latency.P99), Met: rt.RoundTrip.Latency.P99 <= targetRoundTripP99 && rt.RoundTrip.Missing == 0,
			Measured: rt.RoundTrip.Latency.P99, Unit: "ms", Lower: true})
	}
	if iso := r.Isolation; iso != nil {
		out = append(out, TargetCheck{Name: "one stalled bot", Goal: "< 10% of the others' throughput",
			Value: fmt.Sprintf("%.1f%% lost (%.1f%% vs a healthy extra bot; p99 ×%.2f)", iso.ThroughputLossPct, iso.LossVsControlPct, iso.P99Ratio),
			Met:   iso.ThroughputLossPct < targetStallLoss, Measured: iso.ThroughputLossPct, Unit: "% lost", Lower: true})
	}
	if r.Idle != nil {
		out = append(out, TargetCheck{Name: "idle server", Goal: "< 40 MB resident",
			Value: fmt.Sprintf("%.1f MB", r.Idle.RSSMB), Met: r.Idle.RSSMB < targetIdleRSS, Measured: r.Idle.RSSMB, Unit: "MB", Lower: true})
	}
	if c := r.Conns; c != nil && (c.BytesPerConn > 0 || c.RSSPerConn > 0) {
		v := c.BytesPerConn
		if v == 0 {
			v = c.RSSPerConn
		}
		out = append(out, TargetCheck{Name: "idle WebSocket", Goal: "< 16 KB each",
			Value: fmt.Sprintf("%.1f KiB", v/1024), Met: v < targetConnBytes, Measured: v / 1024, Unit: "KiB", Lower: true})
	}
	return out
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable prints the report for a terminal.
func (r *Report) WriteTable(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("parley bench\t%s, %d CPUs (GOMAXPROCS %d), %s; load avg before %s, after %s; %.0f s", r.Target, r.Machine.CPUs,
		r.Machine.GOMAXPROCS, r.Machine.Go, r.Machine.LoadBefore, r.Machine.LoadAfter, r.ElapsedSec)
	c := r.Config
	p("config\t%.1f s per phase (+%.2f s warm-up), %d senders, %d bots", c.DurationSec, c.WarmupSec, c.Senders, c.Bots)
	p("")
	p("scenario\tmsg/s\tp50 ms\tp99 ms\tp99.9 ms\tCPU µs/msg\tceiling msg/s\tceiling p99 ms\tceiling CPU\tvs ceiling")
	if t := r.Throughput; t != nil {
		row(p, fmt.Sprintf("relay throughput (%d senders → %d bots)", t.Senders, t.Bots), t.Parley, t.Ceiling)
	}
	if iso := r.Isolation; iso != nil {
		row(p, fmt.Sprintf("  same, plus a healthy bot (%.0f msg/s)", iso.StalledRate), iso.Control, nil)
		row(p, "  same, plus a bot answering after "+fmt.Sprint(iso.StallDelaySec)+" s", iso.WithStalled, nil)
		row(p, "  baseline again, after it", iso.BaselineAfter, nil)
		p("  stalled bot cost\t%.1f%% of throughput (%.1f%% vs the healthy bot)\tp99 ×%.2f\t\t\t\t\t\t\t",
			iso.ThroughputLossPct, iso.LossVsControlPct, iso.P99Ratio)
	}
	for _, l := range r.Latency {
		row(p, fmt.Sprintf("send → callback at %d msg/s", l.Rate), l.Parley, l.Ceiling)
	}
	if rt := r.RoundTrip; rt != nil {
		row(p, fmt.Sprintf("round trip at %d msg/s (%d users)", rt.Rate, rt.Users), rt.RoundTrip, nil)
		row(p, "  of which send → callback", rt.Callback, nil)
	}
	if f := r.Fanout; f != nil {
		p("fan-out to %d members (%d/%d complete)\t\t%.1f\t%.1f\t(max)\t\t\t\t\t", f.Members, f.Complete, f.Messages, f.AllMembers.P50, f.AllMembers.Max)
		p("  send → one member\t\t%.1f\t%.1f\t%.1f\t\t\t\t\t", f.OneMember.P50, f.OneMember.P99, f.OneMember.P999)
	}
	if cn := r.Conns; cn != nil {
		p("")
		p("idle WebSockets\t%d open in %.1f s: %.1f KiB each (heap %.1f KiB, stacks %.1f KiB, %.1f goroutines); RSS %.1f KiB each",
			cn.Conns, cn.OpenSec, cn.BytesPerConn/1024, cn.HeapPerConn/1024, cn.StackPerConn/1024, cn.GoroutinesPerConn, cn.RSSPerConn/1024)
	}
	if i := r.Idle; i != nil {
		p("idle server\t%.1f MB resident after %.0f s (peak %.1f MB)", i.RSSMB, i.Settle, i.PeakRSSMB)
	}
	if len(r.Targets) > 0 {
		p("")
		p("target\tgoal\tthis run\t")
		for _, t := range r.Targets {
			mark := "met"
			if !t.Met {
				mark = "MISSED"
			}
			p("%s\t%s\t%s\t%s", t.Name, t.Goal, t.Value, mark)
		}
	}
	for _, e := range r.Errors {
		p("error\t%s", e)
	}
	if r.CPUScope != "" {
		p("CPU µs/msg\tCPU time of %s, per message received", r.CPUScope)
	}
	if r.Profile != "" {
		p("cpu profile\t%s (go tool pprof -top %s)", r.Profile, r.Profile)
	}
	return w.Flush()
}

func row(p func(string, ...any), name string, res Result, ceil *Result) {
	cols := []string{name, fmt.Sprintf("%.0f", res.Rate), f1(res.Latency.P50), f1(res.Latency.P99), f1(res.Latency.P999), cpu(res)}
	if ceil != nil {
		ratio := ""
		if ceil.Rate > 0 {
			ratio = fmt.Sprintf("%.0f%% rate", 100*res.Rate/ceil.Rate)
		}
		if ceil.Latency.P99 > 0 {
			ratio += fmt.Sprintf(", p99 ×%.1f", res.Latency.P99/ceil.Latency.P99)
		}
		cols = append(cols, fmt.Sprintf("%.0f", ceil.Rate), f1(ceil.Latency.P99), cpu(*ceil), ratio)
	} else {
		cols = append(cols, "", "", "", "")
	}
	if res.Missing > 0 || res.Errors > 0 {
		cols[0] += fmt.Sprintf(" [%d missing, %d errors]", res.Missing, res.Errors)
	}
	p("%s", strings.Join(cols, "\t"))
}

func f1(v float64) string { return fmt.Sprintf("%.1f", v) }

func cpu(r Result) string {
	if r.CPUPerMsg == 0 {
		return ""
	}
	return fmt.Sprintf("%.0f", r.CPUPerMsg)
}

package bench

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// Summary condenses several runs: on a shared machine one run is noisy,
// so figures are reported as the best and the median of several.
type Summary struct {
	Runs    int             `json:"runs"`
	Figures []FigureSummary `json:"figures"`
}

// FigureSummary is one figure over the runs.
type FigureSummary struct {
	Name   string    `json:"name"`
	Unit   string    `json:"unit"`
	Lower  bool      `json:"lowerIsBetter"`
	Best   float64   `json:"best"`
	Median float64   `json:"median"`
	Values []float64 `json:"values"`
	Goal   string    `json:"goal,omitempty"` // for the targets
	Met    int       `json:"met,omitempty"`  // runs that met it
}

// figure is one number of a report.
type figure struct {
	name, unit string
	lower      bool
	v          float64
}

// figures lists the headline numbers of a report, targets first.
func figures(r *Report) []figure {
	var out []figure
	add := func(name, unit string, lower bool, v float64) { out = append(out, figure{name, unit, lower, v}) }
	if t := r.Throughput; t != nil {
		add("relay: messages per second", "msg/s", false, t.Parley.Rate)
		add("relay CPU per message", "µs", true, t.Parley.CPUPerMsg)
		if t.Ceiling != nil {
			add("ceiling: messages per second", "msg/s", false, t.Ceiling.Rate)
			add("ceiling CPU per message", "µs", true, t.Ceiling.CPUPerMsg)
		}
	}
	if iso := r.Isolation; iso != nil {
		add("with a stalled bot: fast bots' throughput", "msg/s", false, iso.WithStalled.Rate)
		add("stalled bot cost vs a healthy extra bot", "% lost", true, iso.LossVsControlPct)
	}
	for _, l := range r.Latency {
		add(fmt.Sprintf("achieved rate at %d msg/s", l.Rate), "msg/s", false, l.Parley.Rate)
		add(fmt.Sprintf("p50 send → callback at %d msg/s", l.Rate), "ms", true, l.Parley.Latency.P50)
		add(fmt.Sprintf("p99 send → callback at %d msg/s", l.Rate), "ms", true, l.Parley.Latency.P99)
		add(fmt.Sprintf("p99.9 send → callback at %d msg/s", l.Rate), "ms", true, l.Parley.Latency.P999)
		if l.Ceiling != nil {
			add(fmt.Sprintf("ceiling p99 at %d msg/s", l.Rate), "ms", true, l.Ceiling.Latency.P99)
		}
	}
	if rt := r.RoundTrip; rt != nil {
		add("round trip p50", "ms", true, rt.RoundTrip.Latency.P50)
	}
	if f := r.Fanout; f != nil {
		add(fmt.Sprintf("fan-out to %d members, p50", f.Members), "ms", true, f.AllMembers.P50)
		add(fmt.Sprintf("fan-out to %d members, max", f.Members), "ms", true, f.AllMembers.Max)
	}
	return out
}

// Summarize condenses reports of runs with the same configuration.
func Summarize(reps []*Report) *Summary {
	s := &Summary{Runs: len(reps)}
	index := map[string]int{}
	put := func(name, unit string, lower bool, v float64, goal string, met bool) {
		i, ok := index[name]
		if !ok {
			i = len(s.Figures)
			index[name] = i
			s.Figures = append(s.Figures, FigureSummary{Name: name, Unit: unit, Lower: lower, Goal: goal})
		}
		f := &s.Figures[i]
		f.Values = append(f.Values, v)
		if met {
			f.Met++
		}
	}
	for _, r := range reps {
		for _, t := range r.Targets {
			put(t.Name, t.Unit, t.Lower, t.Measured, t.Goal, t.Met)
		}
		for _, f := range figures(r) {
			put(f.name, f.unit, f.lower, f.v, "", false)
		}
	}
	for i := range s.Figures {
		f := &s.Figures[i]
		sorted := slices.Clone(f.Values)
		slices.Sort(sorted)
		f.Median = sorted[len(sorted)/2]
		if len(sorted)%2 == 0 {
			f.Median = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
		}
		f.Best = sorted[len(sorted)-1]
		if f.Lower {
			f.Best = sorted[0]
		}
	}
	return s
}

// WriteTable prints the summary.
func (s *Summary) WriteTable(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "summary of %d runs\tbest\tmedian\tunit\tgoal\tmet in\n", s.Runs)
	for _, f := range s.Figures {
		met := ""
		if f.Goal != "" {
			met = fmt.Sprintf("%d of %d", f.Met, len(f.Values))
		}
		fmt.Fprintf(w, "%s\t%.1f\t%.1f\t%s\t%s\t%s\n", f.Name, f.Best, f.Median, f.Unit, f.Goal, met)
	}
	return w.Flush()
}

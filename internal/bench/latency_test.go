package bench

import (
	"testing"
	"time"
)

func TestRecorderQuantiles(t *testing.T) {
	t.Parallel()
	var r Recorder
	if r.Quantile(0.99) != 0 {
		t.Fatal("empty recorder has a quantile")
	}
	for i := 1000; i >= 1; i-- { // 1..1000 ms, added out of order
		r.Add(time.Duration(i) * time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 500, 0.99: 990, 0.999: 999, 1: 1000, 0: 1} {
		if got := r.Quantile(q); got != want*time.Millisecond {
			t.Errorf("q%v = %v, want %v ms", q, got, want)
		}
	}
	s := r.Summary()
	if s.Count != 1000 || s.P50 != 500 || s.P99 != 990 || s.Max != 1000 {
		t.Errorf("summary %+v", s)
	}
}

func TestMarker(t *testing.T) {
	t.Parallel()
	at := time.Unix(1764050000, 123456789)
	body := []byte(`{"data":{"text":"` + marker(7, at, "rt3") + `","entities":{}}}`)
	p, ok := findMarker(body, markerKey)
	if !ok || p.phase != 7 || p.sent != at.UnixNano() || p.tag != "rt3" {
		t.Fatalf("parsed %+v %v", p, ok)
	}
	for _, bad := range []string{`{"text":"hello"}`, `{"text":"pb|x|1|"}`, `{"text":"pb|1`, `{"text":"pb|1"}`} {
		if _, ok := findMarker([]byte(bad), markerKey); ok {
			t.Errorf("%s parsed", bad)
		}
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	rep := func(ratio, p99 float64) *Report {
		r := &Report{Throughput: &ThroughputReport{Parley: Result{Rate: ratio * 100}, Ceiling: &Result{Rate: 100}, Ratio: ratio},
			Latency: []RateReport{{Rate: 2000, Parley: Result{Rate: 2000, Latency: Latency{P99: p99}}}}}
		r.Targets = checkTargets(r)
		return r
	}
	s := Summarize([]*Report{rep(0.4, 30), rep(0.6, 8), rep(0.5, 12)})
	got := map[string]FigureSummary{}
	for _, f := range s.Figures {
		got[f.Name] = f
	}
	if f := got["relay throughput"]; f.Best != 60 || f.Median != 50 || f.Met != 2 || len(f.Values) != 3 {
		t.Errorf("relay throughput %+v", f)
	}
	if f := got["p99 send → callback at 2,000 msg/s"]; f.Best != 8 || f.Median != 12 || f.Met != 1 {
		t.Errorf("p99 %+v", f)
	}
	if f := got["relay: messages per second"]; f.Best != 60 || f.Median != 50 {
		t.Errorf("rate %+v", f)
	}
}

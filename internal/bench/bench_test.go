package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"parley/internal/bench"
	"parley/internal/config"
	"parley/internal/server"
)

// TestRunTiny runs every scenario but the idle-memory one (it starts the
// parley binary, which a test does not have) with a tiny load against a
// real server, and checks that each produced figures. It asserts no timing.
func TestRunTiny(t *testing.T) {
	t.Parallel()
	cfg := config.Serve{Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "parley.db"), WebhookAllow: "127.0.0.0/8"}
	srv, err := server.OpenWith(t.Context(), cfg, slog.New(slog.DiscardHandler), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server shutdown: %v", err)
		}
	})

	var progress bytes.Buffer
	bc := bench.Config{Duration: 200 * time.Millisecond, Senders: 4, Bots: 2, Rates: []int{50}, RoundTripRate: 20,
		StallDelay: 100 * time.Millisecond, GroupSize: 5, FanoutMessages: 2, Conns: 20, Skip: []string{bench.ScenarioIdle},
		Progress: &progress}
	rep, err := bench.Run(t.Context(), bc, bench.Target{URL: "http://" + srv.Addr(), AppID: srv.FirstApp.App.ID,
		APIKey: srv.FirstApp.RESTAPIKey, InProcess: true, PID: os.Getpid(),
		LiveConns: func() int { n, _ := srv.Hub.Stats(); return n }, Description: "test"})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	if len(rep.Errors) > 0 {
		t.Fatalf("scenario errors: %v\n%s", rep.Errors, progress.String())
	}
	tp := rep.Throughput
	if tp == nil || tp.Parley.Received == 0 || tp.Parley.Missing != 0 || tp.Ceiling == nil || tp.Ceiling.Received == 0 {
		t.Errorf("throughput: %+v", tp)
	}
	if iso := rep.Isolation; iso == nil || iso.WithStalled.Received == 0 || iso.Stalled.Received == 0 || iso.BaselineAfter.Received == 0 ||
		iso.BaselineRate != iso.Baseline.Rate+(iso.BaselineAfter.Rate-iso.Baseline.Rate)*2/3 {
		t.Errorf("isolation: %+v", iso)
	}
	if len(rep.Latency) != 1 || rep.Latency[0].Parley.Latency.Count == 0 || rep.Latency[0].Parley.Missing != 0 {
		t.Errorf("latency: %+v", rep.Latency)
	}
	if rt := rep.RoundTrip; rt == nil || rt.RoundTrip.Latency.Count == 0 || rt.RoundTrip.Missing != 0 {
		t.Errorf("round trip: %+v", rt)
	}
	if f := rep.Fanout; f == nil || f.Complete != 2 || f.OneMember.Count != 2*5 {
		t.Errorf("fan-out: %+v", f)
	}
	if c := rep.Conns; c == nil || c.Conns != 20 || c.BytesPerConn == 0 {
		t.Errorf("conns: %+v", c)
	}
	if len(rep.Targets) == 0 {
		t.Error("no targets checked")
	}
	var table, js bytes.Buffer
	if err := rep.WriteTable(&table); err != nil || !bytes.Contains(table.Bytes(), []byte("relay throughput")) {
		t.Errorf("table: %v\n%s", err, table.String())
	}
	if err := rep.WriteJSON(&js); err != nil || !json.Valid(js.Bytes()) {
		t.Errorf("json: %v", err)
	}
}

// TestLoopbackOnly refuses targets that are not on loopback.
func TestLoopbackOnly(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://10.0.0.1:8080", "http://example.com", "https://127.0.0.1:1", "ftp://127.0.0.1"} {
		if _, err := bench.Run(t.Context(), bench.Config{}, bench.Target{URL: u, AppID: "a", APIKey: "k"}); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"parley/internal/bench"
	"parley/internal/config"
	"parley/internal/server"
)

const benchSynopsis = "parley bench [--duration 3s] [--senders 64] [--bots 16] [--rates 500,2000] [--conns 10000] " +
	"[--group-size 1000] [--skip LIST] [--repeat N] [--json FILE] [--cpuprofile FILE [--profile SCENARIO]] [--memprofile FILE] [--url URL --app-id ID --api-key KEY [--pid PID]]"

// benchCmd runs `parley bench`: by default against a server it starts in
// this process (fresh SQLite database in a temporary directory, durable
// settings unchanged, callbacks allowed to loopback), or against a running
// server on loopback with --url.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", benchSynopsis, stdout)
	d := bench.DefaultConfig()
	cfg := d
	fs.DurationVar(&cfg.Duration, "duration", d.Duration, "measured length of each load phase (each warms up for a sixth of it first)")
	fs.IntVar(&cfg.Senders, "senders", d.Senders, "concurrent senders (users) of the relay load")
	fs.IntVar(&cfg.Bots, "bots", d.Bots, "bots receiving the relay load")
	rates := fs.String("rates", joinInts(d.Rates), "fixed rates (messages per second) of the latency phases, comma-separated")
	fs.IntVar(&cfg.RoundTripRate, "rt-rate", d.RoundTripRate, "fixed rate of the round-trip phase")
	fs.DurationVar(&cfg.StallDelay, "stall", d.StallDelay, "how long the stalled bot of the isolation phase takes to answer")
	fs.IntVar(&cfg.GroupSize, "group-size", d.GroupSize, "members (each with a live WebSocket) of the fan-out group")
	fs.IntVar(&cfg.FanoutMessages, "fanout-messages", d.FanoutMessages, "messages timed in the fan-out phase")
	fs.IntVar(&cfg.Conns, "conns", d.Conns, "idle WebSockets of the memory phase")
	skip := fs.String("skip", "", "scenarios not to run, comma-separated: "+strings.Join(bench.Scenarios, ","))
	jsonFile := fs.String("json", "parley-bench.json", "write the report as JSON to FILE (\"\" for none)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of this process during the load of --profile to FILE")
	fs.StringVar(&cfg.ProfileScenario, "profile", bench.ScenarioThroughput, "scenario the CPU profile covers: throughput, isolation, latency (last rate) or roundtrip")
	fs.StringVar(&cfg.MemProfile, "memprofile", "", "write a heap profile of this process to FILE while the idle WebSockets of the conns phase are open")
	target := fs.String("url", "", "bench a running server at this loopback URL instead of one in this process")
	appID := fs.String("app-id", "", "with --url: the app id")
	apiKey := fs.String("api-key", "", "with --url: a fullAccess REST API key")
	pid := fs.Int("pid", 0, "with --url: the server's process id, to measure its memory per connection")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	repeat := fs.Int("repeat", 1, "run everything N times (a fresh server each time) and summarize the best and the median")
	hold := fs.Bool("hold-conns", false, "internal: hold idle WebSockets for the bench process that started this one")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *hold {
		return bench.HoldConns(ctx, os.Stdin, stdout)
	}
	var err error
	if cfg.Rates, err = parseInts(*rates); err != nil {
		return fmt.Errorf("%w: bench: --rates: %v", errUsage, err)
	}
	if *skip != "" {
		cfg.Skip = strings.Split(*skip, ",")
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	exe, xerr := os.Executable()
	if xerr != nil {
		exe = "" // the idle-memory figure is skipped
	}

	if *target != "" && (*appID == "" || *apiKey == "") {
		return fmt.Errorf("%w: bench: --url needs --app-id and --api-key (and the server must run with --webhook-allow 127.0.0.0/8)", errUsage)
	}
	if *repeat < 1 {
		return fmt.Errorf("%w: bench: --repeat must be at least 1", errUsage)
	}
	var reps []*bench.Report
	for i := range *repeat {
		if *repeat > 1 {
			fmt.Fprintf(stdout, "== run %d of %d\n", i+1, *repeat)
		}
		var rep *bench.Report
		if *target != "" {
			rep, err = bench.Run(ctx, cfg, bench.Target{URL: *target, AppID: *appID, APIKey: *apiKey, PID: *pid, Exe: exe,
				Description: "parley at " + *target})
		} else {
			rep, err = benchInProcess(ctx, cfg, exe, stderr)
		}
		if rep == nil {
			return err
		}
		if terr := rep.WriteTable(stdout); terr != nil {
			return terr
		}
		reps = append(reps, rep)
		if err != nil {
			break
		}
		fmt.Fprintln(stdout)
	}
	var out any = reps[0]
	if len(reps) > 1 {
		sum := bench.Summarize(reps)
		if terr := sum.WriteTable(stdout); terr != nil {
			return terr
		}
		out = struct {
			Summary *bench.Summary  `json:"summary"`
			Runs    []*bench.Report `json:"runs"`
		}{sum, reps}
	}
	if *jsonFile != "" {
		if werr := writeJSONFile(*jsonFile, out); werr != nil {
			return errors.Join(err, werr)
		}
		fmt.Fprintf(stdout, "\nreport written to %s\n", *jsonFile)
	}
	return err
}

// benchInProcess runs the bench against a server started in this process
// on 127.0.0.1:0 with a fresh SQLite database in a temporary directory,
// durable settings unchanged, callbacks allowed to loopback.
func benchInProcess(ctx context.Context, cfg bench.Config, exe string, stderr io.Writer) (*bench.Report, error) {
	dir, err := os.MkdirTemp("", "parley-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	scfg := config.Serve{Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(dir, "parley.db"), WebhookAllow: "127.0.0.0/8"}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	srv, err := server.OpenWith(ctx, scfg, log, server.Options{})
	if err != nil {
		return nil, err
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(sctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			fmt.Fprintf(stderr, "parley: bench: server shutdown: %v\n", err)
		}
	}()
	return bench.Run(ctx, cfg, bench.Target{URL: "http://" + srv.Addr(), AppID: srv.FirstApp.App.ID, APIKey: srv.FirstApp.RESTAPIKey,
		InProcess: true, PID: os.Getpid(), Exe: exe,
		LiveConns:   func() int { n, _ := srv.Hub.Stats(); return n },
		Description: "in-process parley, SQLite (WAL, every commit fsynced before it is answered) in a fresh temporary directory"})
}

func writeJSONFile(path string, v any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func parseInts(s string) ([]int, error) {
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(strings.ReplaceAll(part, "_", ""))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", part)
		}
		out = append(out, n)
	}
	return out, nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

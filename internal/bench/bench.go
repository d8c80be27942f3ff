package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Scenario names, for Config.Skip.
const (
	ScenarioThroughput = "throughput" // closed-loop relay to many bots
	ScenarioIsolation  = "isolation"  // the same with one stalled bot
	ScenarioCeiling    = "ceiling"    // the same loads through two bare HTTP hops
	ScenarioLatency    = "latency"    // fixed rates, send → callback
	ScenarioRoundTrip  = "roundtrip"  // user → bot → reply → user's WebSocket
	ScenarioFanout     = "fanout"     // one message to a group with live members
	ScenarioConns      = "conns"      // memory per idle WebSocket
	ScenarioIdle       = "idle"       // RSS of a fresh parley serve
)

// Scenarios lists every scenario in the order they run.
var Scenarios = []string{ScenarioThroughput, ScenarioIsolation, ScenarioCeiling, ScenarioLatency, ScenarioRoundTrip,
	ScenarioFanout, ScenarioConns, ScenarioIdle}

// Config is what to measure and how hard.
type Config struct {
	// Duration is the measured length of each load phase; each phase
	// also warms up for a sixth of it (at least 250 ms) first.
	Duration time.Duration
	// Senders is how many users send at once (closed loop), and how many
	// requests an open-loop phase may have in flight.
	Senders int
	// Bots is how many bots receive the relay load.
	Bots int
	// Rates are the fixed rates (messages per second) of the latency
	// phases.
	Rates []int
	// RoundTripRate is the fixed rate of the round-trip phase.
	RoundTripRate int
	// StallDelay is how long the stalled bot of the isolation phase takes
	// to answer.
	StallDelay time.Duration
	// GroupSize is the member count of the fan-out group; FanoutMessages
	// how many messages are timed.
	GroupSize      int
	FanoutMessages int
	// Conns is how many idle WebSockets the memory phase opens.
	Conns int
	// Skip names scenarios not to run.
	Skip []string
	// CPUProfile, when set, is a file that receives a CPU profile of this
	// process during the load of the ProfileScenario (throughput,
	// isolation, latency or roundtrip; default throughput), against
	// parley, not the ceiling.
	CPUProfile      string
	ProfileScenario string
	// MemProfile, when set, is a file that receives a heap profile of this
	// process taken in the conns phase while the idle WebSockets are open
	// (in-process targets only). Every allocation of that phase is
	// sampled (runtime.MemProfileRate 1 from its start), so the in-use
	// figures are exact; `go tool pprof -sample_index=inuse_space`.
	MemProfile string
	// Progress receives one line per step; nil discards.
	Progress io.Writer
}

// DefaultConfig is the configuration of a plain `parley bench`: about
// 45 seconds on a 2-core machine.
func DefaultConfig() Config {
	return Config{Duration: 3 * time.Second, Senders: 64, Bots: 16, Rates: []int{500, 2000}, RoundTripRate: 200,
		StallDelay: 2 * time.Second, GroupSize: 1000, FanoutMessages: 10, Conns: 10000}
}

// Target is the server under test.
type Target struct {
	// URL is the server's base URL (http://127.0.0.1:PORT); it must be a
	// loopback address.
	URL    string
	AppID  string
	APIKey string
	// InProcess is true when the server runs in this process: its Go heap
	// and stacks can then be read directly.
	InProcess bool
	// PID is the server's process id, for its resident memory (0: not
	// known; the memory per connection is then not measured unless
	// InProcess).
	PID int
	// LiveConns returns the server's live WebSocket count (nil: unknown).
	LiveConns func() int
	// Exe is a parley binary to start for the idle-memory figure ("":
	// skip it).
	Exe string
	// Description says what the target is, for the report.
	Description string
}

// Run measures target and returns the report. Only scenarios not in
// cfg.Skip run; a scenario that fails is reported in Report.Errors and the
// others still run.
func Run(ctx context.Context, cfg Config, t Target) (*Report, error) {
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	base, err := loopbackBase(t.URL)
	if err != nil {
		return nil, err
	}
	t.URL = base
	r := &runner{cfg: cfg, t: t, ps: &phases{}, log: cfg.Progress, started: time.Now()}
	if r.log == nil {
		r.log = io.Discard
	}
	r.rep = &Report{Started: r.started.UTC().Format(time.RFC3339), Machine: machine(), Target: t.Description, Config: reportConfig(cfg)}
	switch {
	case t.InProcess:
		r.ps.cpu = selfCPU
		r.rep.CPUScope = "this process: server, load generator, bot endpoint and ceiling"
	case t.PID > 0:
		r.ps.cpu = procCPU(t.PID)
		r.rep.CPUScope = fmt.Sprintf("the server (pid %d); not measured for the ceiling", t.PID)
	}
	r.rep.Machine.LoadBefore = loadAvg()
	if err := r.setup(ctx); err != nil {
		r.close()
		return nil, err
	}
	for _, s := range Scenarios {
		if !r.runs(s) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if err := r.scenario(ctx, s); err != nil {
			r.progress("%s: %v", s, err)
			r.rep.Errors = append(r.rep.Errors, s+": "+err.Error())
		}
	}
	r.close()
	r.rep.Machine.LoadAfter = loadAvg()
	r.rep.ElapsedSec = time.Since(r.started).Seconds()
	r.rep.Targets = checkTargets(r.rep)
	return r.rep, ctx.Err()
}

func checkConfig(c *Config) error {
	d := DefaultConfig()
	if c.Duration <= 0 {
		c.Duration = d.Duration
	}
	if c.Senders <= 0 {
		c.Senders = d.Senders
	}
	if c.Bots <= 0 {
		c.Bots = d.Bots
	}
	if c.RoundTripRate <= 0 {
		c.RoundTripRate = d.RoundTripRate
	}
	if c.StallDelay <= 0 {
		c.StallDelay = d.StallDelay
	}
	if c.FanoutMessages <= 0 {
		c.FanoutMessages = d.FanoutMessages
	}
	if c.ProfileScenario == "" {
		c.ProfileScenario = ScenarioThroughput
	}
	if !slices.Contains([]string{ScenarioThroughput, ScenarioIsolation, ScenarioLatency, ScenarioRoundTrip}, c.ProfileScenario) {
		return fmt.Errorf("cannot profile scenario %q: choose throughput, isolation, latency or roundtrip", c.ProfileScenario)
	}
	if c.GroupSize < 2 {
		c.GroupSize = 2
	}
	for _, s := range c.Skip {
		if !slices.Contains(Scenarios, s) {
			return fmt.Errorf("unknown scenario %q (known: %s)", s, strings.Join(Scenarios, ", "))
		}
	}
	for _, rate := range c.Rates {
		if rate <= 0 {
			return fmt.Errorf("rate %d: rates must be positive", rate)
		}
	}
	return nil
}

// loopbackBase checks that raw is an http URL of a loopback address and
// returns it as http://IP:PORT: the bench sends traffic nowhere else.
func loopbackBase(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return "", fmt.Errorf("target URL %q: want http://127.0.0.1:PORT", raw)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("target URL %q: the bench only sends traffic to loopback addresses", raw)
	}
	return "http://" + net.JoinHostPort(ip.String(), port), nil
}

// runner holds the state shared by the scenarios of one run.
type runner struct {
	cfg     Config
	t       Target
	ps      *phases
	log     io.Writer
	rep     *Report
	started time.Time

	api  *api // the target
	ep   *Endpoint
	fwd  *Forwarder
	ceil *api // the forwarder

	prefix      string   // of every uid this run creates
	senders     []string // users that send the relay load
	bots        []string // fast bots
	botURLs     []string
	slowBot     string   // answers after StallDelay
	extraBot    string   // the healthy bot of the isolation control
	slowSenders []string // send to slowBot or extraBot
	echoBot     string
	rtUsers     []string
	rtTokens    []string
	members     []string // fan-out group members and idle-connection users
	tokens      []string // their auth tokens
	group       string

	rtPhase atomic.Pointer[Phase] // where the echo bot's replies are recorded

	throughput *Result // the baseline of the isolation scenario
}

func (r *runner) runs(s string) bool { return !slices.Contains(r.cfg.Skip, s) }

func (r *runner) progress(format string, args ...any) {
	fmt.Fprintf(r.log, "bench %5.1fs  %s\n", time.Since(r.started).Seconds(), fmt.Sprintf(format, args...))
}

// ceilingPhase registers a phase of the ceiling: its CPU is only
// measured in-process, where the forwarder shares the process.
func (r *runner) ceilingPhase(name string) *Phase {
	p := r.ps.add(name)
	if !r.t.InProcess {
		p.cpu = nil
	}
	return p
}

// warm is the warm-up before each phase's window.
func (r *runner) warm() time.Duration { return max(250*time.Millisecond, r.cfg.Duration/6) }

// drainLimit bounds how long a phase waits for its last messages.
func (r *runner) drainLimit() time.Duration { return max(10*time.Second, 2*r.cfg.Duration) }

// stallSenders is how many conversations carry the stalled bot's load:
// enough that its lanes can fill its whole in-flight cap (16 by default).
const stallSenders = 32

// rtUsers is how many users (each with a WebSocket) send the round-trip
// load.
const rtUserCount = 16

func (r *runner) setup(ctx context.Context) error {
	c := r.cfg
	// Every sender, endpoint and client keeps keep-alive connections to
	// its peer; the limit covers the relay's senders, the stalled bot's,
	// and the setup's parallel calls.
	conns := c.Senders + stallSenders + 64
	r.api = &api{base: r.t.URL, appID: r.t.AppID, key: r.t.APIKey, client: newHTTPClient(conns)}
	r.ep = newEndpoint(r.ps)
	r.prefix = "b" + strconv.FormatInt(time.Now().UnixMilli()%(36*36*36*36*36), 36) + "-"
	r.progress("setup: %d senders, %d bots, target %s", c.Senders, c.Bots, r.t.URL)

	for i := range c.Senders {
		r.senders = append(r.senders, r.prefix+"s"+strconv.Itoa(i))
	}
	for i := range c.Bots {
		r.bots = append(r.bots, r.prefix+"bot"+strconv.Itoa(i))
		u, err := r.ep.add(botSpec{kind: botFast})
		if err != nil {
			return err
		}
		r.botURLs = append(r.botURLs, u)
	}
	users := slices.Clone(r.senders)
	users = append(users, r.bots...)
	type botDef struct{ uid, url string }
	var defs []botDef
	for i, b := range r.bots {
		defs = append(defs, botDef{b, r.botURLs[i]})
	}
	if r.runs(ScenarioIsolation) {
		r.slowBot, r.extraBot = r.prefix+"stalled", r.prefix+"extra"
		u, err := r.ep.add(botSpec{kind: botSlow, delay: c.StallDelay})
		if err != nil {
			return err
		}
		e, err := r.ep.add(botSpec{kind: botFast})
		if err != nil {
			return err
		}
		defs = append(defs, botDef{r.slowBot, u}, botDef{r.extraBot, e})
		users = append(users, r.slowBot, r.extraBot)
		for i := range stallSenders {
			r.slowSenders = append(r.slowSenders, r.prefix+"x"+strconv.Itoa(i))
		}
		users = append(users, r.slowSenders...)
	}
	if r.runs(ScenarioRoundTrip) {
		r.echoBot = r.prefix + "echo"
		u, err := r.ep.add(botSpec{kind: botReply, reply: r.echo})
		if err != nil {
			return err
		}
		defs = append(defs, botDef{r.echoBot, u})
		users = append(users, r.echoBot)
	}
	if err := parallel(ctx, 32, len(users), func(ctx context.Context, i int) error {
		_, err := r.api.createUser(ctx, users[i], false)
		return err
	}); err != nil {
		return err
	}
	if err := parallel(ctx, 16, len(defs), func(ctx context.Context, i int) error {
		return r.api.createBot(ctx, defs[i].uid, defs[i].url)
	}); err != nil {
		return err
	}
	// Users with auth tokens, for WebSockets.
	if r.runs(ScenarioRoundTrip) {
		for i := range rtUserCount {
			r.rtUsers = append(r.rtUsers, r.prefix+"rt"+strconv.Itoa(i))
		}
		r.rtTokens = make([]string, len(r.rtUsers))
		if err := parallel(ctx, 16, len(r.rtUsers), func(ctx context.Context, i int) error {
			var err error
			r.rtTokens[i], err = r.api.createUser(ctx, r.rtUsers[i], true)
			return err
		}); err != nil {
			return err
		}
	}
	n := 0
	if r.runs(ScenarioFanout) {
		n = c.GroupSize
	}
	if r.runs(ScenarioConns) {
		n = max(n, c.Conns)
	}
	if n > 0 {
		start := time.Now()
		r.members = make([]string, n)
		r.tokens = make([]string, n)
		for i := range n {
			r.members[i] = r.prefix + "m" + strconv.Itoa(i)
		}
		if err := parallel(ctx, 64, n, func(ctx context.Context, i int) error {
			var err error
			r.tokens[i], err = r.api.createUser(ctx, r.members[i], true)
			return err
		}); err != nil {
			return err
		}
		r.progress("setup: %d users with auth tokens in %.1fs", n, time.Since(start).Seconds())
	}
	if r.runs(ScenarioFanout) {
		r.group = r.prefix + "fan"
		if err := r.api.createGroup(ctx, r.group, r.members[0], r.members[:c.GroupSize]); err != nil {
			return err
		}
	}
	if r.runs(ScenarioCeiling) {
		var err error
		if r.fwd, err = newForwarder(r.botURLs, c.Senders+16); err != nil {
			return err
		}
		r.ceil = &api{base: r.fwd.URL, appID: r.t.AppID, key: r.t.APIKey, client: newHTTPClient(conns)}
	}
	r.progress("setup done")
	return nil
}

func (r *runner) close() {
	if r.fwd != nil {
		_ = r.fwd.Close()
		r.ceil.client.CloseIdleConnections()
	}
	if r.ep != nil {
		_ = r.ep.Close()
	}
	if r.api != nil {
		r.api.client.CloseIdleConnections()
	}
}

func (r *runner) scenario(ctx context.Context, s string) error {
	switch s {
	case ScenarioThroughput:
		return r.runThroughput(ctx)
	case ScenarioIsolation:
		return r.runIsolation(ctx)
	case ScenarioCeiling:
		return r.runCeilingThroughput(ctx)
	case ScenarioLatency:
		return r.runLatency(ctx)
	case ScenarioRoundTrip:
		return r.runRoundTrip(ctx)
	case ScenarioFanout:
		return r.runFanout(ctx)
	case ScenarioConns:
		return r.runConns(ctx)
	case ScenarioIdle:
		if r.t.Exe == "" {
			return errors.New("no parley binary to start")
		}
		r.progress("idle: starting a fresh parley serve")
		idle, err := measureIdle(ctx, r.t.Exe)
		if err != nil {
			return err
		}
		r.rep.Idle = idle
		r.progress("idle: %.1f MB resident", idle.RSSMB)
		return nil
	}
	return nil
}

// withProfile runs fn under a CPU profile when one was asked for this
// scenario. The latency scenario runs one load per rate; the profile
// written last, of the last rate, is the one kept.
func (r *runner) withProfile(scenario string, fn func()) error {
	if r.cfg.CPUProfile == "" || scenario != r.cfg.ProfileScenario {
		fn()
		return nil
	}
	f, err := os.Create(r.cfg.CPUProfile)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	fn()
	pprof.StopCPUProfile()
	r.rep.Profile = r.cfg.CPUProfile
	return f.Close()
}

func machine() Machine {
	return Machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		Go: runtime.Version()}
}

// relaySend sends relay messages: message seq goes from sender seq mod S
// to bot (seq / S) mod B, so that every (sender, bot) conversation is used.
func (r *runner) relaySend(a *api, p *Phase, senders, bots []string) sendFn {
	return func(ctx context.Context, _ int, seq int64, at time.Time) error {
		s := int(seq % int64(len(senders)))
		b := int(seq / int64(len(senders)) % int64(len(bots)))
		return a.sendText(ctx, senders[s], bots[b], "user", marker(p.ID, at, ""), b)
	}
}

// echo is the round-trip bot's work: reply through the API to the user
// named in the marker, with the same send time.
func (r *runner) echo(ctx context.Context, p parsed) error {
	rt := r.rtPhase.Load()
	if rt == nil {
		return nil
	}
	return r.api.botSay(ctx, r.echoBot, p.tag, "re|"+strconv.Itoa(rt.ID)+"|"+strconv.FormatInt(p.sent, 10)+"|"+p.tag)
}

// wsHTTPClient returns the client used to dial WebSockets.
func (r *runner) wsHTTPClient() *http.Client { return r.api.client }

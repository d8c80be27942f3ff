// Package server is parley's composition root: it opens the database, wires
// the use cases, the real-time hub and the API, serves HTTP, and shuts
// everything down in order. Nothing imports it but cmd/parley and tests.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"parley/internal/api"
	"parley/internal/app"
	"parley/internal/cluster"
	"parley/internal/config"
	"parley/internal/dispatch"
	"parley/internal/realtime"
	"parley/internal/store"
	"parley/internal/version"
	"parley/internal/web"
	"parley/internal/webhook"
)

// Shutdown bounds: how long in-flight requests and WebSocket connections get
// to finish after SIGINT/SIGTERM before they are cut.
const (
	shutdownGrace   = 10 * time.Second
	readHeaderLimit = 10 * time.Second  // slow-loris bound on request headers
	idleTimeout     = 120 * time.Second // keep-alive connections without requests
	// readyTimeout bounds /readyz's database check: a database slower
	// than that is reported not ready.
	readyTimeout = 2 * time.Second
)

// readyReason is what /readyz says of a failed check: the kind of failure,
// never the driver's text (which may name hosts or users).
func readyReason(err error) string {
	if errors.Is(err, store.ErrSchemaBehind) {
		return "database schema is not at this version's migrations"
	}
	return "database unreachable"
}

// defaultNodeName names a node HOSTNAME-PID-RANDOM: readable in logs and
// leases, and distinct for two processes started on one host.
func defaultNodeName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	return fmt.Sprintf("%s-%d-%04x", host, os.Getpid(), rand.Uint32()&0xffff)
}

// FirstAppName is the name of the app created on the very first start.
const FirstAppName = "My first app"

// Server is a running parley: listener, HTTP server, hub, delivery engine,
// use cases, store.
type Server struct {
	DB       *store.DB
	App      *app.App
	Hub      *realtime.Hub
	Engine   *dispatch.Engine
	FirstApp *app.NewApp // set when this start created the first app

	// Dashboard (internal/web).
	Admins *app.Admins
	// FirstAdminPassword is the password of the account "admin", set when
	// this start created it (shown once).
	FirstAdminPassword string
	web                *web.Server

	log     *slog.Logger
	ln      net.Listener
	http    *http.Server
	metrics *metrics
	fanout  *cluster.Fanout // nil on SQLite (one node)
	node    *cluster.Node   // nil on SQLite (one node)
}

// Open prepares a server: it opens and migrates the database, creates the
// first app when there is none, and binds the listen address. Run serves.
func Open(ctx context.Context, cfg config.Serve, log *slog.Logger) (*Server, error) {
	return OpenWith(ctx, cfg, log, Options{})
}

// Options tune what the command line does not expose (tests shorten the
// delivery engine's timings with them).
type Options struct {
	Dispatch dispatch.Config
	// Admin tunes the dashboard accounts (tests lower the password hash
	// cost).
	Admin app.AdminConfig
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, cfg config.Serve, log *slog.Logger, opt Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, cfg.DB, store.Options{Logger: log, Serve: true})
	if err != nil {
		return nil, err
	}
	s := &Server{DB: db, log: log}
	allow, _ := webhook.ParseAllowList(cfg.WebhookAllow) // validated above
	guard := webhook.NewGuard(allow)
	acfg := app.DefaultConfig()
	if cfg.HopLimit > 0 {
		acfg.HopLimit = cfg.HopLimit
	}
	acfg.Node = cfg.Node
	if acfg.Node == "" {
		acfg.Node = defaultNodeName()
	}
	if cfg.NodeLease > 0 {
		acfg.NodeLease = cfg.NodeLease
	}
	acfg.PlainHTTPAllowed = func(host string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return guard.AllowsPlainHTTP(ctx, host, nil)
	}
	s.App = app.New(db, acfg, log)
	s.Hub = realtime.New(realtime.Config{}, s.App, s.App, log)
	s.App.SetPublisher(s.Hub)
	if db.Clustered() {
		// Events reach this node's connections through the outbox, like
		// every other node's (internal/cluster).
		if s.fanout, err = cluster.Open(ctx, db, s.Hub, log); err != nil {
			db.Close()
			return nil, err
		}
		// Registered before serving: presence is recorded for a
		// registered node only.
		if s.node, err = cluster.Join(ctx, s.App, s.Hub, acfg.NodeLease, log); err != nil {
			db.Close()
			return nil, fmt.Errorf("join the cluster: %w", err)
		}
		log.Info("cluster node", "node", acfg.Node, "lease", acfg.NodeLease)
	}
	dcfg := opt.Dispatch
	if dcfg.Lease == 0 {
		dcfg.Lease = cfg.DeliveryLease
	}
	dcfg.UserAgent = "parley/" + version.Version
	dcfg.Node = acfg.Node
	s.metrics = newMetrics(s.App)
	s.Engine = dispatch.New(s.App, webhook.NewClient(guard, webhook.ClientConfig{}), dcfg, s.metrics.dispatch(), log)
	s.App.SetNotifier(s.Engine)
	// Listen before creating the first app and account: their secrets are
	// shown once, by a start that goes on to serve.
	s.ln, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, errors.Unwrap(err))
	}
	fail := func(err error) (*Server, error) {
		s.ln.Close()
		db.Close()
		return nil, err
	}
	if s.FirstApp, err = s.App.EnsureFirstApp(ctx, FirstAppName); err != nil {
		return fail(fmt.Errorf("create the first app: %w", err))
	}
	// Dashboard: accounts and pages (templates are parsed here, so a broken
	// template stops the start).
	s.Admins = app.NewAdmins(s.App, opt.Admin)
	if s.FirstAdminPassword, err = s.Admins.EnsureFirstAdmin(ctx); err != nil {
		return fail(fmt.Errorf("create the first dashboard account: %w", err))
	}
	if s.FirstAdminPassword != "" {
		// Hashing the password (argon2id) took 19 MiB once; give it back
		// to the system now rather than whenever the runtime gets to it,
		// so that a freshly started server stays small.
		debug.FreeOSMemory()
	}
	if s.web, err = web.New(s.App, s.Admins, web.Config{}, log); err != nil {
		return fail(err)
	}
	// End of dashboard.
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderLimit,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Handler is every HTTP route of the process.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	a := api.New(s.App, s.Hub, s.log)
	// The REST API owns /v3/ (its own 404 answers unknown /v3 paths); the
	// dashboard owns every other path.
	mux.Handle("/v3/", a)
	mux.Handle("/", s.web)
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n")) //nolint:errcheck
	})
	// Ready: the database answers and its schema is this binary's. A load
	// balancer sends traffic only to ready nodes.
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := s.DB.Ready(ctx); err != nil {
			s.log.Warn("readyz: not ready", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: " + readyReason(err) + "\n")) //nolint:errcheck
			return
		}
		w.Write([]byte("ready\n")) //nolint:errcheck
	})
	return mux
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx ends, then shuts down: stop accepting, let in-flight
// requests finish, close WebSocket connections, close the database (which
// first commits the writes already queued).
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	engineCtx, stopEngine := context.WithCancel(context.Background())
	engineDone := make(chan error, 1)
	go func() { engineDone <- s.Engine.Run(engineCtx) }()
	fanoutDone := make(chan error, 1)
	if s.fanout != nil {
		go func() { fanoutDone <- s.fanout.Run(engineCtx) }()
	} else {
		fanoutDone <- nil
	}
	nodeDone := make(chan error, 1)
	if s.node != nil {
		go func() { nodeDone <- s.node.Run(engineCtx) }()
	} else {
		nodeDone <- nil
	}
	hubDone := make(chan error, 1)
	go func() { hubDone <- s.Hub.Run(engineCtx) }()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := s.http.Shutdown(sctx)
	if serveErr == nil {
		<-errc // Serve returns ErrServerClosed once Shutdown begins
	}
	// The engine stops claiming and lets attempts in flight finish (each
	// within its timeout) before the database closes.
	stopEngine()
	if eerr := <-engineDone; eerr != nil {
		err = errors.Join(err, fmt.Errorf("delivery engine: %w", eerr))
	}
	if ferr := <-fanoutDone; ferr != nil {
		err = errors.Join(err, fmt.Errorf("real-time fan-out: %w", ferr))
	}
	<-nodeDone // Run only ends with its context
	<-hubDone  // idem
	if herr := s.Hub.Shutdown(sctx); herr != nil {
		err = errors.Join(err, fmt.Errorf("close websockets: %w", herr))
	}
	// What the connections' offline reports left (or failed to record)
	// ends now rather than when this node's lease runs out.
	if lerr := s.App.LeaveCluster(sctx); lerr != nil {
		s.log.Warn("leave the cluster: this node's users show offline when its lease runs out", "err", lerr)
	}
	if derr := s.DB.Close(); derr != nil {
		err = errors.Join(err, fmt.Errorf("close database: %w", derr))
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return errors.Join(serveErr, err)
	}
	return err
}

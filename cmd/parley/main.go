// Command parley is a self-hosted chat platform whose headline feature is
// custom bots. See `parley help`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"time"

	"parley/internal/app"
	"parley/internal/chat"
	"parley/internal/config"
	"parley/internal/server"
	"parley/internal/store"
	"parley/internal/version"
)

const usage = `parley: a self-hosted chat platform with custom bots.

Usage:
  parley serve [--addr HOST:PORT] [--db URL]     run the server (migrates first)
  parley migrate [--db URL]                      apply pending database migrations
  parley apps create --name NAME [--region us|eu|in] [--json] [--db URL]
                                                 create an app and its keys
  parley admin set-password [--username admin] [--db URL]
                                                 set a dashboard password (read from stdin)
  parley copy --from URL --to URL [--replace]    copy a whole database, for example
                                                 from SQLite to PostgreSQL
  parley bench [--url URL] [--duration D] ...    measure relay, latency, fan-out, memory
  parley version                                 print the version
  parley help                                    show this help

Database URLs: sqlite:PATH, or postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=...
Environment: PARLEY_ADDR (default 127.0.0.1:8080), PARLEY_DB (default
sqlite:./parley-data/parley.db). Flags win over the environment.
Run "parley COMMAND -h" for a command's flags.
`

// gcPercent is the garbage collector's target when GOGC is not set: the
// heap may grow to four times what is live before a cycle, instead of
// twice. A relayed message allocates about 25 KB, and at the default the
// collector took a fifth of the CPU under load; at 300 the relay runs
// 10-16% faster (docs/performance.md, change 14), for a heap that peaks
// higher under load. Idle memory is unchanged: little is live.
const gcPercent = 300

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks errors that are the user's input; they exit 2.
var errUsage = errors.New("usage")

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, env config.Getenv, stdout, stderr io.Writer) int {
	return runIO(ctx, args, env, os.Stdin, stdout, stderr)
}

// runIO is run with standard input given (parley admin set-password reads
// the password from it).
func runIO(ctx context.Context, args []string, env config.Getenv, stdin io.Reader, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, env, stdin, stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "parley: %s\n", strings.TrimPrefix(err.Error(), "usage: "))
		return 2
	default:
		fmt.Fprintf(stderr, "parley: %s\n", describe(err))
		return 1
	}
}

// describe renders an error for the terminal: a domain error by its message
// and per-field details, anything else as is.
func describe(err error) string {
	ce := chat.AsError(err)
	if ce == nil {
		return err.Error()
	}
	msg := ce.Message
	fields := make([]string, 0, len(ce.Details))
	for f := range ce.Details {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		msg += " " + strings.Join(ce.Details[f], " ")
	}
	return msg
}

func dispatch(ctx context.Context, args []string, env config.Getenv, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], env, stdout, stderr)
	case "migrate":
		return migrate(ctx, args[1:], env, stdout)
	case "copy":
		return copyDB(ctx, args[1:], stdout)
	case "apps":
		if len(args) < 2 || args[1] != "create" {
			if len(args) >= 2 && (args[1] == "-h" || args[1] == "--help" || args[1] == "help") {
				fmt.Fprint(stdout, "Usage: parley apps create --name NAME [--region us|eu|in] [--json] [--db URL]\n")
				return nil
			}
			return fmt.Errorf("%w: unknown apps command; try: parley apps create --name NAME", errUsage)
		}
		return appsCreate(ctx, args[2:], env, stdout, stderr)
	case "admin":
		return adminCommand(ctx, args[1:], env, stdin, stdout, stderr)
	case "bench":
		return benchCmd(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "parley %s\n", version.Version)
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return fmt.Errorf("%w: unknown command %q; run parley help", errUsage, args[0])
	}
}

// newFlags returns a flag set that reports errors as one line.
func newFlags(name, synopsis string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "Usage: %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err // the flag package has printed the usage
		}
		return fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: %s: unexpected argument %q", errUsage, fs.Name(), fs.Arg(0))
	}
	return nil
}

func serve(ctx context.Context, args []string, env config.Getenv, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "parley serve [--addr HOST:PORT] [--db URL]", stdout)
	cfg := config.BindServe(fs, env)
	if err := parse(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := server.Open(ctx, *cfg, log)
	if err != nil {
		return err
	}
	base := "http://" + dialable(srv.Addr())
	if srv.FirstApp != nil {
		printFirstStart(stdout, base, srv.FirstApp)
	}
	if srv.FirstAdminPassword != "" {
		printFirstAdmin(stdout, base, srv.FirstAdminPassword)
	}
	log.Info("parley is serving", "url", base, "db", store.Redact(cfg.DB), "version", version.Version)
	return srv.Run(ctx)
}

// dialable turns a listen address into one a client can reach.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func printFirstStart(w io.Writer, base string, a *app.NewApp) {
	fmt.Fprintf(w, `
First start: parley created the app %q. The keys are shown only now; keep them.

  App ID:        %s
  Region:        %s
  REST API key:  %s   (fullAccess: everything; keep it on servers)
  Auth key:      %s   (authOnly: create users and auth tokens)

Try it:
  curl -s %s/v3/users -H 'appId: %s' -H 'apiKey: %s' -H 'Content-Type: application/json' -d '{"uid":"alice","name":"Alice"}'

`, a.App.Name, a.App.ID, a.App.Region, a.RESTAPIKey, a.AuthKey, base, a.App.ID, a.RESTAPIKey)
}

func appsCreate(ctx context.Context, args []string, env config.Getenv, stdout, stderr io.Writer) error {
	fs := newFlags("apps create", "parley apps create --name NAME [--region us|eu|in] [--json] [--db URL]", stdout)
	dbc := config.BindDB(fs, env)
	name := fs.String("name", "", "the app's name (required)")
	region := fs.String("region", "us", "the app's region label: us, eu or in")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return fmt.Errorf("%w: apps create: --name is required", errUsage)
	}
	db, err := store.Open(ctx, dbc.DB, store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	a := app.New(db, app.DefaultConfig(), slog.New(slog.NewTextHandler(stderr, nil)))
	na, err := a.CreateApp(ctx, *name, *region)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]string{
			"appId": na.App.ID, "region": na.App.Region, "restApiKey": na.RESTAPIKey, "authKey": na.AuthKey,
		})
	}
	fmt.Fprintf(stdout, "Created app %q\n  App ID:        %s\n  Region:        %s\n  REST API key:  %s\n  Auth key:      %s\n",
		na.App.Name, na.App.ID, na.App.Region, na.RESTAPIKey, na.AuthKey)
	return nil
}

func migrate(ctx context.Context, args []string, env config.Getenv, stdout io.Writer) error {
	fs := newFlags("migrate", "parley migrate [--db URL]", stdout)
	dbc := config.BindDB(fs, env)
	if err := parse(fs, args); err != nil {
		return err
	}
	res, err := store.Migrate(ctx, dbc.DB, store.Options{})
	for _, name := range res.Applied {
		fmt.Fprintf(stdout, "applied %s\n", name)
	}
	if err != nil {
		return err
	}
	if len(res.Applied) == 0 {
		fmt.Fprintf(stdout, "database schema is up to date (version %d)\n", res.Version)
	} else {
		fmt.Fprintf(stdout, "database schema is at version %d\n", res.Version)
	}
	return nil
}

// copyDB copies every row of one database into another
// (docs/postgresql.md: moving from SQLite to PostgreSQL).
func copyDB(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("copy", "parley copy --from URL --to URL [--replace]", stdout)
	from := fs.String("from", "", "the database to copy, such as sqlite:./parley-data/parley.db (required; it must exist)")
	to := fs.String("to", "", "the database to fill, such as postgres://parley@db.internal/parley (required; migrated first)")
	replace := fs.Bool("replace", false, "delete every row of the target first (without it, a target holding data is refused)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return fmt.Errorf("%w: copy: --from and --to are required", errUsage)
	}
	if *from == *to {
		return fmt.Errorf("%w: copy: --from and --to name the same database", errUsage)
	}
	src, err := store.Open(ctx, *from, store.Options{MustExist: true})
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	dst, err := store.Open(ctx, *to, store.Options{})
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer dst.Close()
	start := time.Now()
	counts, err := store.Copy(ctx, src, dst, store.CopyOptions{Replace: *replace})
	if ce := chat.AsError(err); ce != nil && ce.Code == store.ErrTargetNotEmpty {
		return fmt.Errorf("%s: %s (--replace deletes them first)", store.Redact(*to), ce.Message)
	}
	if err != nil {
		return err
	}
	var total int64
	for _, c := range counts {
		fmt.Fprintf(stdout, "%-20s %8d rows\n", c.Table, c.Rows)
		total += c.Rows
	}
	fmt.Fprintf(stdout, "copied %d rows from %s (%s) to %s (%s) in %s\n", total, store.Redact(*from), src.Engine(), store.Redact(*to), dst.Engine(),
		time.Since(start).Round(time.Millisecond))
	return nil
}

// Package config is parley's one typed configuration: defaults, then
// environment variables, then flags, then validation. Only cmd/parley reads
// the environment and passes it in.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"parley/internal/webhook"
)

// Defaults.
const (
	DefaultAddr = "127.0.0.1:8080"
	DefaultDB   = "sqlite:./parley-data/parley.db"
)

// Serve is the configuration of `parley serve`.
type Serve struct {
	Addr string // listen address, host:port
	DB   string // database URL
	// WebhookAllow lists address ranges (CIDRs) bot callbacks may reach
	// although they are private or loopback; plain http is accepted there.
	WebhookAllow string
	// HopLimit bounds bot-to-bot chains; 0 means DefaultHopLimit.
	HopLimit int
	// DeliveryLease is how long past its attempt timeout a delivery
	// claimed by a node stays taken: a dead node's deliveries are taken
	// over after it. 0 means the engine's default. Environment only
	// (PARLEY_DELIVERY_LEASE, a Go duration): an operations knob.
	DeliveryLease time.Duration
	leaseErr      error
	// Node names this process among the nodes sharing a PostgreSQL
	// database (delivery leases, presence, logs); "" means
	// HOSTNAME-PID-RANDOM. Names must differ between live nodes.
	Node string
	// NodeLease is how long a node counts as alive after its last
	// heartbeat: the users of a node that died show as offline about that
	// long after. 0 means the default (app.DefaultNodeLease). Environment
	// only (PARLEY_NODE_LEASE, a Go duration).
	NodeLease    time.Duration
	nodeLeaseErr error
}

// DB is the configuration of commands that only need the database.
type DB struct {
	DB string
}

// Getenv is os.Getenv, passed in so that tests control the environment.
type Getenv func(string) string

// BindServe registers serve's flags on fs with env-aware defaults.
func BindServe(fs *flag.FlagSet, env Getenv) *Serve {
	c := &Serve{}
	fs.StringVar(&c.Addr, "addr", envOr(env, "PARLEY_ADDR", DefaultAddr), "listen address host:port (env PARLEY_ADDR)")
	fs.StringVar(&c.DB, "db", envOr(env, "PARLEY_DB", DefaultDB), "database URL: sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB (env PARLEY_DB)")
	fs.StringVar(&c.WebhookAllow, "webhook-allow", envOr(env, "PARLEY_WEBHOOK_ALLOW", ""),
		"CIDR[,CIDR...] private or loopback ranges bot callbacks may reach, with plain http (env PARLEY_WEBHOOK_ALLOW)")
	hop, _ := strconv.Atoi(envOr(env, "PARLEY_BOT_HOP_LIMIT", strconv.Itoa(DefaultHopLimit)))
	fs.IntVar(&c.HopLimit, "bot-hop-limit", hop, "bot-to-bot messages relayed in a chain before it stops (env PARLEY_BOT_HOP_LIMIT)")
	fs.StringVar(&c.Node, "node", envOr(env, "PARLEY_NODE", ""),
		"this node's name among several on one PostgreSQL database (default HOSTNAME-PID-RANDOM) (env PARLEY_NODE)")
	c.DeliveryLease, c.leaseErr = parseLease("PARLEY_DELIVERY_LEASE", envOr(env, "PARLEY_DELIVERY_LEASE", ""))
	c.NodeLease, c.nodeLeaseErr = parseLease("PARLEY_NODE_LEASE", envOr(env, "PARLEY_NODE_LEASE", ""))
	return c
}

// DefaultHopLimit is the default of --bot-hop-limit.
const DefaultHopLimit = 3

// BindDB registers the --db flag.
func BindDB(fs *flag.FlagSet, env Getenv) *DB {
	c := &DB{}
	fs.StringVar(&c.DB, "db", envOr(env, "PARLEY_DB", DefaultDB), "database URL: sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB (env PARLEY_DB)")
	return c
}

// Validate checks the serve configuration.
func (c *Serve) Validate() error {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("invalid --addr %q: want host:port, for example 127.0.0.1:8080", c.Addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("invalid --addr %q: the port must be a number from 0 to 65535", c.Addr)
	}
	if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		if _, err := net.LookupHost(host); err != nil {
			return fmt.Errorf("invalid --addr %q: unknown host %s", c.Addr, host)
		}
	}
	if c.DB == "" {
		return errors.New("--db is empty")
	}
	if c.leaseErr != nil {
		return c.leaseErr
	}
	if c.nodeLeaseErr != nil {
		return c.nodeLeaseErr
	}
	if len(c.Node) > 100 || strings.ContainsFunc(c.Node, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("invalid --node %q: at most 100 characters, without spaces or control characters", c.Node)
	}
	if c.HopLimit < 0 || c.HopLimit > 100 {
		return fmt.Errorf("invalid --bot-hop-limit %d: must be from 1 to 100", c.HopLimit)
	}
	if _, err := webhook.ParseAllowList(c.WebhookAllow); err != nil {
		return fmt.Errorf("invalid --webhook-allow: %v", err)
	}
	return nil
}

func parseLease(name, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second || d > time.Hour {
		return 0, fmt.Errorf("invalid %s %q: want a duration from 1s to 1h, for example 30s", name, v)
	}
	return d, nil
}

func envOr(env Getenv, key, def string) string {
	if env != nil {
		if v := env(key); v != "" {
			return v
		}
	}
	return def
}

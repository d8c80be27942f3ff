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
	fs.StringVar(&c.DB, "db", envOr(env, "PARLEY_DB", DefaultDB), "database URL, sqlite:PATH (env PARLEY_DB)")
	return c
}

// BindDB registers the --db flag.
func BindDB(fs *flag.FlagSet, env Getenv) *DB {
	c := &DB{}
	fs.StringVar(&c.DB, "db", envOr(env, "PARLEY_DB", DefaultDB), "database URL, sqlite:PATH (env PARLEY_DB)")
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
	return nil
}

func envOr(env Getenv, key, def string) string {
	if env != nil {
		if v := env(key); v != "" {
			return v
		}
	}
	return def
}

// Package storetest gives tests a fresh, empty database of either engine,
// so that every suite can run on SQLite and on PostgreSQL and tests can
// run in parallel. It is test support: it reads the test environment
// (below), which production code never does.
//
//   - PARLEY_TEST_POSTGRES: the URL of a PostgreSQL server on which tests
//     may create and drop databases, such as
//     postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable.
//     scripts/test starts a throwaway server and sets it. Without it,
//     PostgreSQL tests are skipped.
//   - PARLEY_TEST_ENGINE: the engine of the end-to-end suites, "sqlite"
//     (the default) or "postgres".
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// Environment variables read by this package.
const (
	PostgresEnv = "PARLEY_TEST_POSTGRES"
	EngineEnv   = "PARLEY_TEST_ENGINE"
)

// Engines.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Engines returns every engine, for table tests that run on each.
func Engines() []string { return []string{SQLite, Postgres} }

// Engine returns the engine the end-to-end suites use (PARLEY_TEST_ENGINE).
// An unknown value fails the test.
func Engine(t testing.TB) string {
	t.Helper()
	switch e := os.Getenv(EngineEnv); e {
	case "", SQLite:
		return SQLite
	case Postgres:
		return Postgres
	default:
		t.Fatalf("%s=%q: want %s or %s", EngineEnv, e, SQLite, Postgres)
		return ""
	}
}

// URL returns the URL of a new, empty database of the engine, removed when
// the test ends: a file in a temporary directory for SQLite, a database
// created for the test for PostgreSQL. Without PARLEY_TEST_POSTGRES a
// PostgreSQL test is skipped, unless PARLEY_TEST_ENGINE asks for
// PostgreSQL, where it fails (the run was configured wrong).
func URL(t testing.TB, engine string) string {
	t.Helper()
	switch engine {
	case SQLite:
		return "sqlite:" + filepath.Join(t.TempDir(), "parley.db")
	case Postgres:
		admin := os.Getenv(PostgresEnv)
		if admin == "" {
			if os.Getenv(EngineEnv) == Postgres {
				t.Fatalf("%s=postgres but %s is not set", EngineEnv, PostgresEnv)
			}
			t.Skipf("PostgreSQL tests skipped: %s is not set (scripts/test sets it)", PostgresEnv)
		}
		return NewPostgres(t, admin)
	default:
		t.Fatalf("unknown engine %q", engine)
		return ""
	}
}

// AdminURL returns PARLEY_TEST_POSTGRES, the URL of the server's
// maintenance database, for tests that act on the server itself (end
// connections, refuse new ones); the test is skipped without it.
func AdminURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(PostgresEnv)
	if admin == "" {
		t.Skipf("PostgreSQL tests skipped: %s is not set (scripts/test sets it)", PostgresEnv)
	}
	return admin
}

// NewPostgres creates a database named parley_test_<random> on the server
// of the maintenance URL admin and returns its URL; the database is
// dropped (with any connection left to it) when the test ends.
func NewPostgres(t testing.TB, admin string) string {
	t.Helper()
	name := "parley_test_" + strings.ToLower(rand.Text()[:16])
	if err := adminExec(admin, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		if err := adminExec(admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

// adminExec runs one statement on the maintenance database.
func adminExec(admin, stmt string) error {
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}

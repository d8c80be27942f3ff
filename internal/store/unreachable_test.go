package store

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"parley/internal/chat"
	"parley/internal/store/storetest"
)

// TestUnreachableIsUnavailable: while PostgreSQL refuses connections to
// the database and has ended the open ones (as during a restart), reads
// and writes fail as KindUnavailable (503, "try again"), never as
// internal errors; once it accepts connections again they succeed.
func TestUnreachableIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dbURL := storetest.URL(t, storetest.Postgres)
	db, err := Open(ctx, dbURL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	admin, err := sql.Open("pgx", storetest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() }) // after the cleanup below
	u, _ := url.Parse(dbURL)
	name := strings.TrimPrefix(u.Path, "/")
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := admin.ExecContext(context.Background(), q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() { exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true") })
	exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false")
	exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name)

	for i := range 3 { // the first uses a connection that was ended, the next ones connect anew
		err := db.Read(ctx, func(tx *Tx) error {
			_, err := tx.User(ctx, "app1", "alice")
			return err
		})
		if k := chat.KindOf(err); k != chat.KindUnavailable {
			t.Fatalf("read %d while unreachable: kind %v: %v", i, k, err)
		}
		err = db.Write(ctx, func(tx *Tx) error { return tx.SetLastActive(ctx, "app1", "alice", 1) })
		if k := chat.KindOf(err); k != chat.KindUnavailable {
			t.Fatalf("write %d while unreachable: kind %v: %v", i, k, err)
		}
	}
	if _, err := db.RenewNode(ctx, "n", 1, 2); chat.KindOf(err) != chat.KindUnavailable {
		t.Fatalf("RenewNode while unreachable: %v", err)
	}
	exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true")
	if err := db.Write(ctx, func(tx *Tx) error { return tx.SetLastActive(ctx, "app1", "alice", 1) }); err != nil {
		t.Fatalf("write after the database came back: %v", err)
	}
}

// TestIsUnreachable: which errors count as an unreachable server.
func TestIsUnreachable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01"}, true}, // terminated by an administrator
		{&pgconn.PgError{Code: "57P03"}, true}, // starting up or shutting down
		{&pgconn.PgError{Code: "08006"}, true}, // connection failure
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "40001"}, false},
		{io.ErrUnexpectedEOF, true},
		{pgconn.ErrConnClosed, true},
		{context.Canceled, false},
		{errors.New("no rows"), false},
		{sql.ErrNoRows, false},
	} {
		if got := isUnreachable(c.err); got != c.want {
			t.Errorf("isUnreachable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

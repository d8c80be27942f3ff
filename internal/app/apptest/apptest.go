// Package apptest sets up the use cases on a fresh SQLite database, for the
// tests and benchmarks of packages built on internal/app.
package apptest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"parley/internal/app"
	"parley/internal/store"
)

// Open returns the use cases on a new SQLite database in tb's temporary
// directory, holding one new app (its keys in the second result). The
// database is closed when tb ends.
func Open(tb testing.TB) (*app.App, *app.NewApp, *store.DB) {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(tb.TempDir(), "parley.db"), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	a := app.New(db, app.DefaultConfig(), slog.New(slog.DiscardHandler))
	na, err := a.CreateApp(ctx, "test", "us")
	if err != nil {
		tb.Fatal(err)
	}
	return a, na, db
}

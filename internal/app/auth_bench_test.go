package app_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"parley/internal/app"
	"parley/internal/store"
)

// BenchmarkAuthenticate measures resolving an app id and REST API key into
// a caller, which every REST request does first, from concurrent requests.
//
//	go test -run '^$' -bench Authenticate ./internal/app/
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	a := app.New(db, app.DefaultConfig(), slog.New(slog.DiscardHandler))
	na, err := a.CreateApp(ctx, "bench", "us")
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.Authenticate(ctx, na.App.ID, na.RESTAPIKey, "alice"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

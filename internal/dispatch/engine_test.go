package dispatch_test

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"

	"parley/internal/app"
	"parley/internal/dispatch"
	"parley/internal/store"
)

// TestRunStoppedBeforeStart: an engine whose context ends before it has
// started (a SIGTERM right after the server came up) stops cleanly.
func TestRunStoppedBeforeStart(t *testing.T) {
	t.Parallel()
	db, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "t.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := app.New(db, app.DefaultConfig(), slog.New(slog.DiscardHandler))
	for range 20 { // the first write races the cancelled context: try often
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		e := dispatch.New(a, http.DefaultClient, dispatch.Config{}, nil, slog.New(slog.DiscardHandler))
		if err := e.Run(ctx); err != nil {
			t.Fatalf("Run with an ended context: %v", err)
		}
	}
}

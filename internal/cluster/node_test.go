package cluster

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"parley/internal/app"
	"parley/internal/store"
	"parley/internal/store/storetest"
)

type countingAnnouncer struct {
	mu sync.Mutex
	n  int
}

func (a *countingAnnouncer) Reannounce(context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
}

func (a *countingAnnouncer) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// TestNodeEndsDeadNodesAfterALease: a node ends the presence of nodes
// whose lease ran out only once its own heartbeats have succeeded for a
// whole lease (after an outage every node gets the chance to renew its
// own first), and has its hub announce its users again when it finds
// itself taken for dead.
func TestNodeEndsDeadNodesAfterALease(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := store.Open(ctx, storetest.URL(t, storetest.Postgres), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := app.DefaultConfig()
	cfg.Node, cfg.NodeLease = "me", time.Minute
	a := app.New(db, cfg, slog.New(slog.DiscardHandler))
	hub := &countingAnnouncer{}
	n, err := Join(ctx, a, hub, cfg.NodeLease, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	n.now = func() time.Time { return now }
	n.healthySince = now

	past := time.Now().Add(-time.Hour).UnixMilli()
	for _, node := range []string{"dead", "me"} { // its own lease lapsed too
		if _, err := db.RenewNode(ctx, node, past, past+1000); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(node string) bool {
		t.Helper()
		var ok bool
		if err := db.Read(ctx, func(tx *store.Tx) error {
			var err error
			ok, err = tx.NodeExists(ctx, node)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	n.runOnce(ctx)
	if !exists("dead") {
		t.Fatal("a dead node was ended by a node healthy for less than a lease")
	}
	// Ends the dead node, never itself (its heartbeat renewed it anyway;
	// lapse it again first).
	now = now.Add(cfg.NodeLease)
	if _, err := db.RenewNode(ctx, "me", past, past+1000); err != nil {
		t.Fatal(err)
	}
	if _, err := a.EndDeadNodes(ctx); err != nil {
		t.Fatal(err)
	}
	if exists("dead") || !exists("me") {
		t.Fatalf("after ending dead nodes: dead %v, me %v", exists("dead"), exists("me"))
	}
	if _, err := db.RenewNode(ctx, "dead", past, past+1000); err != nil {
		t.Fatal(err)
	}
	n.runOnce(ctx)
	if exists("dead") {
		t.Fatal("the dead node was not ended")
	}
	if c := hub.count(); c != 0 {
		t.Fatalf("reannounced %d times while registered", c)
	}
	// Taken for dead by another node: the next heartbeat registers anew
	// and reannounces.
	if err := db.Write(ctx, func(tx *store.Tx) error {
		_, _, err := tx.DeleteNode(ctx, "me", 1<<62)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	n.runOnce(ctx)
	n.announcing.Wait()
	if c := hub.count(); c != 1 || !exists("me") {
		t.Fatalf("after being ended: reannounced %d times, registered %v", c, exists("me"))
	}
}

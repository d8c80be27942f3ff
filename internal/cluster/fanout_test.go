package cluster

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"parley/internal/store"
	"parley/internal/store/storetest"
)

type recordingPub struct {
	mu     sync.Mutex
	frames []string
}

func (p *recordingPub) Publish(appID string, uids []string, frame []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frames = append(p.frames, string(frame))
}

func (p *recordingPub) PublishApp(appID string, frame []byte) {
	p.Publish(appID, nil, append([]byte("app:"), frame...))
}

func (p *recordingPub) got() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.frames...)
}

func insert(ctx context.Context, db *store.DB, frame string, hold <-chan struct{}) error {
	return db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertRealtimeEvents(ctx, []store.RealtimeEvent{{AppID: "a", UIDs: []string{"u"}, Frame: []byte(frame)}}); err != nil {
			return err
		}
		if hold != nil {
			<-hold
		}
		return nil
	})
}

// TestFanoutLateCommit: an event whose transaction drew its id first but
// commits after a later one is still published, once; events present
// before the start are not; a gap older than GapWait is given up.
func TestFanoutLateCommit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := store.Open(ctx, storetest.URL(t, storetest.Postgres), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := insert(ctx, db, "before", nil); err != nil {
		t.Fatal(err)
	}
	pub := &recordingPub{}
	f, err := Open(ctx, db, pub, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	f.now = func() time.Time { return now }

	hold := make(chan struct{})
	lateDone := make(chan error, 1)
	go func() { lateDone <- insert(ctx, db, "late", hold) }()
	// Wait until the late transaction has drawn its id.
	for {
		last, err := db.LastRealtimeEventID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := insert(ctx, db, "probe", nil); err != nil {
			t.Fatal(err)
		}
		if next, _ := db.LastRealtimeEventID(ctx); next > last+1 {
			break // an id between was drawn by the late transaction
		}
		time.Sleep(5 * time.Millisecond) // waiting for another goroutine's INSERT; bounded by the test timeout
	}
	if err := f.runOnce(ctx); err != nil {
		t.Fatal(err)
	}
	probes := len(pub.got())
	if probes == 0 || slices.Contains(pub.got(), "before") || slices.Contains(pub.got(), "late") {
		t.Fatalf("first read published %v", pub.got())
	}
	close(hold)
	if err := <-lateDone; err != nil {
		t.Fatal(err)
	}
	if err := f.runOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := pub.got(); len(got) != probes+1 || got[probes] != "late" {
		t.Fatalf("after the late commit: %v", got)
	}
	// Read again: nothing twice.
	if err := f.runOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := pub.got(); len(got) != probes+1 {
		t.Fatalf("published twice: %v", got)
	}
	if len(f.gaps) != 0 || f.low != f.high {
		t.Fatalf("state after every gap filled: low %d high %d gaps %v", f.low, f.high, f.gaps)
	}
	// A rolled-back insert leaves a gap for good: given up after GapWait.
	_ = db.Write(ctx, func(tx *store.Tx) error {
		_ = tx.InsertRealtimeEvents(ctx, []store.RealtimeEvent{{AppID: "a", UIDs: []string{"u"}, Frame: []byte("rolled back")}})
		return context.Canceled
	})
	if err := insert(ctx, db, "after", nil); err != nil {
		t.Fatal(err)
	}
	if err := f.runOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if len(f.gaps) != 1 {
		t.Fatalf("gaps %v, want the rolled-back id", f.gaps)
	}
	now = now.Add(GapWait)
	if err := f.runOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if len(f.gaps) != 0 || f.low != f.high || len(f.published) != 0 {
		t.Fatalf("gap not given up: low %d high %d gaps %v", f.low, f.high, f.gaps)
	}
	if got := pub.got(); got[len(got)-1] != "after" || slices.Contains(got, "rolled back") {
		t.Fatalf("frames %v", got)
	}
}

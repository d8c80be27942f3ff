package store

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"parley/internal/store/storetest"
)

// SQLite only: the writer commits without an fsync and the syncer makes
// the commits durable (syncer.go). PostgreSQL's commits are durable when
// they return; it has no syncer.

// waitFor polls cond until it holds or a few seconds have passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// pending asserts that nothing has arrived on ch yet.
func pending(t *testing.T, what string, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("%s returned (err %v) before its commit was durable", what, err)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestNothingIsAnsweredBeforeItsFsync(t *testing.T) {
	t.Parallel()
	// A lone write is completed by the writer itself; under load the
	// writer hands its batches to the syncer and goes on.
	for _, pipelined := range []bool{false, true} {
		name := map[bool]string{false: "writer", true: "syncer"}[pipelined]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testAnsweredAfterFsync(t, pipelined)
		})
	}
}

func testAnsweredAfterFsync(t *testing.T, pipelined bool) {
	ctx := context.Background()
	db := openTest(t, storetest.SQLite)
	if !db.dur.pipelined {
		t.Fatal("the test database is not in WAL mode")
	}
	gate := make(chan struct{})
	var open sync.Once
	release := func() { open.Do(func() { close(gate) }) }
	t.Cleanup(release) // before Close, which waits for the fsync
	var syncs atomic.Int32
	// Set before any write that could reach the fsync: the channel send
	// of the next write orders these assignments before the writer's
	// and the syncer's reads.
	db.dur.sync = func(f *os.File) error {
		syncs.Add(1)
		<-gate
		return f.Sync()
	}
	db.dur.handOverAlways = pipelined
	base := db.dur.issued.Load()

	var after atomic.Bool
	first := make(chan error, 1)
	go func() {
		first <- db.Write(ctx, func(tx *Tx) error {
			tx.AfterCommit(func() { after.Store(true) })
			return insertUser(ctx, tx, "first")
		})
	}()
	waitFor(t, "the first commit's fsync", func() bool { return syncs.Load() == 1 })
	if db.dur.issued.Load() != base+1 {
		t.Fatalf("issued %d commits, want %d", db.dur.issued.Load(), base+1)
	}
	pending(t, "the first write", first)
	if after.Load() {
		t.Fatal("AfterCommit ran before the commit was durable")
	}

	// A read sees the committed row but does not return it before it is
	// durable.
	read := make(chan error, 1)
	go func() {
		read <- db.Read(ctx, func(tx *Tx) error { _, err := tx.User(ctx, "app1", "first"); return err })
	}()
	pending(t, "a read of the first write's row", read)

	second := make(chan error, 1)
	go func() { second <- db.Write(ctx, func(tx *Tx) error { return insertUser(ctx, tx, "second") }) }()
	if pipelined {
		// The writer does not wait for the syncer's fsync: the next
		// write commits meanwhile, and is answered only after a later
		// fsync.
		waitFor(t, "the second commit", func() bool { return db.dur.issued.Load() == base+2 })
	}
	pending(t, "the second write", second)

	release()
	for name, ch := range map[string]chan error{"first write": first, "second write": second, "read": read} {
		if err := <-ch; err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if !after.Load() {
		t.Fatal("AfterCommit did not run")
	}
	if db.dur.durable.Load() != base+2 {
		t.Fatalf("durable %d, want %d", db.dur.durable.Load(), base+2)
	}
}

func TestFailedFsyncStopsTheStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, storetest.SQLite)
	db.dur.sync = func(*os.File) error { return syscall.EIO }

	var after atomic.Bool
	err := db.Write(ctx, func(tx *Tx) error {
		tx.AfterCommit(func() { after.Store(true) })
		return insertUser(ctx, tx, "lost")
	})
	if err == nil || !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "could not be made durable") {
		t.Fatalf("write with a failing fsync: err %v, want the fsync's error", err)
	}
	if after.Load() {
		t.Fatal("AfterCommit ran for a commit that is not durable")
	}
	// The store has stopped: later writes and reads fail at once with the
	// same error, never succeed on a log whose pages may be gone.
	if err := db.Write(ctx, func(tx *Tx) error { return insertUser(ctx, tx, "later") }); !errors.Is(err, syscall.EIO) {
		t.Fatalf("write after a failed fsync: err %v", err)
	}
	if err := db.Read(ctx, func(tx *Tx) error { return nil }); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read after a failed fsync: err %v", err)
	}
}

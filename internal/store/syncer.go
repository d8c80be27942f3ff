package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// Durability of SQLite commits, pipelined (docs/storage.md).
//
// The writer's connection commits with synchronous=NORMAL: a COMMIT writes
// the transaction's pages to the WAL file and returns without an fsync.
// The syncer goroutine makes commits durable: it takes the batches the
// writer has committed, fsyncs the WAL once for all of them and only then
// answers their requests and runs their AfterCommit functions, in commit
// order. The writer meanwhile runs its next batch, so a commit's fsync no
// longer stops every other write: the fsync of one batch overlaps the
// statements of the next.
//
// Nothing a commit wrote is acknowledged or acted upon before it is
// durable: its own requests wait for the syncer; a later batch that reads
// what it wrote is answered after it (one fsync of the WAL covers every
// frame written before it); and DB.Read returns only once every commit
// its snapshot may contain is durable (awaitDurable). A power loss can
// thus only lose commits nobody has heard of, which SQLite's recovery
// drops as it drops an unfinished transaction. Checkpoints keep their own
// fsyncs in NORMAL mode (the WAL before pages are copied, the database
// file after).
//
// When an fsync fails the pages may be lost whatever a later fsync says,
// so the store stops: every waiting and later write and read fails with
// the error (a restart recovers what the disk has).

// commitGroup is one batch of the writer, on its way to the syncer.
type commitGroup struct {
	batch   []*writeReq
	results []error
	err     error // the whole transaction's failure, see report
	txs     []*Tx // the requests' transactions that committed
	seq     uint64
}

// durability is what makes SQLite's commits durable: the commits issued
// (the writer adds one before each COMMIT) and those durable (after each
// fsync), the store's failure, and the WAL file to fsync.
type durability struct {
	issued  atomic.Uint64
	durable atomic.Uint64
	failed  atomic.Bool

	mu    sync.Mutex
	moved chan struct{} // closed when durable moves or failed is set
	err   error         // why the store stopped (failed)

	// pipelined: the writer commits without an fsync (pipelineCommits),
	// and the WAL file at walPath is fsynced through wal, opened on first
	// use. Only the goroutine that completes batches uses wal (handOver).
	pipelined bool
	walPath   string
	wal       *os.File
	// sync makes the WAL durable; a test replaces it.
	sync func(*os.File) error
	// handOverAlways makes the writer hand every batch to the syncer,
	// for a test of the pipeline under load.
	handOverAlways bool
}

func newDurability(walPath string) *durability {
	return &durability{moved: make(chan struct{}), walPath: walPath, sync: (*os.File).Sync}
}

// advance marks the commits up to seq durable, or the store failed with
// err.
func (d *durability) advance(seq uint64, err error) {
	d.mu.Lock()
	if err != nil && d.err == nil {
		d.err = err
		d.failed.Store(true)
	}
	if seq > d.durable.Load() {
		d.durable.Store(seq)
	}
	close(d.moved)
	d.moved = make(chan struct{})
	d.mu.Unlock()
}

// failure is why the store stopped, or nil.
func (d *durability) failure() error {
	if !d.failed.Load() {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// awaitDurable returns once every commit issued so far is durable.
func (d *durability) awaitDurable(ctx context.Context) error {
	seq := d.issued.Load()
	for {
		if err := d.failure(); err != nil {
			return err
		}
		if d.durable.Load() >= seq {
			return nil
		}
		d.mu.Lock()
		moved := d.moved
		d.mu.Unlock()
		if d.durable.Load() >= seq || d.failed.Load() {
			continue
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// pipelineCommits switches the writer's connection to commits without an
// fsync, which the syncer then makes durable, when the database is in WAL
// mode. A file SQLite could not put in WAL mode (a file system without
// shared memory) keeps synchronous=FULL: each commit is durable when it
// returns, and the syncer has nothing to do.
func (db *DB) pipelineCommits(ctx context.Context, conn *sql.Conn) error {
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		db.log.Warn("store: the database is not in WAL mode; every commit waits for its own fsync", "journal_mode", mode)
		return nil
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		return err
	}
	db.dur.pipelined = true
	return nil
}

// handOver passes a batch the writer has run on to be made durable and
// reported. On a lightly loaded server (the writer was idle before the
// batch, and nothing is waiting now, neither a request nor an earlier
// batch) the writer completes it itself: pipelining gains nothing there,
// and a hop to the syncer would only add a goroutine switch and a wake-up
// to every write.
func (db *DB) handOver(g *commitGroup, idle bool) {
	if idle && db.inflight.Load() == 0 && len(db.reqs) == 0 && !db.dur.handOverAlways {
		db.complete([]*commitGroup{g})
		return
	}
	db.inflight.Add(1)
	db.commits <- g
}

// syncer completes the batches the writer hands over, until the writer
// closes db.commits.
func (db *DB) syncer() {
	defer close(db.done)
	defer func() {
		if db.dur.wal != nil {
			db.dur.wal.Close()
		}
	}()
	var group []*commitGroup
	for g := range db.commits {
		group = append(group[:0], g)
	more:
		for {
			select {
			case g, ok := <-db.commits:
				if !ok {
					break more
				}
				group = append(group, g)
			default:
				break more
			}
		}
		db.complete(group)
		clear(group)
		// Last: the writer completes a batch itself only once every
		// earlier one is reported, and then uses the WAL's file.
		db.inflight.Add(-int64(len(group)))
	}
}

// complete makes the groups' commits durable with one fsync of the WAL,
// then answers their requests and runs their AfterCommit functions, in
// order. It runs on the syncer, or on the writer when no group is in
// flight (handOver).
func (db *DB) complete(groups []*commitGroup) {
	var seq uint64
	for _, g := range groups {
		seq = max(seq, g.seq)
	}
	err := db.dur.failure()
	if seq > 0 && err == nil && db.dur.pipelined {
		if err = db.dur.syncWAL(); err != nil {
			err = fmt.Errorf("store: the database's write-ahead log could not be made durable, so writes stop until parley restarts: %w", err)
			db.log.Error("store: fsync failed", "err", err)
		}
	}
	if seq > 0 {
		db.dur.advance(seq, err)
	}
	for _, g := range groups {
		if err != nil {
			g.err = err // for the requests that had not failed on their own
			g.txs = nil // what they committed may be lost: no effects
		}
		db.report(g.batch, g.results, g.err)
		for _, tx := range g.txs {
			tx.runAfter()
		}
	}
}

// syncWAL fsyncs the WAL file, opening it on first use. The writer's
// connection stays open as long as the store, so SQLite never deletes the
// file meanwhile (it does when the last connection closes).
func (d *durability) syncWAL() error {
	if d.wal == nil {
		f, err := os.OpenFile(d.walPath, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		d.wal = f
	}
	return d.sync(d.wal)
}

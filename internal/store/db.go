package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Operational limits of the store.
const (
	// maxBatch bounds how many write requests share one transaction. Larger
	// batches amortise the fsync further but make each request wait for
	// the whole batch; 256 keeps a batch well under a millisecond of work.
	maxBatch = 256
	// writeQueue bounds how many write requests may wait for the writer.
	// When it is full, Write blocks (back-pressure), it never drops.
	writeQueue = 1024
	// readConns bounds the read-only connections; SQLite readers scale with
	// cores, and this machine class has few.
	readConns = 4
)

// DB is the database handle shared by the whole process.
type DB struct {
	engine string
	write  *sql.DB // one connection: SQLite allows one writer
	read   *sql.DB
	log    *slog.Logger
	now    func() time.Time

	reqs      chan *writeReq
	wstmts    *keptStmts // on write; used by the writer goroutine only
	rstmts    *keptStmts // on read
	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

// Tx is one use case's view of a transaction. Now is fixed for its whole
// run.
type Tx struct {
	q   querier
	Now time.Time
}

// Unix is Now in Unix seconds, the unit of every timestamp in the API.
func (tx *Tx) Unix() int64 { return tx.Now.Unix() }

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type writeReq struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
}

// Options configure Open.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time // for tests; default time.Now
}

// Open opens (creating if needed) the database at url, applies pending
// migrations and starts the writer.
func Open(ctx context.Context, url string, opt Options) (*DB, error) {
	engine, path, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	if err := prepareSQLiteDir(path); err != nil {
		return nil, err
	}
	w, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	db := &DB{engine: engine, write: w, read: r, log: opt.Logger, now: opt.Now, wstmts: newKeptStmts(w), rstmts: newKeptStmts(r),
		reqs: make(chan *writeReq, writeQueue), stop: make(chan struct{}), done: make(chan struct{})}
	if err := db.migrate(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	go db.writer()
	return db, nil
}

// Close stops the writer after the requests already queued and closes the
// connections.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { close(db.stop) })
	<-db.done
	db.rstmts.close()
	return errors.Join(db.write.Close(), db.read.Close())
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("store: database is closed")

// Write runs fn in a write transaction and returns after the commit is
// durable. fn may be run together with other requests in one transaction,
// inside its own savepoint; an error from fn undoes only fn's changes.
// fn must not keep tx after it returns.
func (db *DB) Write(ctx context.Context, fn func(*Tx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case db.reqs <- req:
	case <-db.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, wait for the outcome even if ctx ends: the write may
	// already be committed and the caller must not report it as failed
	// without knowing.
	return <-req.done
}

// Read runs fn in a read-only transaction (one consistent snapshot).
func (db *DB) Read(ctx context.Context, fn func(*Tx) error) error {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return translate("begin read", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to undo
	q := newTxQuerier(tx, db.rstmts)
	err = fn(&Tx{q: q, Now: db.now()})
	if len(q.noted) > 0 {
		tx.Rollback() //nolint:errcheck // keep must run outside the transaction
		db.rstmts.keep(ctx, q.noted)
	}
	return err
}

// writer is the only goroutine that writes. It owns db.write.
func (db *DB) writer() {
	defer close(db.done)
	defer db.wstmts.close()
	batch := make([]*writeReq, 0, maxBatch)
	for {
		var first *writeReq
		select {
		case first = <-db.reqs:
		case <-db.stop:
			// Drain what is queued, then stop.
			for {
				select {
				case r := <-db.reqs:
					db.runBatch([]*writeReq{r})
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-db.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		db.runBatch(batch)
	}
}

// runBatch runs the requests in one transaction and reports to each.
func (db *DB) runBatch(batch []*writeReq) {
	ctx := context.Background() // requests' contexts are checked one by one
	results := make([]error, len(batch))
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		err = translate("begin write", err)
		for _, r := range batch {
			r.done <- err
		}
		return
	}
	single := len(batch) == 1
	q := newTxQuerier(sqlTx, db.wstmts)
	// After the transaction and the answers: the write connection is idle.
	defer func() { db.wstmts.keep(ctx, q.noted) }()
	ran := 0
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		tx := &Tx{q: q, Now: db.now()}
		if single {
			results[i] = db.call(r, tx)
			ran++
			continue
		}
		if _, err := q.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			results[i] = translate("savepoint", err)
			continue
		}
		if err := db.call(r, tx); err != nil {
			results[i] = err
			if _, rbErr := q.ExecContext(ctx, "ROLLBACK TO w"); rbErr != nil {
				// The transaction is unusable: fail the whole batch.
				sqlTx.Rollback() //nolint:errcheck
				db.failAll(batch, results, translate("rollback to savepoint", rbErr))
				return
			}
		}
		if _, err := q.ExecContext(ctx, "RELEASE w"); err != nil {
			sqlTx.Rollback() //nolint:errcheck
			db.failAll(batch, results, translate("release savepoint", err))
			return
		}
		ran++
	}
	if single && results[0] != nil || ran == 0 {
		sqlTx.Rollback() //nolint:errcheck
	} else if err := sqlTx.Commit(); err != nil {
		db.failAll(batch, results, translate("commit", err))
		return
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}

// call runs one request's function, turning a panic into an error so that
// one bad request cannot take the writer down.
func (db *DB) call(r *writeReq, tx *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			db.log.Error("store: panic in write", "panic", p)
			err = fmt.Errorf("store: panic in write: %v", p)
		}
	}()
	return r.fn(tx)
}

// failAll reports err to every request that had not failed on its own.
func (db *DB) failAll(batch []*writeReq, results []error, err error) {
	for i, r := range batch {
		if results[i] == nil {
			results[i] = err
		}
		r.done <- results[i]
	}
}

package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Operational limits of the store.
const (
	// maxBatch bounds how many write requests share one transaction. Larger
	// batches amortise the fsync further but make each request wait for
	// the whole batch; 256 keeps a batch well under a millisecond of work.
	maxBatch = 256
	// deferDelay bounds how long a deferred write (WriteDeferred) waits
	// for another write to share a commit with.
	deferDelay = 2 * time.Millisecond
	// writeQueue bounds how many write requests may wait for the writer.
	// When it is full, Write blocks (back-pressure), it never drops.
	writeQueue = 1024
	// readConns bounds the read-only connections; SQLite readers scale with
	// cores, and this machine class has few.
	readConns = 4
	// sqliteBusyWait bounds how long Open waits for another process that
	// holds the SQLite file's lock (the busy_timeout of every connection is
	// the same 10 s); past it Open fails with "database is locked".
	sqliteBusyWait = 10 * time.Second

	// pgConns bounds the PostgreSQL connections of one process (reads and
	// writes share the pool). When all are busy, a Read or Write waits for
	// one (back-pressure). Several nodes multiply it: keep nodes × pgConns
	// under the server's max_connections (100 by default).
	pgConns = 16
	// pgConnIdle closes pooled connections unused that long.
	pgConnIdle = 5 * time.Minute
	// pgConnectTimeout bounds one connection attempt when the URL sets no
	// connect_timeout; past it Open (or the query that needed a new
	// connection) fails.
	pgConnectTimeout = 10 * time.Second
	// pgWriteAttempts bounds how many times a PostgreSQL write runs when it
	// fails to serialize against concurrent ones (or deadlocks). Past it
	// the write fails as KindUnavailable (503, "try again"): the caller
	// sees contention, never a half-applied write.
	pgWriteAttempts = 15
	// pgRetryBase and pgRetryCap shape the wait before a write runs again:
	// a random duration in [0, min(cap, base·2^attempt)) ("full jitter"),
	// so that transactions that collided do not collide again in step.
	pgRetryBase = 2 * time.Millisecond
	pgRetryCap  = 100 * time.Millisecond
	// maxBoundQueries bounds the cache of queries rewritten for
	// PostgreSQL.
	maxBoundQueries = 4096
)

// DB is the database handle shared by the whole process.
type DB struct {
	d *dialect
	// SQLite: write is the one writer connection and read the read-only
	// pool. PostgreSQL: both are the same pool.
	write *sql.DB
	read  *sql.DB
	log   *slog.Logger
	now   func() time.Time

	// SQLite: the read-only connections, with their prepared statements.
	readers *readerPool

	// SQLite's writer goroutine, and the syncer that makes its commits
	// durable (syncer.go).
	reqs      chan *writeReq
	commits   chan *commitGroup
	inflight  atomic.Int64 // batches handed to the syncer and not yet reported
	dur       *durability
	closeOnce sync.Once
	closing   sync.RWMutex // Write enqueues under R, Close marks closed under W
	closed    atomic.Bool
	stop      chan struct{}
	done      chan struct{}

	serveLock *os.File // SQLite: held while serving (Options.Serve)

	// Several nodes (PostgreSQL): see cluster.go.
	pgURL string
	maint maintenanceLock

	// botsVersion counts commits of this process that changed a bot's
	// row (BotsVersion).
	botsVersion atomic.Uint64

	// health is the writer's cache of bots' health (SQLite).
	health healthCache
}

// Tx is one use case's view of a transaction. Now is fixed for its whole
// run.
type Tx struct {
	q     *querier
	d     *dialect
	locks []int64 // the message order locks taken (PostgreSQL)
	Now   time.Time

	after       []func()     // AfterCommit
	botsChanged bool         // a bot's row was written (BotsVersion)
	health      *healthCache // SQLite's writer: bots' health read before (BotHealth)
}

// Unix is Now in Unix seconds, the unit of every timestamp in the API.
func (tx *Tx) Unix() int64 { return tx.Now.Unix() }

// AfterCommit runs f once this write's changes are committed and
// durable, and not at all if they are not (a failed or retried run's
// registrations are dropped with it). On SQLite f runs on the syncer
// goroutine after the requests of the batch have been answered and
// before the requests of any later batch are: f must be quick and must
// not write. Everything that waits for a later write of this process thus
// happens after f. (The writer may already run later batches' statements
// meanwhile; they see the committed data, not what f does.)
func (tx *Tx) AfterCommit(f func()) { tx.after = append(tx.after, f) }

// committed notes what the committed tx changed (BotsVersion). It runs
// right after the commit, before the writer answers the requests.
func (db *DB) committed(tx *Tx) {
	if tx.botsChanged {
		db.botsVersion.Add(1)
	}
}

// runAfter runs what tx registered with AfterCommit.
func (tx *Tx) runAfter() {
	for _, f := range tx.after {
		f()
	}
}

// Now is the database's clock (Options.Now): the time a transaction
// begun now would get.
func (db *DB) Now() time.Time { return db.now() }

// BotsVersion changes after every commit of this process that changed a
// bot's row (settings, health, deletion): what was read of a bot at one
// version may be kept until it changes. Only this process's writes count:
// it is meaningful on a database no other process writes bots to (a
// single node on SQLite).
func (db *DB) BotsVersion() uint64 { return db.botsVersion.Load() }

type writeReq struct {
	ctx      context.Context
	fn       func(*Tx) error
	done     chan error
	deferred bool // may wait for another write's commit (WriteDeferred)
}

// Options configure Open.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time // for tests; default time.Now
	// MustExist refuses to create a new SQLite file (for commands that
	// read an existing database, such as copy).
	MustExist bool
	// Serve marks the process that serves the database. On SQLite only
	// one may: its delivery engine keeps what is in flight in memory
	// (docs/decisions/delivery-claims.md). A second one fails to open.
	// Other commands (apps create, admin) may run beside it.
	Serve bool
}

// Engine returns "sqlite" or "postgres".
func (db *DB) Engine() string { return db.d.engine }

// Open opens (creating if needed, for SQLite) the database at url, applies
// pending migrations and starts the writer.
func Open(ctx context.Context, url string, opt Options) (*DB, error) {
	db, err := open(ctx, url, opt)
	if err != nil {
		return nil, err
	}
	if _, err := db.migrate(ctx); err != nil {
		db.closeConns()
		return nil, err
	}
	if !db.d.postgres() {
		conn, err := db.write.Conn(ctx)
		if err != nil {
			db.closeConns()
			return nil, translate("open writer", err)
		}
		if err := db.pipelineCommits(ctx, conn); err != nil {
			conn.Close()
			db.closeConns()
			return nil, translate("open writer", err)
		}
		db.commits = make(chan *commitGroup, writeQueue)
		go db.syncer()
		go db.writer(newStmtConn(conn))
	} else {
		close(db.done)
	}
	return db, nil
}

// open connects without migrating or starting the writer.
func open(ctx context.Context, url string, opt Options) (*DB, error) {
	engine, loc, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	db := &DB{d: newDialect(engine), log: opt.Logger, now: opt.Now,
		reqs: make(chan *writeReq, writeQueue), stop: make(chan struct{}), done: make(chan struct{})}
	if engine == enginePostgres {
		pool, err := openPostgres(ctx, loc)
		if err != nil {
			return nil, err
		}
		db.write, db.read = pool, pool
		db.pgURL = loc
		return db, nil
	}
	if opt.MustExist {
		if _, err := os.Stat(loc); err != nil {
			return nil, fmt.Errorf("no SQLite database at %s", loc)
		}
	}
	db.write, db.read, err = openSQLite(ctx, loc)
	if err != nil {
		return nil, err
	}
	if opt.Serve {
		if db.serveLock, err = lockServer(loc); err != nil {
			db.write.Close()
			db.read.Close()
			return nil, err
		}
	}
	db.readers = newReaderPool(db.read, readConns)
	db.dur = newDurability(loc + "-wal")
	return db, nil
}

func (db *DB) closeConns() error {
	if db.write == db.read {
		return db.write.Close()
	}
	db.readers.close()
	err := errors.Join(db.write.Close(), db.read.Close())
	db.releaseServeLock()
	return err
}

func (db *DB) releaseServeLock() {
	if db.serveLock != nil {
		db.serveLock.Close() // drops the lock; the file stays for the next server
		db.serveLock = nil
	}
}

// Close stops the writer after the requests already queued and closes the
// connections. On PostgreSQL, writes already running finish first.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.closing.Lock()
		db.closed.Store(true)
		db.closing.Unlock()
		close(db.stop)
	})
	<-db.done
	db.maint.release()
	return db.closeConns()
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("store: database is closed")

// Write runs fn in a write transaction and returns after the commit is
// durable. fn may be run more than once, in a new transaction with a new
// Now each time, and must have no effect outside tx that a second run
// would repeat. fn must not keep tx after it returns.
//
// On SQLite fn is run together with other requests in one transaction (a
// group commit); an error from fn undoes only fn's changes (see
// runBatch). Once it has started, fn's statements run to the end even if
// ctx ends (ctx is checked before), so that a commit is never half-done
// on one caller's account. On PostgreSQL fn runs in its own SERIALIZABLE
// transaction and is run again when that fails to serialize against a
// concurrent one.
func (db *DB) Write(ctx context.Context, fn func(*Tx) error) error {
	return db.enqueue(ctx, fn, false)
}

// WriteDeferred is Write for a write nobody waits for at once (an
// attempt's record): on SQLite it may wait up to deferDelay for another
// write and commit with it, instead of paying a commit and an fsync of its
// own. Under load it waits for nothing (there is always another write).
func (db *DB) WriteDeferred(ctx context.Context, fn func(*Tx) error) error {
	return db.enqueue(ctx, fn, true)
}

func (db *DB) enqueue(ctx context.Context, fn func(*Tx) error, deferred bool) error {
	if db.d.postgres() {
		return db.writePostgres(ctx, fn)
	}
	if err := db.dur.failure(); err != nil {
		return err
	}
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1), deferred: deferred}
	// Enqueue under the read lock, so that Close (write lock) cannot slip
	// between the check and the send: the writer drains every request
	// queued before it stops, and none is queued after.
	db.closing.RLock()
	if db.closed.Load() {
		db.closing.RUnlock()
		return ErrClosed
	}
	select {
	case db.reqs <- req:
		db.closing.RUnlock()
	case <-ctx.Done():
		db.closing.RUnlock()
		return ctx.Err()
	}
	// Once queued, wait for the outcome even if ctx ends: the write may
	// already be committed and the caller must not report it as failed
	// without knowing.
	return <-req.done
}

// Read runs fn in a read-only transaction (one consistent snapshot). On
// SQLite it returns once every commit the snapshot may contain is durable
// (syncer.go), so that nothing a crash could lose is shown or acted upon.
func (db *DB) Read(ctx context.Context, fn func(*Tx) error) error {
	if db.readers != nil {
		return db.readSQLite(ctx, fn)
	}
	tx, err := db.read.BeginTx(ctx, db.d.readTxOptions())
	if err != nil {
		return translate("begin read", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to undo
	return fn(db.newTx(txRunner{tx}))
}

// readSQLite runs fn in a read transaction on one of the pooled read-only
// connections, then waits until what it may have read is durable.
func (db *DB) readSQLite(ctx context.Context, fn func(*Tx) error) error {
	if err := db.readSnapshot(ctx, fn); err != nil {
		return err
	}
	return db.dur.awaitDurable(ctx)
}

// readSnapshot runs fn in a read transaction on one of the pooled
// read-only connections. The transaction is SQLite's deferred one: its
// snapshot is taken at the first read and kept until the ROLLBACK.
func (db *DB) readSnapshot(ctx context.Context, fn func(*Tx) error) error {
	c, err := db.readers.get(ctx)
	if err != nil {
		return translate("begin read", err)
	}
	if _, err := c.ExecContext(ctx, "BEGIN"); err != nil {
		db.readers.put(c, ctx.Err() == nil)
		return translate("begin read", err)
	}
	defer func() {
		// Without the caller's context: the transaction must end even
		// when the request was cancelled, or the connection would carry
		// it (and hold back WAL checkpoints) into its next use.
		_, err := c.ExecContext(context.Background(), "ROLLBACK")
		db.readers.put(c, err != nil)
	}()
	return fn(db.newTx(c))
}

func (db *DB) newTx(r runner) *Tx {
	return &Tx{q: &querier{run: r, d: db.d}, d: db.d, Now: db.now()}
}

// writePostgres runs fn in its own SERIALIZABLE transaction, again when it
// fails to serialize, up to pgWriteAttempts times.
//
// A transaction's snapshot is taken at its first statement, so one that
// then waits for an app's message order lock (behind other senders of the
// app) wakes up with a snapshot older than their commits and fails as
// soon as it touches a row they changed (the conversation, the bot's
// sequence). Each run therefore reports the order locks it asked for, and
// the next run takes them on its connection before BEGIN: its snapshot is
// then taken after the other senders committed, and it cannot fail on
// their account again. A busy conversation costs a sender two runs at
// most, not a storm of retries.
func (db *DB) writePostgres(ctx context.Context, fn func(*Tx) error) error {
	if db.closed.Load() {
		return ErrClosed
	}
	var pre []int64
	for attempt := 1; ; attempt++ {
		again, locks, err := db.writeOnce(ctx, fn, pre)
		if !again || attempt == pgWriteAttempts {
			return err
		}
		if len(locks) > 0 {
			// The next run queues for the locks: no need to back off.
			pre = mergeKeys(pre, locks)
			continue
		}
		wait := time.Duration(rand.Int64N(int64(min(pgRetryCap, pgRetryBase<<attempt))))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}

// mergeKeys returns the sorted union of two lists of lock keys.
func mergeKeys(a, b []int64) []int64 {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// writeOnce runs fn in one transaction, first taking the session locks
// pre (sorted) when there are any, and reports whether running it again
// might succeed and which order locks fn asked for.
func (db *DB) writeOnce(ctx context.Context, fn func(*Tx) error, pre []int64) (again bool, locks []int64, err error) {
	var sqlTx *sql.Tx
	if len(pre) == 0 {
		sqlTx, err = db.write.BeginTx(ctx, db.d.writeTxOptions())
	} else {
		var conn *sql.Conn
		conn, err = db.write.Conn(ctx)
		if err != nil {
			return false, nil, translate("connect", err)
		}
		// Runs after the transaction below has ended, on every path.
		defer db.unlockSession(ctx, conn, pre)
		for _, k := range pre {
			if _, err := conn.ExecContext(ctx, db.d.query(db.d.sessionLock()), k); err != nil {
				return false, nil, translate("lock message order", err)
			}
		}
		sqlTx, err = conn.BeginTx(ctx, db.d.writeTxOptions())
	}
	if err != nil {
		return false, nil, translate("begin write", err)
	}
	tx := db.newTx(txRunner{sqlTx})
	ferr := db.call(fn, tx)
	// A statement that failed on the server aborted the transaction, even
	// if fn handled its error and went on.
	if failed := tx.q.failed; failed != nil {
		sqlTx.Rollback() //nolint:errcheck // the transaction is aborted
		if isRetryable(failed) {
			return true, tx.locks, translate("write", failed)
		}
		if ferr == nil {
			return false, nil, fmt.Errorf("store: write: a statement failed and the transaction was aborted: %w", failed)
		}
		return false, nil, ferr
	}
	if ferr != nil {
		sqlTx.Rollback() //nolint:errcheck // undoing fn is the point
		return isRetryable(ferr), tx.locks, ferr
	}
	if err := sqlTx.Commit(); err != nil {
		return isRetryable(err), tx.locks, translate("commit", err)
	}
	db.committed(tx)
	tx.runAfter()
	return false, nil, nil
}

// unlockSession releases session locks and returns the connection to the
// pool. A connection whose locks cannot be released is closed instead
// (closing a session releases its locks).
func (db *DB) unlockSession(ctx context.Context, conn *sql.Conn, keys []int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pgConnectTimeout)
	defer cancel()
	for _, k := range keys {
		if _, err := conn.ExecContext(ctx, db.d.query(db.d.sessionUnlock()), k); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // the point is the error
			break
		}
	}
	conn.Close()
}

// querier runs a Tx's statements, in the engine's spelling. It remembers
// the first statement that aborted the transaction (PostgreSQL), which the
// write path checks whatever fn returned.
type querier struct {
	run    runner
	d      *dialect
	failed error
}

func (q *querier) note(err error) {
	if q.failed == nil && q.d.abortsTx(err) {
		q.failed = err
	}
}

// ExecContext runs a statement that returns no rows.
func (q *querier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := q.run.ExecContext(ctx, q.d.query(query), args...)
	q.note(err)
	return res, err
}

// QueryContext runs a query.
func (q *querier) QueryContext(ctx context.Context, query string, args ...any) (*rowSet, error) {
	rows, release, err := q.run.QueryContext(ctx, q.d.query(query), args...)
	q.note(err)
	if err != nil {
		return nil, err
	}
	return &rowSet{Rows: rows, q: q, release: release}, nil
}

// QueryRowContext runs a query that returns at most one row.
func (q *querier) QueryRowContext(ctx context.Context, query string, args ...any) *oneRow {
	return &oneRow{row: q.run.QueryRowContext(ctx, q.d.query(query), args...), q: q}
}

// rowSet is *sql.Rows that reports errors to its querier.
type rowSet struct {
	*sql.Rows
	q       *querier
	release func() // see runner.QueryContext
}

// Next prepares the next row.
func (r *rowSet) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.q.note(r.Rows.Err())
	r.done()
	return false
}

// Close closes the rows.
func (r *rowSet) Close() error {
	err := r.Rows.Close()
	r.done()
	return err
}

func (r *rowSet) done() {
	if r.release != nil {
		r.release()
		r.release = nil
	}
}

// Err returns the error that ended the iteration.
func (r *rowSet) Err() error {
	err := r.Rows.Err()
	r.q.note(err)
	return err
}

// oneRow is *sql.Row that reports errors to its querier.
type oneRow struct {
	row *sql.Row
	q   *querier
}

// Scan copies the row's columns into dest; sql.ErrNoRows when there is no
// row.
func (r *oneRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	r.q.note(err)
	return err
}

// writer is the only goroutine that writes. It owns db.write's one
// connection, w, and hands each batch it has run to the syncer, which
// answers the batch's requests once the commit is durable.
func (db *DB) writer(w *stmtConn) {
	defer close(db.commits) // the syncer reports what is left and stops
	defer w.close()
	batch := make([]*writeReq, 0, maxBatch)
	// held are deferred requests waiting for another write to commit
	// with, until the timer fires (deferDelay after the first of them).
	var held []*writeReq
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var first *writeReq
		due := false
		var fire <-chan time.Time
		if len(held) > 0 {
			fire = timer.C
		}
		// idle: the writer waits for work (see handOver).
		idle := len(db.reqs) == 0
		select {
		case first = <-db.reqs:
		case <-fire:
			due = true
		case <-db.stop:
			// Drain what is held and queued, then stop.
			if len(held) > 0 {
				db.runBatch(w, held, true)
			}
			for {
				select {
				case r := <-db.reqs:
					db.runBatch(w, []*writeReq{r}, true)
				default:
					return
				}
			}
		}
		batch = append(batch[:0], held...)
		if first != nil {
			batch = append(batch, first)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-db.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		if !due && len(batch) < maxBatch && allDeferred(batch) {
			if len(held) == 0 {
				timer.Reset(deferDelay)
			}
			held = append(held[:0], batch...)
			continue
		}
		if len(held) > 0 && !due {
			timer.Stop() // no stale tick after Stop or Reset (Go 1.23 timers)
		}
		held = held[:0]
		db.runBatch(w, batch, idle)
	}
}

// allDeferred reports whether every request of batch may wait.
func allDeferred(batch []*writeReq) bool {
	for _, r := range batch {
		if !r.deferred {
			return false
		}
	}
	return true
}

// runBatch runs the requests in one transaction on w and reports to each.
//
// The batch is first run as it comes, every request straight into the
// transaction. When a request fails, that run is rolled back and the
// batch runs again with each request in a savepoint, so that the failure
// undoes only its own changes. The common case, a batch in which every
// request succeeds, thus pays for no savepoint (a savepoint makes SQLite
// copy each page a request first changes into a sub-journal), at the
// price of a second run of a batch in which one fails.
func (db *DB) runBatch(w *stmtConn, batch []*writeReq, idle bool) {
	g := &commitGroup{batch: slices.Clone(batch), results: make([]error, len(batch))}
	if g.err = db.dur.failure(); g.err == nil { // else the store has stopped (syncer.go)
		ok, txs, seq, err := db.runTx(w, g.batch, g.results, false)
		if !ok && err == nil && len(batch) > 1 {
			clear(g.results)
			_, txs, seq, err = db.runTx(w, g.batch, g.results, true)
		}
		g.txs, g.seq, g.err = txs, seq, err
	}
	db.handOver(g, idle)
}

// runTx runs the requests in one transaction, each in its own savepoint
// when isolate is set, and commits when at least one succeeded. Without
// isolate it stops at the first failing request, rolls back and reports
// ok false. err is a failure of the whole transaction; results hold each
// request's own outcome; committed are the transactions of the requests
// whose changes were committed; seq numbers the COMMIT when one was
// issued (durability), 0 otherwise.
func (db *DB) runTx(w *stmtConn, batch []*writeReq, results []error, isolate bool) (ok bool, committed []*Tx, seq uint64, err error) {
	ctx := context.Background() // requests' contexts are checked one by one
	// BEGIN IMMEDIATE takes the write lock at once (another process may
	// hold it: busy_timeout waits), so that no statement of the batch can
	// fail to upgrade a read lock.
	if _, err := w.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return false, nil, 0, translate("begin write", err)
	}
	rollback := func() {
		w.ExecContext(ctx, "ROLLBACK") //nolint:errcheck // fails only when SQLite has rolled back already
		db.health.forget()             // it may hold what was rolled back
	}
	// The requests' transactions that succeeded, for their AfterCommit.
	txs := make([]*Tx, 0, len(batch))
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		tx := db.newTx(detached{w})
		tx.health = &db.health
		if !isolate {
			if results[i] = db.call(r.fn, tx); results[i] != nil {
				rollback()
				return false, nil, 0, nil
			}
			txs = append(txs, tx)
			continue
		}
		if _, err := w.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			results[i] = translate("savepoint", err)
			continue
		}
		if err := db.call(r.fn, tx); err != nil {
			results[i] = err
			db.health.forget()
			if _, rbErr := w.ExecContext(ctx, "ROLLBACK TO w"); rbErr != nil {
				// The transaction is unusable: fail the whole batch.
				rollback()
				return false, nil, 0, translate("rollback to savepoint", rbErr)
			}
		}
		if _, err := w.ExecContext(ctx, "RELEASE w"); err != nil {
			rollback()
			return false, nil, 0, translate("release savepoint", err)
		}
		if results[i] == nil {
			txs = append(txs, tx)
		}
	}
	if len(txs) == 0 {
		rollback()
		return true, nil, 0, nil
	}
	// Counted before the COMMIT: a reader whose snapshot has it waits for
	// it (awaitDurable).
	seq = db.dur.issued.Add(1)
	if _, err := w.ExecContext(ctx, "COMMIT"); err != nil {
		rollback()
		return false, nil, seq, translate("commit", err)
	}
	for _, tx := range txs {
		db.committed(tx)
	}
	return true, txs, seq, nil
}

// report tells each request its outcome: err, when the transaction as a
// whole failed, for those that had not failed on their own.
func (db *DB) report(batch []*writeReq, results []error, err error) {
	for i, r := range batch {
		if results[i] == nil {
			results[i] = err
		}
		r.done <- results[i]
	}
}

// call runs one request's function, turning a panic into an error so that
// one bad request cannot take the writer down.
func (db *DB) call(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			db.log.Error("store: panic in write", "panic", p)
			err = fmt.Errorf("store: panic in write: %v", p)
		}
	}()
	return fn(tx)
}

package store

import (
	"context"
	"database/sql"
)

// maxWriterStmts bounds the statements the writer keeps prepared across
// batches. Statement texts are fixed strings in this package except for a
// few lists of varying length; past the bound, new texts are prepared per
// batch only.
const maxWriterStmts = 256

// writerStmts are the statements the writer goroutine keeps prepared on
// the write connection across batches. Parsing (sqlite3_prepare) was the
// largest single cost of the writer, which every write waits for: the
// modernc.org/sqlite driver parses every statement that is not prepared.
//
// A statement first seen in a batch is prepared for that batch only
// (tx.PrepareContext) and noted; once the batch has ended and the
// connection is idle, the writer prepares the noted statements on the
// database handle (keep), and later batches bind them to their
// transaction with tx.StmtContext, which reuses the statement already
// prepared on the connection. If the connection is ever replaced,
// database/sql prepares the statement again on the new one. Owned by the
// writer goroutine; not safe for concurrent use.
type writerStmts struct {
	db      *sql.DB
	stmts   map[string]*sql.Stmt
	pending []string
}

func newWriterStmts(db *sql.DB) *writerStmts {
	return &writerStmts{db: db, stmts: make(map[string]*sql.Stmt)}
}

// keep prepares the statements noted during the last batch. It runs
// between batches, when the write connection is idle.
func (w *writerStmts) keep(ctx context.Context) {
	for _, q := range w.pending {
		if _, ok := w.stmts[q]; ok || len(w.stmts) >= maxWriterStmts {
			continue
		}
		if s, err := w.db.PrepareContext(ctx, q); err == nil {
			w.stmts[q] = s
		}
	}
	w.pending = w.pending[:0]
}

// close closes every kept statement.
func (w *writerStmts) close() {
	for q, s := range w.stmts {
		s.Close()
		delete(w.stmts, q)
	}
}

// batchQuerier is the querier of one group-commit batch: every statement
// runs prepared, from writerStmts or prepared for the batch.
//
// A prepared statement runs one query at a time: running it again while
// rows of its previous run are still open would fail. Exec and QueryRow
// finish (their row is scanned at once everywhere in this package) before
// the next call; for Query, the rows it last returned are checked, and a
// query whose previous rows are still open (a nested run of the same
// query) is run unprepared instead. The batch's statements belong to its
// transaction and are closed with it.
type batchQuerier struct {
	tx    *sql.Tx
	kept  *writerStmts
	stmts map[string]*batchStmt
}

type batchStmt struct {
	stmt *sql.Stmt
	rows *sql.Rows // last returned by QueryContext
}

func newBatchQuerier(tx *sql.Tx, kept *writerStmts) *batchQuerier {
	return &batchQuerier{tx: tx, kept: kept, stmts: make(map[string]*batchStmt)}
}

// stmt returns the prepared form of query for this batch, or nil when it
// cannot be prepared (the unprepared call then reports the error as
// usual).
func (q *batchQuerier) stmt(ctx context.Context, query string) *batchStmt {
	if s, ok := q.stmts[query]; ok {
		return s
	}
	var s *sql.Stmt
	if k, ok := q.kept.stmts[query]; ok {
		s = q.tx.StmtContext(ctx, k)
	} else {
		var err error
		if s, err = q.tx.PrepareContext(ctx, query); err != nil {
			return nil
		}
		q.kept.pending = append(q.kept.pending, query)
	}
	bs := &batchStmt{stmt: s}
	q.stmts[query] = bs
	return bs
}

func (q *batchQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := q.stmt(ctx, query); s != nil && !s.busy() {
		return s.stmt.ExecContext(ctx, args...)
	}
	return q.tx.ExecContext(ctx, query, args...)
}

func (q *batchQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := q.stmt(ctx, query); s != nil && !s.busy() {
		return s.stmt.QueryRowContext(ctx, args...)
	}
	return q.tx.QueryRowContext(ctx, query, args...)
}

func (q *batchQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s := q.stmt(ctx, query)
	if s == nil || s.busy() {
		return q.tx.QueryContext(ctx, query, args...)
	}
	rows, err := s.stmt.QueryContext(ctx, args...)
	s.rows = rows
	return rows, err
}

// busy reports whether rows of the statement's last Query are still open
// (Columns fails once rows are closed).
func (s *batchStmt) busy() bool {
	if s.rows == nil {
		return false
	}
	if _, err := s.rows.Columns(); err != nil {
		s.rows = nil
		return false
	}
	return true
}

package store

import (
	"context"
	"database/sql"
)

// batchQuerier is the querier of one group-commit batch. It prepares each
// distinct statement text once per batch and runs it again from the
// prepared form for every later request of the batch: the requests of a
// batch are the same few use cases (a send, an attempt's record), so under
// load most statements are parsed once per batch instead of once per
// request. Parsing was the largest single cost of the writer goroutine,
// which every write waits for.
//
// A prepared statement runs one query at a time: running it again while
// rows of its previous run are still open would fail. Exec and QueryRow
// finish (their row is scanned at once everywhere in this package) before
// the next call; for Query, the rows it last returned are checked, and a
// query whose previous rows are still open (a nested run of the same
// query) is run unprepared instead. The prepared statements belong to the
// transaction and are closed with it; nothing is kept across batches, so
// the batch's connection may be replaced without stale statements.
//
// Not safe for concurrent use; the writer goroutine runs a batch's
// requests one after another.
type batchQuerier struct {
	tx    *sql.Tx
	stmts map[string]*batchStmt
}

type batchStmt struct {
	stmt *sql.Stmt
	rows *sql.Rows // last returned by QueryContext
}

func newBatchQuerier(tx *sql.Tx) *batchQuerier {
	return &batchQuerier{tx: tx, stmts: make(map[string]*batchStmt)}
}

// stmt returns the prepared form of query, or nil when it cannot be
// prepared (the unprepared call then reports the error as usual).
func (q *batchQuerier) stmt(ctx context.Context, query string) *batchStmt {
	if s, ok := q.stmts[query]; ok {
		return s
	}
	s, err := q.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil
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

package store

import (
	"context"
	"database/sql"
	"sync"
)

// maxKeptStmts bounds the statements kept prepared per connection pool.
// Statement texts are fixed strings in this package except for a few
// lists of varying length; past the bound, new texts are prepared per
// transaction only.
const maxKeptStmts = 256

// keptStmts are statements kept prepared on a connection pool (the write
// connection, or the read pool) across transactions. Parsing
// (sqlite3_prepare) was the largest single cost of the writer goroutine,
// which every write waits for, and a large one of reads: the
// modernc.org/sqlite driver parses every statement that is not prepared.
//
// A statement first seen in a transaction is prepared for that
// transaction only (tx.PrepareContext) and noted; once the transaction
// has ended, its owner calls keep, which prepares the noted statements on
// the pool. Later transactions bind them with tx.StmtContext, which reuses
// the statement already prepared on the transaction's connection and
// prepares it there if it was not (another connection of the pool, or a
// replaced one). keep never runs inside a transaction: preparing on the
// pool takes a connection, and a goroutine that held one while waiting
// for another could deadlock a small pool. Safe for concurrent use.
type keptStmts struct {
	db    *sql.DB
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

func newKeptStmts(db *sql.DB) *keptStmts {
	return &keptStmts{db: db, stmts: make(map[string]*sql.Stmt)}
}

func (k *keptStmts) get(query string) *sql.Stmt {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.stmts[query]
}

// keep prepares noted statements on the pool. Call it outside any
// transaction.
func (k *keptStmts) keep(ctx context.Context, noted []string) {
	for _, q := range noted {
		k.mu.RLock()
		_, ok := k.stmts[q]
		full := len(k.stmts) >= maxKeptStmts
		k.mu.RUnlock()
		if ok || full {
			continue
		}
		s, err := k.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		k.mu.Lock()
		if _, ok := k.stmts[q]; ok || len(k.stmts) >= maxKeptStmts {
			s.Close() // another goroutine kept it first
		} else {
			k.stmts[q] = s
		}
		k.mu.Unlock()
	}
}

// close closes every kept statement.
func (k *keptStmts) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for q, s := range k.stmts {
		s.Close()
		delete(k.stmts, q)
	}
}

// txQuerier is the querier of one transaction (a read, or a group-commit
// batch): every statement runs prepared, from keptStmts or prepared for
// the transaction, and each is bound to the transaction once.
//
// A prepared statement runs one query at a time: running it again while
// rows of its previous run are still open would fail. Exec and QueryRow
// finish (their row is scanned at once everywhere in this package) before
// the next call; for Query, the rows it last returned are checked, and a
// query whose previous rows are still open (a nested run of the same
// query) is run unprepared instead. The transaction's statements are
// closed with it. Not safe for concurrent use, like the transaction.
type txQuerier struct {
	tx    *sql.Tx
	kept  *keptStmts
	stmts map[string]*txStmt
	noted []string // prepared for this transaction only; for keptStmts.keep
}

type txStmt struct {
	stmt *sql.Stmt
	rows *sql.Rows // last returned by QueryContext
}

func newTxQuerier(tx *sql.Tx, kept *keptStmts) *txQuerier {
	return &txQuerier{tx: tx, kept: kept, stmts: make(map[string]*txStmt)}
}

// stmt returns the prepared form of query for this transaction, or nil
// when it cannot be prepared (the unprepared call then reports the error
// as usual).
func (q *txQuerier) stmt(ctx context.Context, query string) *txStmt {
	if s, ok := q.stmts[query]; ok {
		return s
	}
	var s *sql.Stmt
	if k := q.kept.get(query); k != nil {
		s = q.tx.StmtContext(ctx, k)
	} else {
		var err error
		if s, err = q.tx.PrepareContext(ctx, query); err != nil {
			return nil
		}
		q.noted = append(q.noted, query)
	}
	ts := &txStmt{stmt: s}
	q.stmts[query] = ts
	return ts
}

func (q *txQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := q.stmt(ctx, query); s != nil && !s.busy() {
		return s.stmt.ExecContext(ctx, args...)
	}
	return q.tx.ExecContext(ctx, query, args...)
}

func (q *txQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := q.stmt(ctx, query); s != nil && !s.busy() {
		return s.stmt.QueryRowContext(ctx, args...)
	}
	return q.tx.QueryRowContext(ctx, query, args...)
}

func (q *txQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
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
func (s *txStmt) busy() bool {
	if s.rows == nil {
		return false
	}
	if _, err := s.rows.Columns(); err != nil {
		s.rows = nil
		return false
	}
	return true
}

package store

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds the statements one SQLite connection keeps
// prepared. The store's statements are a few hundred fixed texts; texts
// built per call (IN lists of varying length) beyond the bound run
// unprepared.
const maxCachedStmts = 512

// runner runs a Tx's statements: *sql.Tx on PostgreSQL (pgx keeps its own
// statement cache per connection), a stmtConn on SQLite.
type runner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	// QueryContext also returns a function to call once the rows are
	// closed (nil when there is nothing to do).
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, func(), error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// txRunner runs statements in a database/sql transaction.
type txRunner struct{ *sql.Tx }

func (t txRunner) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, func(), error) {
	rows, err := t.Tx.QueryContext(ctx, query, args...)
	return rows, nil, err
}

// detached runs statements without their callers' contexts. The SQLite
// driver watches a statement's context, when it can end, from a goroutine
// of its own for every statement; the writer's statements need no watch
// (a request's context is checked before it runs, and once begun a write
// runs to the end).
type detached struct{ runner }

func (d detached) ExecContext(_ context.Context, query string, args ...any) (sql.Result, error) {
	return d.runner.ExecContext(context.Background(), query, args...)
}

func (d detached) QueryContext(_ context.Context, query string, args ...any) (*sql.Rows, func(), error) {
	return d.runner.QueryContext(context.Background(), query, args...)
}

func (d detached) QueryRowContext(_ context.Context, query string, args ...any) *sql.Row {
	return d.runner.QueryRowContext(context.Background(), query, args...)
}

// stmtConn is one SQLite connection, owned by one goroutine at a time,
// that keeps every statement it runs prepared. modernc.org/sqlite parses a
// statement on every unprepared call, and parsing was the largest single
// cost of the write path (29% of the CPU of a relay benchmark).
//
// Transactions are begun and ended with plain statements (BEGIN, COMMIT,
// ROLLBACK) rather than database/sql's Tx, because database/sql cannot
// use a statement prepared on a connection inside a Tx of that
// connection without preparing it again.
//
// A prepared statement has one cursor: while rows of a query are open, a
// nested run of the same text (from inside the loop over them) runs
// unprepared instead of resetting the open cursor.
type stmtConn struct {
	conn  *sql.Conn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	stmt *sql.Stmt
	open int // row sets of stmt not closed yet
}

func newStmtConn(conn *sql.Conn) *stmtConn {
	return &stmtConn{conn: conn, stmts: make(map[string]*cachedStmt)}
}

// prepared returns the prepared statement for query, preparing it on
// first use; nil when it must run unprepared (its cursor is in use, the
// cache is full, or it does not prepare, in which case running it reports
// the error).
func (c *stmtConn) prepared(ctx context.Context, query string) *cachedStmt {
	if s := c.stmts[query]; s != nil {
		if s.open > 0 {
			return nil
		}
		return s
	}
	if len(c.stmts) >= maxCachedStmts {
		return nil
	}
	st, err := c.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	s := &cachedStmt{stmt: st}
	c.stmts[query] = s
	return s
}

func (c *stmtConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := c.prepared(ctx, query); s != nil {
		return s.stmt.ExecContext(ctx, args...)
	}
	return c.conn.ExecContext(ctx, query, args...)
}

func (c *stmtConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, func(), error) {
	s := c.prepared(ctx, query)
	if s == nil {
		rows, err := c.conn.QueryContext(ctx, query, args...)
		return rows, nil, err
	}
	rows, err := s.stmt.QueryContext(ctx, args...)
	if err != nil {
		return nil, nil, err
	}
	s.open++
	return rows, func() { s.open-- }, nil
}

func (c *stmtConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	// The row's cursor is closed by its Scan, which callers chain.
	if s := c.prepared(ctx, query); s != nil {
		return s.stmt.QueryRowContext(ctx, args...)
	}
	return c.conn.QueryRowContext(ctx, query, args...)
}

// close finalizes the statements and returns the connection to its pool.
func (c *stmtConn) close() error {
	for _, s := range c.stmts {
		s.stmt.Close()
	}
	c.stmts = nil
	return c.conn.Close()
}

// readerPool lends SQLite's read-only connections, each with its
// statements, to one Read at a time. Connections are opened on demand up
// to max and kept until Close.
type readerPool struct {
	db   *sql.DB
	free chan *stmtConn

	mu     sync.Mutex
	opened int
	max    int
	closed bool
}

func newReaderPool(db *sql.DB, max int) *readerPool {
	return &readerPool{db: db, free: make(chan *stmtConn, max), max: max}
}

func (p *readerPool) get(ctx context.Context) (*stmtConn, error) {
	select {
	case c := <-p.free:
		return c, nil
	default:
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if p.opened < p.max {
		p.opened++
		p.mu.Unlock()
		conn, err := p.db.Conn(ctx)
		if err != nil {
			p.forget()
			return nil, err
		}
		return newStmtConn(conn), nil
	}
	p.mu.Unlock()
	select {
	case c := <-p.free:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put returns a connection after use; broken ones are closed instead.
func (p *readerPool) put(c *stmtConn, broken bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if broken || p.closed {
		c.close()
		p.opened--
		return
	}
	p.free <- c // never blocks: at most max connections exist
}

func (p *readerPool) forget() {
	p.mu.Lock()
	p.opened--
	p.mu.Unlock()
}

// close closes the idle connections; those lent out are closed when they
// come back.
func (p *readerPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for {
		select {
		case c := <-p.free:
			c.close()
			p.opened--
		default:
			return
		}
	}
}

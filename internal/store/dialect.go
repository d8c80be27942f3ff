package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"parley/internal/chat"
)

// This file holds every difference between the SQL dialects parley speaks,
// SQLite and PostgreSQL. Queries elsewhere are written once, in SQLite's
// spelling, with '?' placeholders and portable SQL (INSERT ... ON
// CONFLICT, RETURNING, integer timestamps, JSON as TEXT). For PostgreSQL
// each query is rewritten once (and cached) by rebind:
//
//   - '?' placeholders become $1, $2, ...;
//   - LIKE becomes ILIKE. SQLite's LIKE is case-insensitive for ASCII
//     letters only; PostgreSQL's ILIKE on a text column with the "C"
//     collation is exactly that, and every text column of the PostgreSQL
//     schema is declared COLLATE "C" (which also makes ORDER BY compare
//     bytes, as SQLite's BINARY collation does).
//
// The rest is here too: URL parsing and connection setup, transaction
// isolation, error translation by driver code, JSON extraction, the
// migration lock, the per-app message order lock and identity sequences.
// docs/decisions/postgresql.md explains each rule.

// Engines.
const (
	engineSQLite   = "sqlite"
	enginePostgres = "postgres"
)

// dialect is one engine's way of saying things. It is immutable but for
// the rebind cache.
type dialect struct {
	engine string
	binds  bindCache // PostgreSQL's rewritten queries
}

func newDialect(engine string) *dialect { return &dialect{engine: engine} }

func (d *dialect) postgres() bool { return d.engine == enginePostgres }

// ParseURL splits a database URL into the engine ("sqlite" or "postgres")
// and its location: the file path for SQLite, the URL itself for
// PostgreSQL. Accepted: "sqlite:PATH", "sqlite://PATH", a bare path,
// "postgres://..." and "postgresql://..." (libpq's URL form, with its
// query parameters such as sslmode).
func ParseURL(raw string) (engine, location string, err error) {
	switch {
	case raw == "":
		return "", "", errors.New("database URL is empty")
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := pgx.ParseConfig(raw); err != nil {
			return "", "", fmt.Errorf("invalid PostgreSQL URL %s: %v", redactURL(raw), errors.Unwrap(err))
		}
		return enginePostgres, raw, nil
	case strings.HasPrefix(raw, "sqlite://"):
		location = strings.TrimPrefix(raw, "sqlite://")
	case strings.HasPrefix(raw, "sqlite:"):
		location = strings.TrimPrefix(raw, "sqlite:")
	case strings.Contains(raw, "://"):
		return "", "", fmt.Errorf("unsupported database URL %q: use sqlite:PATH or postgres://USER@HOST/DB", redactURL(raw))
	default:
		location = raw
	}
	if location == "" {
		return "", "", errors.New("sqlite database URL has no path")
	}
	return engineSQLite, location, nil
}

// Redact returns a database URL with its password hidden, for messages
// and logs.
func Redact(raw string) string { return redactURL(raw) }

// redactURL hides the password of a URL, for messages and logs.
func redactURL(raw string) string {
	if !strings.HasPrefix(raw, "postgres://") && !strings.HasPrefix(raw, "postgresql://") {
		return raw // no password there
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// --- SQLite connections ---

// sqliteDSN builds the DSN for the file at path. Pragmas are set per
// connection by the driver:
//   - journal_mode WAL: readers never block the writer;
//   - synchronous FULL: the WAL is fsynced at every commit, so a committed
//     transaction survives a crash or power loss (durability before a 2xx).
//     The writer goroutine's connection switches to NORMAL, because the
//     syncer fsyncs the WAL before any of its commits is answered
//     (syncer.go); migrations and every other connection keep FULL;
//   - busy_timeout: another process (parley apps create) holding the write
//     lock makes us wait up to 10 s instead of failing;
//   - foreign_keys ON;
//   - temp_store MEMORY: the sub-journal that lets a group-commit batch
//     roll one request back to its SAVEPOINT lives in memory instead of a
//     temporary file. It only serves rollbacks inside a live transaction
//     and is dropped at commit, so durability is unchanged (the WAL is
//     still fsynced at every commit); it saves a write(2) of every page a
//     request first changes in its savepoint.
func sqliteDSN(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", "temp_store(MEMORY)")
	if readOnly {
		q.Add("_pragma", "query_only(ON)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// openSQLite opens the one writer connection and the read-only pool of
// the file at path.
func openSQLite(ctx context.Context, path string) (write, read *sql.DB, err error) {
	if err := prepareSQLiteDir(path); err != nil {
		return nil, nil, err
	}
	// Two processes opening a new file at once race to switch it to WAL,
	// and SQLite answers the loser "busy" at once, without waiting for
	// busy_timeout: try again, within the same bound.
	deadline := time.Now().Add(sqliteBusyWait)
	for {
		write, err = openSQLiteWriter(ctx, path)
		if err == nil {
			break
		}
		if !isBusy(err) || time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("store: open %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("store: open %s: %w", path, ctx.Err())
		case <-time.After(time.Duration(rand.Int64N(int64(50 * time.Millisecond)))):
		}
	}
	read, err = sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		write.Close()
		return nil, nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	read.SetMaxOpenConns(readConns)
	read.SetMaxIdleConns(readConns)
	return write, read, nil
}

// openSQLiteWriter opens the writer and makes sure its connection works.
func openSQLiteWriter(ctx context.Context, path string) (*sql.DB, error) {
	w, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// prepareSQLiteDir makes sure the database's directory exists and is
// writable, so that a bad data directory is one clear error at start.
func prepareSQLiteDir(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory %s: %w", dir, errors.Unwrap(err))
	}
	f, err := os.CreateTemp(dir, ".parley-write-test-*")
	if err != nil {
		return fmt.Errorf("data directory %s is not writable", dir)
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

// --- PostgreSQL connections ---

// openPostgres opens a pool of pgx connections through database/sql and
// checks that the server answers.
func openPostgres(ctx context.Context, raw string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid PostgreSQL URL %s: %v", redactURL(raw), errors.Unwrap(err))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgConnectTimeout
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "parley"
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(pgConns)
	db.SetMaxIdleConns(pgConns)
	db.SetConnMaxIdleTime(pgConnIdle)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, &oneLineError{msg: "connect to PostgreSQL at " + redactURL(raw) + ": " + oneLine(err.Error()), err: err}
	}
	return db, nil
}

// oneLineError is an error whose message is kept on one line (commands
// print errors as one line) and that still wraps its cause.
type oneLineError struct {
	msg string
	err error
}

func (e *oneLineError) Error() string { return e.msg }
func (e *oneLineError) Unwrap() error { return e.err }

// oneLine joins the lines of a multi-line message (pgx lists each
// connection attempt on its own line), dropping repeated ones.
func oneLine(s string) string {
	var parts []string
	seen := map[string]bool{}
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !seen[l] {
			seen[l] = true
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}

// --- transactions ---

// writeTxOptions: SQLite's writer is alone, so its transactions are
// serial by construction (BEGIN IMMEDIATE through the DSN). PostgreSQL runs
// writes concurrently on the pool; SERIALIZABLE keeps the use cases'
// read-check-write logic as correct as it is behind SQLite's one writer,
// at the price of serialization failures, which DB.Write retries.
func (d *dialect) writeTxOptions() *sql.TxOptions {
	if d.postgres() {
		return &sql.TxOptions{Isolation: sql.LevelSerializable}
	}
	return nil
}

// readTxOptions: a Read is one consistent snapshot. SQLite's read
// transaction is one by nature; PostgreSQL needs REPEATABLE READ (READ
// COMMITTED takes a new snapshot per statement). Read-only REPEATABLE
// READ never fails to serialize.
func (d *dialect) readTxOptions() *sql.TxOptions {
	if d.postgres() {
		return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	return &sql.TxOptions{ReadOnly: true}
}

// --- queries ---

// query is q as the engine wants it.
func (d *dialect) query(q string) string {
	if !d.postgres() {
		return q
	}
	return d.binds.get(q)
}

// bindCache remembers rebound queries. Most queries are constants, but
// filters build variants (IN lists of every length), so the cache stops
// growing at maxBoundQueries and rebinds the rest each time (rebinding is
// a linear scan; the cache only saves allocations).
type bindCache struct {
	m sync.Map // string -> string
	n atomic.Int64
}

func (c *bindCache) get(q string) string {
	if v, ok := c.m.Load(q); ok {
		return v.(string)
	}
	b := rebind(q)
	if c.n.Load() < maxBoundQueries {
		if _, loaded := c.m.LoadOrStore(q, b); !loaded {
			c.n.Add(1)
		}
	}
	return b
}

// rebind rewrites a query from SQLite's spelling to PostgreSQL's: every
// '?' becomes $1, $2, ... in order, and the keyword LIKE becomes ILIKE.
// String literals ('...' with ” inside), quoted identifiers ("...") and
// comments (-- and /* */) are copied unchanged.
func rebind(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(q) {
				if q[j] == c {
					if j+1 < len(q) && q[j+1] == c { // a doubled quote stays inside
						j += 2
						continue
					}
					break
				}
				j++
			}
			end := min(j+1, len(q))
			b.WriteString(q[i:end])
			i = end
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			end := len(q)
			if k := strings.IndexByte(q[i:], '\n'); k >= 0 {
				end = i + k
			}
			b.WriteString(q[i:end])
			i = end
		case c == '/' && strings.HasPrefix(q[i:], "/*"):
			end := len(q)
			if k := strings.Index(q[i+2:], "*/"); k >= 0 {
				end = i + 2 + k + 2
			}
			b.WriteString(q[i:end])
			i = end
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			i++
		case isWordByte(c):
			j := i
			for j < len(q) && isWordByte(q[j]) {
				j++
			}
			if w := q[i:j]; strings.EqualFold(w, "like") {
				b.WriteString("ILIKE")
			} else {
				b.WriteString(w)
			}
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// jsonText is the SQL expression for the string at the top-level key of a
// JSON object stored as TEXT in col (NULL when absent). key must be a
// constant identifier. PostgreSQL's JSON functions refuse a document with
// an escaped NUL (\u0000) anywhere in it, and a refusal would fail the
// whole query, so such documents count as having no value there; the
// result is in the "C" collation, like every stored text column, so that
// ILIKE on it is ASCII-only case-insensitive as on SQLite.
func (d *dialect) jsonText(col, key string) string {
	if d.postgres() {
		return `(CASE WHEN strpos(` + col + `, '\u0000') = 0 THEN ` + col + `::jsonb ->> '` + key + `' END) COLLATE "C"`
	}
	return "json_extract(" + col + ", '$." + key + "')"
}

// messageOrderLock returns the statement that makes message ids of an app
// follow commit order (docs/decisions/message-cursors.md: a reader that
// saw id N never later sees a new id below N), or "" when the engine
// guarantees it already. SQLite has one writer. On PostgreSQL ids come
// from a sequence as rows are inserted, so two concurrent transactions
// could commit in the other order; a transaction-scoped advisory lock per
// app, taken before the id is drawn, serialises the inserts of one app
// until commit. Argument: the lock key from messageOrderKey.
func (d *dialect) messageOrderLock() string {
	if d.postgres() {
		return `SELECT pg_advisory_xact_lock(?)`
	}
	return ""
}

// sessionLock and sessionUnlock take and release a message order lock for
// a whole connection, around a transaction (see DB.writePostgres). A
// session lock and a transaction lock on one key exclude each other, and
// a session may take its own key again.
func (d *dialect) sessionLock() string   { return `SELECT pg_advisory_lock(?)` }
func (d *dialect) sessionUnlock() string { return `SELECT pg_advisory_unlock(?)` }

// messageOrderKey is the advisory lock key of an app's message order.
func messageOrderKey(appID string) int64 {
	h := fnv.New64a()
	h.Write([]byte("parley.messages\x00" + appID)) //nolint:errcheck // hash writes never fail
	return int64(h.Sum64())
}

// skipLocked is the clause that locks the selected rows and skips those
// another transaction holds (a delivery another node is claiming), or ""
// on SQLite, whose one writer needs no row locks.
func (d *dialect) skipLocked() string {
	if d.postgres() {
		return `FOR UPDATE SKIP LOCKED`
	}
	return ""
}

// --- migrations ---

// migrationDir is the embedded directory of the engine's migrations.
func (d *dialect) migrationDir() string { return "migrations/" + d.engine }

// createMigrationsTable is the statement that creates schema_migrations.
func (d *dialect) createMigrationsTable() string {
	if d.postgres() {
		return `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`
	}
	return `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`
}

// migrationLock is run first in every migration transaction so that two
// processes migrating one database at once apply each migration once: the
// second waits, then finds the version recorded. SQLite needs nothing:
// the writer's transactions are IMMEDIATE, which takes the file's write
// lock at BEGIN. On PostgreSQL, a transaction-scoped advisory lock (per
// database) does it, and also guards CREATE TABLE IF NOT EXISTS, which is
// not safe against a concurrent twin.
func (d *dialect) migrationLock() string {
	if d.postgres() {
		return `SELECT pg_advisory_xact_lock(` + strconv.FormatInt(migrationLockKey, 10) + `)`
	}
	return ""
}

// migrationLockKey is an arbitrary constant: "parley" in ASCII.
const migrationLockKey = 0x7061726c6579

// --- identity columns ---

// resetIdentity is the statement that makes the next generated id of
// table.col follow the largest one present, after rows were inserted with
// explicit ids (Copy). SQLite's AUTOINCREMENT follows by itself.
func (d *dialect) resetIdentity(table, col string) string {
	if d.postgres() {
		return `SELECT setval(pg_get_serial_sequence('` + table + `', '` + col + `'), coalesce((SELECT max(` + col + `) FROM ` + table + `), 0) + 1, false)`
	}
	return ""
}

// --- errors ---

// PostgreSQL error codes (SQLSTATE) parley acts on.
const (
	pgUniqueViolation          = "23505"
	pgSerializationFailure     = "40001"
	pgDeadlockDetected         = "40P01"
	pgCharacterNotInRepertoire = "22021" // e.g. a NUL byte in text
	pgUntranslatableCharacter  = "22P05" // e.g. \u0000 in JSON
)

// translate turns a driver error into a domain error where one applies.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	wrapped := fmt.Errorf("store: %s: %w", op, err)
	switch {
	case isUniqueViolation(err):
		return &chat.Error{Kind: chat.KindConflict, Code: "ERR_ALREADY_EXISTS", Message: "The resource already exists.", Err: wrapped}
	case isBusy(err):
		return &chat.Error{Kind: chat.KindUnavailable, Code: "ERR_OPERATION_FAILED", Message: "The database is busy; try again.", Err: wrapped}
	case isUnstorableText(err):
		return &chat.Error{Kind: chat.KindInvalid, Code: "ERR_BAD_REQUEST", Message: "The request contains a character that cannot be stored (NUL).", Err: wrapped}
	case isUnreachable(err):
		return &chat.Error{Kind: chat.KindUnavailable, Code: "ERR_OPERATION_FAILED", Message: "The database is unreachable; try again.", Err: wrapped}
	}
	if chat.AsError(err) != nil {
		return err
	}
	return wrapped
}

func sqliteCode(err error) (int, bool) {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code(), true
	}
	return 0, false
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// isUniqueViolation reports whether err is a unique-constraint failure.
func isUniqueViolation(err error) bool {
	if c, ok := sqliteCode(err); ok {
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return pgCode(err) == pgUniqueViolation
}

// isBusy reports whether err says "another transaction is in the way; run
// again": SQLite's busy or locked, PostgreSQL's serialization failure or
// deadlock.
func isBusy(err error) bool {
	if c, ok := sqliteCode(err); ok {
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return isRetryable(err)
}

// isRetryable reports whether a PostgreSQL write failed only because of a
// concurrent transaction, so that running it again from the start may
// succeed.
func isRetryable(err error) bool {
	c := pgCode(err)
	return c == pgSerializationFailure || c == pgDeadlockDetected
}

// isUnreachable reports whether err says the PostgreSQL server could not
// be reached or ended the session: a failed connection attempt (refused,
// timed out, or refused by the server: starting up, shutting down, not
// accepting connections), a connection-exception or operator-intervention
// SQLSTATE (class 08, 57P01-57P03: terminated by an administrator, a
// crash of another backend, a restart), or a connection pgx found closed
// or broken. The pool replaces such connections by itself; the request
// fails as KindUnavailable (503), which clients retry.
func isUnreachable(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	switch c := pgCode(err); {
	case strings.HasPrefix(c, "08"), c == "57P01", c == "57P02", c == "57P03":
		return true
	case c != "":
		return false // any other answer of the server: it is reachable
	}
	if _, ok := sqliteCode(err); ok {
		return false
	}
	var ne net.Error
	return errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) || pgconn.Timeout(err) && !errors.Is(err, context.Canceled)
}

// isUnstorableText reports text PostgreSQL refuses to store (SQLite
// stores any bytes).
func isUnstorableText(err error) bool {
	c := pgCode(err)
	return c == pgCharacterNotInRepertoire || c == pgUntranslatableCharacter
}

// abortsTx reports whether err, returned by a statement, left the
// transaction unusable: on PostgreSQL any error raised by the server does
// (every later statement fails until ROLLBACK); on SQLite a failed
// statement undoes only itself.
func (d *dialect) abortsTx(err error) bool {
	if err == nil || !d.postgres() {
		return false
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe)
}

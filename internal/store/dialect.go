package store

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"parley/internal/chat"
)

// This file holds every difference between the SQL dialects parley speaks.
// Queries elsewhere are written once, with '?' placeholders and portable
// SQL (INSERT ... ON CONFLICT, RETURNING, integer timestamps, JSON as TEXT).

// sqliteDSN builds the DSN for the file at path. Pragmas are set per
// connection by the driver:
//   - journal_mode WAL: readers never block the writer;
//   - synchronous FULL: the WAL is fsynced at every commit, so a committed
//     transaction survives a crash or power loss (durability before a 2xx);
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

// ParseURL splits a database URL into the engine and its location. Accepted:
// "sqlite:PATH", "sqlite://PATH", a bare path; "postgres://" and
// "postgresql://" are recognised and refused until the PostgreSQL dialect
// exists.
func ParseURL(raw string) (engine, location string, err error) {
	switch {
	case raw == "":
		return "", "", errors.New("database URL is empty")
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		return "", "", errors.New("PostgreSQL is not supported yet by this build of parley; use a sqlite: database URL")
	case strings.HasPrefix(raw, "sqlite://"):
		location = strings.TrimPrefix(raw, "sqlite://")
	case strings.HasPrefix(raw, "sqlite:"):
		location = strings.TrimPrefix(raw, "sqlite:")
	case strings.Contains(raw, "://"):
		return "", "", fmt.Errorf("unsupported database URL %q: use sqlite:PATH", raw)
	default:
		location = raw
	}
	if location == "" {
		return "", "", errors.New("sqlite database URL has no path")
	}
	return "sqlite", location, nil
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

// translate turns a driver error into a domain error where one applies.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &chat.Error{Kind: chat.KindConflict, Code: "ERR_ALREADY_EXISTS", Message: "The resource already exists.", Err: fmt.Errorf("store: %s: %w", op, err)}
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return &chat.Error{Kind: chat.KindUnavailable, Code: "ERR_OPERATION_FAILED", Message: "The database is busy; try again.", Err: fmt.Errorf("store: %s: %w", op, err)}
		}
	}
	if chat.AsError(err) != nil {
		return err
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// isUniqueViolation reports whether err is a unique-constraint failure.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// jsonText is the SQL expression for the string at the top-level key of a
// JSON object stored as TEXT in col (NULL when absent). SQLite's JSON1;
// PostgreSQL will be (col::jsonb ->> 'key').
func jsonText(col, key string) string {
	return "json_extract(" + col + ", '$." + key + "')"
}

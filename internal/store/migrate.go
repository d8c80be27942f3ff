package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Migrations are numbered SQL files, one directory per engine, with the
// same numbers and names in both (TestMigrationsArePaired checks it):
// migrations/sqlite/0004_bots.sql and migrations/postgres/0004_bots.sql
// make the same schema change in each dialect.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations(dir string) ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("store: migration %s: name must start with a number and '_'", e.Name())
		}
		b, err := fs.ReadFile(migrationFiles, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// MigrateResult says what Migrate did.
type MigrateResult struct {
	Applied []string // the migrations applied now, in order
	Version int      // the newest migration in the database afterwards
}

// Migrate applies the pending migrations of the database at url and closes
// it. Open does the same at every start; `parley migrate` calls this to do
// it explicitly (before starting new nodes, for instance).
func Migrate(ctx context.Context, url string, opt Options) (MigrateResult, error) {
	db, err := open(ctx, url, opt)
	if err != nil {
		return MigrateResult{}, err
	}
	defer db.closeConns() //nolint:errcheck // nothing was written outside committed transactions
	applied, err := db.migrate(ctx)
	if err != nil {
		return MigrateResult{Applied: applied}, err
	}
	v, err := db.SchemaVersion(ctx)
	return MigrateResult{Applied: applied, Version: v}, err
}

// migrate applies every migration newer than the database, each in its own
// transaction, and returns the names of those it applied. Each transaction
// first takes the dialect's migration lock, then checks the version: two
// processes migrating at once apply each migration once (the second waits
// for the lock, then sees the version recorded).
func (db *DB) migrate(ctx context.Context) ([]string, error) {
	if err := db.migrationTx(ctx, func(tx *Tx) error {
		_, err := tx.q.ExecContext(ctx, db.d.createMigrationsTable())
		return err
	}); err != nil {
		return nil, fmt.Errorf("store: create schema_migrations: %w", err)
	}
	ms, err := loadMigrations(db.d.migrationDir())
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, m := range ms {
		did := false
		err := db.migrationTx(ctx, func(tx *Tx) error {
			var n int
			if err := tx.q.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			// Multi-statement text: run it without arguments, so that both
			// drivers use their simple protocol.
			if _, err := tx.q.run.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			if _, err := tx.q.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, tx.Unix()); err != nil {
				return err
			}
			did = true
			return nil
		})
		if err != nil {
			return applied, fmt.Errorf("store: migration %s: %w", m.name, err)
		}
		if did {
			applied = append(applied, m.name)
			db.log.Info("store: applied migration", "name", m.name)
		}
	}
	return applied, nil
}

// migrationTx runs fn in a write transaction on the write connection,
// outside the writer (which is not started yet), holding the migration
// lock.
func (db *DB) migrationTx(ctx context.Context, fn func(*Tx) error) error {
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer sqlTx.Rollback() //nolint:errcheck // no-op after commit
	tx := db.newTx(txRunner{sqlTx})
	if lock := db.d.migrationLock(); lock != "" {
		if _, err := tx.q.ExecContext(ctx, lock); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	return sqlTx.Commit()
}

// SchemaVersion returns the newest applied migration.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.read.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

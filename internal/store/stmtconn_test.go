package store

import (
	"context"
	"fmt"
	"testing"

	"parley/internal/chat"
)

// countNested runs q and, for every row, q again: with prepared statements
// a nested run of the same text must not reset the outer cursor.
func countNested(ctx context.Context, tx *Tx, q string) (outer, inner int, err error) {
	rows, err := tx.q.QueryContext(ctx, q)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		outer++
		in, err := tx.q.QueryContext(ctx, q)
		if err != nil {
			return 0, 0, err
		}
		for in.Next() {
			inner++
		}
		if err := in.Close(); err != nil {
			return 0, 0, err
		}
	}
	return outer, inner, rows.Err()
}

// PostgreSQL (pgx) cannot run a query on a connection while another's
// rows are open at all, so the store never nests queries on one Tx; the
// nesting half runs on SQLite only.
func TestPreparedStatementsNestAndRecover(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := openTest(t, engine)
		const q = `SELECT uid FROM users WHERE app_id = 'app1' ORDER BY uid`
		// nested checks the nested runs in a write or read transaction.
		nested := func(tx *Tx, where string) error {
			if engine != "sqlite" {
				return nil
			}
			outer, inner, err := countNested(ctx, tx, q)
			if err == nil && (outer != 3 || inner != 9) {
				t.Errorf("%s: outer %d inner %d rows, want 3 and 9", where, outer, inner)
			}
			return err
		}
		for round := 0; round < 2; round++ { // the second round runs the kept statements
			if err := db.Write(ctx, func(tx *Tx) error {
				for _, uid := range []string{"a", "b", "c"} {
					if round == 0 {
						if err := insertUser(ctx, tx, uid); err != nil {
							return err
						}
					}
				}
				return nested(tx, fmt.Sprintf("write round %d", round))
			}); err != nil {
				t.Fatal(err)
			}
			if err := db.Read(ctx, func(tx *Tx) error { return nested(tx, fmt.Sprintf("read round %d", round)) }); err != nil {
				t.Fatal(err)
			}
		}

		// A statement that failed (a duplicate) stays usable, and the
		// failed request's savepoint is undone without harm to others.
		err := db.Write(ctx, func(tx *Tx) error { return insertUser(ctx, tx, "a") })
		if chat.KindOf(err) != chat.KindConflict {
			t.Fatalf("duplicate insert: %v, want a conflict", err)
		}
		if err := db.Write(ctx, func(tx *Tx) error { return insertUser(ctx, tx, "d") }); err != nil {
			t.Fatal(err)
		}
		// Invalid SQL is reported, not cached.
		err = db.Read(ctx, func(tx *Tx) error {
			_, err := tx.q.QueryContext(ctx, `SELECT nope FROM users`)
			return err
		})
		if err == nil {
			t.Fatal("invalid SQL ran")
		}
		var n int
		if err := db.Read(ctx, func(tx *Tx) error {
			return tx.q.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE app_id = 'app1'`).Scan(&n)
		}); err != nil || n != 4 {
			t.Fatalf("users after the failures: %d, %v; want 4", n, err)
		}
	})
}

// A cancelled read leaves no transaction open on its connection: the
// next reads on every pooled connection see new commits.
func TestCancelledReadEndsItsTransaction(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, "sqlite")
	for i := 0; i < 2*readConns; i++ {
		cctx, cancel := context.WithCancel(ctx)
		_ = db.Read(cctx, func(tx *Tx) error {
			var n int
			err := tx.q.QueryRowContext(cctx, `SELECT count(*) FROM users`).Scan(&n)
			cancel()
			return err
		})
	}
	if err := db.Write(ctx, func(tx *Tx) error { return insertUser(ctx, tx, "late") }); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2*readConns; i++ {
		var n int
		if err := db.Read(ctx, func(tx *Tx) error {
			return tx.q.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n)
		}); err != nil || n != 1 {
			t.Fatalf("read %d: %d users, %v; want 1", i, n, err)
		}
	}
}

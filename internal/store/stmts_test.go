package store

import (
	"context"
	"fmt"
	"testing"
)

// TestNestedQuery runs a query again while rows of its first run are
// still open: the nested run must not disturb the outer one. Each second
// round runs in a later transaction, with the statement kept prepared.
func TestNestedQuery(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := context.Background()
	if err := db.Write(ctx, func(tx *Tx) error {
		for i := range 3 {
			if err := insertUser(ctx, tx, fmt.Sprintf("u%d", i)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	const q = `SELECT uid FROM users WHERE app_id = ? ORDER BY uid`
	nested := func(tx *Tx) error {
		outer, err := tx.q.QueryContext(ctx, q, "app1")
		if err != nil {
			return err
		}
		defer outer.Close()
		var got []string
		for outer.Next() {
			var uid string
			if err := outer.Scan(&uid); err != nil {
				return err
			}
			inner, err := tx.q.QueryContext(ctx, q, "app1")
			if err != nil {
				return fmt.Errorf("nested query: %w", err)
			}
			n := 0
			for inner.Next() {
				n++
			}
			inner.Close()
			if n != 3 {
				return fmt.Errorf("nested query saw %d rows", n)
			}
			got = append(got, uid)
		}
		if err := outer.Err(); err != nil {
			return err
		}
		if fmt.Sprint(got) != "[u0 u1 u2]" {
			return fmt.Errorf("outer rows %v", got)
		}
		// Once closed, the statement is used again.
		again, err := tx.q.QueryContext(ctx, q, "app1")
		if err != nil {
			return err
		}
		return again.Close()
	}
	for round := range 2 {
		if err := db.Write(ctx, nested); err != nil {
			t.Fatalf("write, round %d: %v", round, err)
		}
		if err := db.Read(ctx, nested); err != nil {
			t.Fatalf("read, round %d: %v", round, err)
		}
	}
}

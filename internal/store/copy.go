package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"parley/internal/chat"
)

// Copying a whole database from one engine to the other (`parley copy`):
// the way from SQLite to PostgreSQL, and back.

// copyTables lists every table of the schema but schema_migrations, each
// after the tables it references: Copy fills them in this order and
// empties them in the reverse one. TestCopyCoversEveryTable fails when a
// migration adds a table that is not here.
var copyTables = []string{
	"apps", "api_keys", "users", "auth_tokens", "blocked_users", "admins", "sessions",
	"chat_groups", "group_members", "group_bans",
	"messages", "message_mentions", "conversations", "user_conversations",
	"bots", "deliveries", "delivery_attempts", "realtime_events",
	"cluster_nodes", "presence",
}

// identityColumns are the generated keys whose next value Copy moves past
// the copied rows.
var identityColumns = map[string]string{"messages": "id", "deliveries": "id", "realtime_events": "id"}

// copyBatchParams bounds the values of one multi-row INSERT: SQLite allows
// 32766 parameters per statement, PostgreSQL 65535. Fewer, larger
// statements copy faster; this keeps each well under both limits.
const copyBatchParams = 8000

// CopyOptions tune Copy.
type CopyOptions struct {
	// Replace empties the target's tables first (in the same
	// transaction). Without it, a target that holds any row is refused.
	Replace bool
}

// ErrTargetNotEmpty is the code of Copy's error for a target that holds
// rows.
const ErrTargetNotEmpty = "ERR_TARGET_NOT_EMPTY"

// TableCount is how many rows Copy copied into one table.
type TableCount struct {
	Table string
	Rows  int64
}

// Copy copies every row of src into dst: one read snapshot of src, one
// write transaction on dst (all or nothing), tables in dependency order,
// rows in batches, then identity sequences moved past the copied ids.
// Both databases must be at the same schema version (Open migrates both).
// Writes made to src while Copy runs are not copied: stop the servers
// first.
func Copy(ctx context.Context, src, dst *DB, opt CopyOptions) ([]TableCount, error) {
	sv, err := src.SchemaVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: copy: source schema version: %w", err)
	}
	dv, err := dst.SchemaVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: copy: target schema version: %w", err)
	}
	if sv != dv {
		return nil, fmt.Errorf("store: copy: the source is at schema version %d and the target at %d; run the same parley version on both", sv, dv)
	}
	var counts []TableCount
	err = src.Read(ctx, func(stx *Tx) error {
		return dst.Write(ctx, func(dtx *Tx) error {
			counts = counts[:0] // a retried write starts over
			if err := prepareTarget(ctx, dtx, opt.Replace); err != nil {
				return err
			}
			for _, table := range copyTables {
				n, err := copyTable(ctx, stx, dtx, table)
				if err != nil {
					return err
				}
				counts = append(counts, TableCount{Table: table, Rows: n})
				if col := identityColumns[table]; col != "" {
					if reset := dtx.d.resetIdentity(table, col); reset != "" {
						if _, err := dtx.q.ExecContext(ctx, reset); err != nil {
							return translate("copy: reset identity of "+table, err)
						}
					}
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// prepareTarget refuses a target with rows, or empties it with replace.
func prepareTarget(ctx context.Context, tx *Tx, replace bool) error {
	if replace {
		for _, table := range slices.Backward(copyTables) {
			if _, err := tx.q.ExecContext(ctx, `DELETE FROM `+table); err != nil {
				return translate("copy: empty "+table, err)
			}
		}
		return nil
	}
	for _, table := range copyTables {
		var n int
		if err := tx.q.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM `+table+` LIMIT 1) x`).Scan(&n); err != nil {
			return translate("copy: check "+table, err)
		}
		if n > 0 {
			return chat.Errorf(chat.KindConflict, ErrTargetNotEmpty, "the target database is not empty (table %s has rows)", table)
		}
	}
	return nil
}

// copyTable copies every row of one table, with its columns as the source
// has them (the target has the same, being at the same schema version).
func copyTable(ctx context.Context, src, dst *Tx, table string) (int64, error) {
	rows, err := src.q.QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return 0, translate("copy: read "+table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, translate("copy: read "+table, err)
	}
	perBatch := max(1, copyBatchParams/len(cols))
	row := "(" + placeholders(len(cols)) + ")"
	insert := func(args []any) error {
		n := len(args) / len(cols)
		q := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES ` + strings.Repeat(row+", ", n-1) + row
		if _, err := dst.q.ExecContext(ctx, q, args...); err != nil {
			// The driver's own words: they name the value that does not
			// fit (a NUL character in text, for PostgreSQL).
			return fmt.Errorf("store: copy: write %s: %w", table, err)
		}
		return nil
	}
	var total int64
	args := make([]any, 0, perBatch*len(cols))
	for rows.Next() {
		vals, err := scanValues(rows, len(cols))
		if err != nil {
			return total, translate("copy: read "+table, err)
		}
		args = append(args, vals...)
		total++
		if len(args) == perBatch*len(cols) {
			if err := insert(args); err != nil {
				return total, err
			}
			args = args[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return total, translate("copy: read "+table, err)
	}
	if len(args) > 0 {
		if err := insert(args); err != nil {
			return total, err
		}
	}
	return total, nil
}

// scanValues reads the current row of rows: n columns, each as the driver
// gives it.
func scanValues(rows interface{ Scan(...any) error }, n int) ([]any, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, rows.Scan(ptrs...)
}

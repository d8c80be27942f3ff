package store

import (
	"context"
	"database/sql"
	"errors"
)

// Presence across the nodes of a cluster (docs/decisions/cluster.md).
//
// Every node serving a PostgreSQL database has a row in cluster_nodes
// whose lease it renews (RenewNode); a node whose lease ran out is dead.
// A user connected to a node has one presence row for that node. A user
// is available while one of its rows belongs to a live node, or to the
// node asking (a node knows it is alive). The node whose maintenance turn
// it is ends dead nodes (DeleteNode, DeleteNodePresence): their users
// without another live row go offline then.
//
// SQLite serves one node, whose hub knows its connections: the app never
// writes these tables there, but the methods work on both engines (the
// conformance suite runs them on both).

// Node is a row of cluster_nodes. Times are Unix milliseconds.
type Node struct {
	ID          string
	StartedAt   int64
	HeartbeatAt int64
	LeaseUntil  int64
}

// PresenceRow is a user's presence on one node.
type PresenceRow struct {
	AppID, UID, Node string
	Since            int64 // Unix ms: when the user's first connection there opened
}

// presenceLookupMax is the largest list of uids PresentUIDs looks up by
// name; for a longer list it reads every present user of the app instead
// (cheaper than many IN lists when most of the app is asked).
const presenceLookupMax = 500

// RenewNode records that node lives at nowMs and extends its lease to
// untilMs. It reports whether it had to create the node's row: the node
// is new, or it was ended as dead meanwhile (its lease ran out and its
// presence rows were deleted), and must announce its users again.
//
// On PostgreSQL it runs as single statements outside any SERIALIZABLE
// transaction: a heartbeat never makes a concurrent write (which reads
// the lease to tell live rows) fail to serialize. A concurrent
// DeleteNode either sees the renewed lease (it then fails to serialize
// and runs again) or deletes the row first (the renewal then creates it).
func (db *DB) RenewNode(ctx context.Context, node string, nowMs, untilMs int64) (created bool, err error) {
	if !db.d.postgres() {
		err = db.Write(ctx, func(tx *Tx) error {
			created, err = renewNode(ctx, tx.q.ExecContext, node, nowMs, untilMs)
			return err
		})
		return created, err
	}
	exec := func(ctx context.Context, q string, args ...any) (sql.Result, error) {
		return db.write.ExecContext(ctx, db.d.query(q), args...)
	}
	return renewNode(ctx, exec, node, nowMs, untilMs)
}

func renewNode(ctx context.Context, exec func(context.Context, string, ...any) (sql.Result, error), node string, nowMs, untilMs int64) (bool, error) {
	res, err := exec(ctx, `UPDATE cluster_nodes SET heartbeat_at = ?, lease_until = ? WHERE id = ?`, nowMs, untilMs, node)
	if err != nil {
		return false, translate("renew node", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return false, nil
	}
	if _, err := exec(ctx, `INSERT INTO cluster_nodes (id, started_at, heartbeat_at, lease_until) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, lease_until = excluded.lease_until`,
		node, nowMs, nowMs, untilMs); err != nil {
		return false, translate("register node", err)
	}
	return true, nil
}

// NodeExists reports whether node has a row (live or not yet ended).
func (tx *Tx) NodeExists(ctx context.Context, node string) (bool, error) {
	var one int
	err := tx.q.QueryRowContext(ctx, `SELECT 1 FROM cluster_nodes WHERE id = ?`, node).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, translate("node exists", err)
}

// ExpiredNodes lists the nodes whose lease ended at or before nowMs.
func (tx *Tx) ExpiredNodes(ctx context.Context, nowMs int64) ([]Node, error) {
	var out []Node
	err := tx.forEachRow(ctx, "expired nodes", `SELECT id, started_at, heartbeat_at, lease_until FROM cluster_nodes WHERE lease_until <= ? ORDER BY id`,
		[]any{nowMs}, func(rows *rowSet) error {
			var n Node
			if err := rows.Scan(&n.ID, &n.StartedAt, &n.HeartbeatAt, &n.LeaseUntil); err != nil {
				return err
			}
			out = append(out, n)
			return nil
		})
	return out, err
}

// DeleteNode deletes node's row if its lease ended before expiredBefore
// (math.MaxInt64: whatever its lease) and reports whether it did, with
// the row as it was.
func (tx *Tx) DeleteNode(ctx context.Context, node string, expiredBefore int64) (Node, bool, error) {
	n := Node{ID: node}
	err := tx.q.QueryRowContext(ctx, `DELETE FROM cluster_nodes WHERE id = ? AND lease_until < ? RETURNING started_at, heartbeat_at, lease_until`,
		node, expiredBefore).Scan(&n.StartedAt, &n.HeartbeatAt, &n.LeaseUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return n, false, nil
	}
	return n, err == nil, translate("delete node", err)
}

// AddPresence records that uid has a connection on node since sinceMs
// (kept when the row exists).
func (tx *Tx) AddPresence(ctx context.Context, appID, uid, node string, sinceMs int64) error {
	_, err := tx.q.ExecContext(ctx, `INSERT INTO presence (app_id, uid, node, since) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		appID, uid, node, sinceMs)
	return translate("add presence", err)
}

// RemovePresence records that uid has no connection left on node.
func (tx *Tx) RemovePresence(ctx context.Context, appID, uid, node string) error {
	_, err := tx.q.ExecContext(ctx, `DELETE FROM presence WHERE app_id = ? AND uid = ? AND node = ?`, appID, uid, node)
	return translate("remove presence", err)
}

// DeleteNodePresence deletes every presence row of node and returns them.
func (tx *Tx) DeleteNodePresence(ctx context.Context, node string) ([]PresenceRow, error) {
	var out []PresenceRow
	err := tx.forEachRow(ctx, "delete node presence", `DELETE FROM presence WHERE node = ? RETURNING app_id, uid, node, since`,
		[]any{node}, func(rows *rowSet) error {
			var p PresenceRow
			if err := rows.Scan(&p.AppID, &p.UID, &p.Node, &p.Since); err != nil {
				return err
			}
			out = append(out, p)
			return nil
		})
	return out, err
}

// liveRow is the condition on a presence row p that makes it count: its
// node is the one asking (first argument) or holds a lease past now
// (second argument).
const liveRow = `(p.node = ? OR EXISTS (SELECT 1 FROM cluster_nodes n WHERE n.id = p.node AND n.lease_until > ?))`

// Present reports whether uid has a live presence row at nowMs; self is
// the asking node, whose rows count whatever its lease ("" for none).
func (tx *Tx) Present(ctx context.Context, appID, uid, self string, nowMs int64) (bool, error) {
	var one int
	err := tx.q.QueryRowContext(ctx, `SELECT 1 FROM presence p WHERE p.app_id = ? AND p.uid = ? AND `+liveRow+` LIMIT 1`,
		appID, uid, self, nowMs).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, translate("presence", err)
}

// PresentUIDs returns which of uids have a live presence row at nowMs
// (self as in Present). Past presenceLookupMax uids it reads every
// present user of the app and keeps those asked.
func (tx *Tx) PresentUIDs(ctx context.Context, appID string, uids []string, self string, nowMs int64) (map[string]bool, error) {
	out := map[string]bool{}
	if len(uids) == 0 {
		return out, nil
	}
	scan := func(rows *rowSet) error {
		var uid string
		if err := rows.Scan(&uid); err != nil {
			return err
		}
		out[uid] = true
		return nil
	}
	if len(uids) > presenceLookupMax {
		all := map[string]bool{}
		err := tx.forEachRow(ctx, "present users", `SELECT DISTINCT p.uid FROM presence p WHERE p.app_id = ? AND `+liveRow,
			[]any{appID, self, nowMs}, func(rows *rowSet) error {
				var uid string
				if err := rows.Scan(&uid); err != nil {
					return err
				}
				all[uid] = true
				return nil
			})
		if err != nil {
			return nil, err
		}
		for _, u := range uids {
			if all[u] {
				out[u] = true
			}
		}
		return out, nil
	}
	args := make([]any, 0, len(uids)+3)
	args = append(args, appID)
	for _, u := range uids {
		args = append(args, u)
	}
	args = append(args, self, nowMs)
	err := tx.forEachRow(ctx, "present users", `SELECT DISTINCT p.uid FROM presence p WHERE p.app_id = ? AND p.uid IN (`+placeholders(len(uids))+`) AND `+liveRow,
		args, scan)
	return out, err
}

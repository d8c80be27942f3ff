package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/jackc/pgx/v5"
)

// What several nodes on one PostgreSQL database share beyond tables: the
// real-time outbox and its notifications, and the lock that elects the
// node doing the periodic work (docs/decisions/cluster.md); presence.go
// holds the nodes' leases and their users' presence. SQLite serves one
// node: Clustered is false and these are never used there, but for
// MaintenanceTurn (always this node) and Ready.

// RealtimeChannel is the PostgreSQL notification channel of the outbox.
const RealtimeChannel = "parley_events"

// maintenanceLockKey is the session advisory lock of the node that runs the
// periodic work: "parley.m" in ASCII.
const maintenanceLockKey = 0x7061726c65792e6d

// Clustered reports whether several processes may serve this database at
// once (PostgreSQL): real-time events then go through the outbox, and
// delivery leases are shared.
func (db *DB) Clustered() bool { return db.d.postgres() }

// RealtimeEvent is one row of the outbox: a frame for some users of an
// app, or for every connection of the app (ToApp).
type RealtimeEvent struct {
	ID    int64
	AppID string
	UIDs  []string
	ToApp bool
	Frame []byte
}

// InsertRealtimeEvents writes events to the outbox and notifies the
// listening nodes. The notification is sent by PostgreSQL at commit, and
// never for a transaction that rolls back.
func (tx *Tx) InsertRealtimeEvents(ctx context.Context, evs []RealtimeEvent) error {
	if len(evs) == 0 {
		return nil
	}
	for _, ev := range evs {
		uids, _ := json.Marshal(ev.UIDs) // []string always marshals
		if _, err := tx.q.ExecContext(ctx, `INSERT INTO realtime_events (app_id, uids, to_app, frame, created_at) VALUES (?, ?, ?, ?, ?)`,
			ev.AppID, string(uids), boolInt(ev.ToApp), string(ev.Frame), tx.Now.UnixMilli()); err != nil {
			return translate("insert realtime event", err)
		}
	}
	if tx.d.postgres() {
		var ignored string
		if err := tx.q.QueryRowContext(ctx, `SELECT pg_notify('`+RealtimeChannel+`', '')::text`).Scan(&ignored); err != nil {
			return translate("notify realtime event", err)
		}
	}
	return nil
}

// RealtimeEventsAfter returns up to limit outbox rows with an id above
// afterID, by id.
func (db *DB) RealtimeEventsAfter(ctx context.Context, afterID int64, limit int) ([]RealtimeEvent, error) {
	rows, err := db.read.QueryContext(ctx, db.d.query(`SELECT id, app_id, uids, to_app, frame FROM realtime_events WHERE id > ? ORDER BY id LIMIT ?`),
		afterID, limit)
	if err != nil {
		return nil, translate("read realtime events", err)
	}
	defer rows.Close()
	var out []RealtimeEvent
	for rows.Next() {
		var ev RealtimeEvent
		var uids, frame string
		var toApp int
		if err := rows.Scan(&ev.ID, &ev.AppID, &uids, &toApp, &frame); err != nil {
			return nil, translate("read realtime events", err)
		}
		if err := json.Unmarshal([]byte(uids), &ev.UIDs); err != nil {
			return nil, fmt.Errorf("store: realtime event %d: uids: %w", ev.ID, err)
		}
		ev.Frame = []byte(frame)
		ev.ToApp = toApp != 0
		out = append(out, ev)
	}
	return out, translate("read realtime events", rows.Err())
}

// LastRealtimeEventID is the newest outbox id, 0 when there is none.
func (db *DB) LastRealtimeEventID(ctx context.Context) (int64, error) {
	var id int64
	err := db.read.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM realtime_events`).Scan(&id)
	return id, translate("last realtime event", err)
}

// DeleteRealtimeEventsBefore deletes outbox rows written before beforeMs.
func (tx *Tx) DeleteRealtimeEventsBefore(ctx context.Context, beforeMs int64) (int, error) {
	res, err := tx.q.ExecContext(ctx, `DELETE FROM realtime_events WHERE created_at < ?`, beforeMs)
	if err != nil {
		return 0, translate("delete realtime events", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Listener is a dedicated PostgreSQL connection listening on
// RealtimeChannel.
type Listener struct{ conn *pgx.Conn }

// Listen opens a connection of its own (not from the pool: a listening
// session must stay the same) and listens on RealtimeChannel.
func (db *DB) Listen(ctx context.Context) (*Listener, error) {
	if !db.d.postgres() {
		return nil, errors.New("store: listen: only PostgreSQL has notifications")
	}
	cfg, err := pgx.ParseConfig(db.pgURL)
	if err != nil {
		return nil, fmt.Errorf("store: listen: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgConnectTimeout
	}
	cfg.RuntimeParams["application_name"] = "parley-listen"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: listen: connect: %s", oneLine(err.Error()))
	}
	if _, err := conn.Exec(ctx, `LISTEN `+RealtimeChannel); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("store: listen: %w", err)
	}
	return &Listener{conn: conn}, nil
}

// Wait blocks until a notification arrives, ctx ends or the connection
// fails (then the Listener is unusable: close it and listen again).
func (l *Listener) Wait(ctx context.Context) error {
	_, err := l.conn.WaitForNotification(ctx)
	return err
}

// Close closes the connection.
func (l *Listener) Close(ctx context.Context) error { return l.conn.Close(ctx) }

// maintenanceLock is the pool connection that holds the maintenance lock,
// when this node holds it.
type maintenanceLock struct {
	mu   sync.Mutex
	conn *sql.Conn
}

// MaintenanceTurn reports whether this node runs the periodic work now. On
// PostgreSQL the node holding a session advisory lock does; the lock is
// tried again on every call while another node holds it, and is lost with
// its connection (then another node, or this one, takes it). SQLite has
// one node: always true.
func (db *DB) MaintenanceTurn(ctx context.Context) (bool, error) {
	if !db.d.postgres() {
		return true, nil
	}
	m := &db.maint
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn != nil {
		if err := m.conn.PingContext(ctx); err == nil {
			return true, nil
		}
		m.conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // drop the connection, and with it the lock
		m.conn.Close()
		m.conn = nil
	}
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return false, translate("maintenance lock", err)
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(`+strconv.FormatInt(maintenanceLockKey, 10)+`)`).Scan(&ok); err != nil || !ok {
		conn.Close()
		return false, translate("maintenance lock", err)
	}
	m.conn = conn
	return true, nil
}

// release drops the maintenance lock with its connection (on Close).
func (m *maintenanceLock) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn != nil {
		m.conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // closing the session releases the lock
		m.conn.Close()
		m.conn = nil
	}
}

// ErrSchemaBehind is Ready's error when the schema is not this binary's.
var ErrSchemaBehind = errors.New("store: schema version differs from this binary's migrations")

// Ready reports whether the database answers and its schema is the one
// this binary knows (every embedded migration applied).
func (db *DB) Ready(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	ms, err := loadMigrations(db.d.migrationDir())
	if err != nil {
		return err
	}
	if want := ms[len(ms)-1].version; v != want {
		return fmt.Errorf("%w: at version %d, this binary needs %d", ErrSchemaBehind, v, want)
	}
	return nil
}

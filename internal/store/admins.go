package store

import (
	"context"
	"database/sql"
	"errors"

	"parley/internal/chat"
)

// Admin is a dashboard account.
type Admin struct {
	Username     string
	PasswordHash string // argon2id, PHC string form
	CreatedAt    int64
	UpdatedAt    int64
	LastLoginAt  int64
}

// Session is a dashboard login. IDHash is the SHA-256 (hex) of the value
// in the browser's cookie; the value itself is never stored.
type Session struct {
	IDHash     string
	Username   string
	CreatedAt  int64
	LastSeenAt int64
	ExpiresAt  int64
	UserAgent  string
	IP         string
}

func errAdminNotFound(username string) error {
	return chat.Errorf(chat.KindNotFound, "ERR_ADMIN_NOT_FOUND", "The dashboard account %q does not exist.", username)
}

// CountAdmins returns how many dashboard accounts exist.
func (tx *Tx) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := tx.q.QueryRowContext(ctx, `SELECT count(*) FROM admins`).Scan(&n)
	return n, translate("count admins", err)
}

// Admin returns one account.
func (tx *Tx) Admin(ctx context.Context, username string) (*Admin, error) {
	a := &Admin{}
	err := tx.q.QueryRowContext(ctx, `SELECT username, password_hash, created_at, updated_at, last_login_at FROM admins WHERE username = ?`,
		username).Scan(&a.Username, &a.PasswordHash, &a.CreatedAt, &a.UpdatedAt, &a.LastLoginAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errAdminNotFound(username)
	}
	return a, translate("get admin", err)
}

// UpsertAdmin creates the account, or sets the password of an existing one.
func (tx *Tx) UpsertAdmin(ctx context.Context, a *Admin) error {
	_, err := tx.q.ExecContext(ctx, `INSERT INTO admins (username, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, updated_at = excluded.updated_at`,
		a.Username, a.PasswordHash, a.CreatedAt, a.UpdatedAt)
	return translate("upsert admin", err)
}

// SetAdminLastLogin records a successful login.
func (tx *Tx) SetAdminLastLogin(ctx context.Context, username string, at int64) error {
	_, err := tx.q.ExecContext(ctx, `UPDATE admins SET last_login_at = ? WHERE username = ?`, at, username)
	return translate("set admin last login", err)
}

// InsertSession stores a session.
func (tx *Tx) InsertSession(ctx context.Context, s *Session) error {
	_, err := tx.q.ExecContext(ctx, `INSERT INTO sessions (id_hash, username, created_at, last_seen_at, expires_at, user_agent, ip)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, s.IDHash, s.Username, s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.UserAgent, s.IP)
	return translate("insert session", err)
}

// Session returns a session by the hash of its id, expired or not.
func (tx *Tx) Session(ctx context.Context, idHash string) (*Session, error) {
	s := &Session{}
	err := tx.q.QueryRowContext(ctx, `SELECT id_hash, username, created_at, last_seen_at, expires_at, user_agent, ip FROM sessions WHERE id_hash = ?`,
		idHash).Scan(&s.IDHash, &s.Username, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &s.UserAgent, &s.IP)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, chat.Errorf(chat.KindUnauthenticated, "ERR_SESSION_NOT_FOUND", "The session does not exist or has ended.")
	}
	return s, translate("get session", err)
}

// TouchSession moves a session's last use and expiry.
func (tx *Tx) TouchSession(ctx context.Context, idHash string, seenAt, expiresAt int64) error {
	_, err := tx.q.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id_hash = ?`, seenAt, expiresAt, idHash)
	return translate("touch session", err)
}

// DeleteSession ends one session; a missing one is not an error.
func (tx *Tx) DeleteSession(ctx context.Context, idHash string) error {
	_, err := tx.q.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
	return translate("delete session", err)
}

// DeleteAdminSessions ends every session of an account (after a password
// change).
func (tx *Tx) DeleteAdminSessions(ctx context.Context, username string) error {
	_, err := tx.q.ExecContext(ctx, `DELETE FROM sessions WHERE username = ?`, username)
	return translate("delete admin sessions", err)
}

// DeleteExpiredSessions removes the sessions expired at now.
func (tx *Tx) DeleteExpiredSessions(ctx context.Context, now int64) error {
	_, err := tx.q.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, now)
	return translate("delete expired sessions", err)
}

// MessageDeliveries returns the deliveries of one message to bots, with
// their attempts, oldest first (the chat console shows them).
func (tx *Tx) MessageDeliveries(ctx context.Context, appID string, messageID int64) ([]chat.Delivery, error) {
	rows, err := tx.q.QueryContext(ctx, `SELECT id, bot_uid FROM deliveries WHERE app_id = ? AND message_id = ? AND kind = 'message' ORDER BY id`,
		appID, messageID)
	if err != nil {
		return nil, translate("list message deliveries", err)
	}
	type ref struct {
		id  int64
		bot string
	}
	var refs []ref
	for rows.Next() {
		var r ref
		if err := rows.Scan(&r.id, &r.bot); err != nil {
			rows.Close()
			return nil, translate("list message deliveries", err)
		}
		refs = append(refs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, translate("list message deliveries", err)
	}
	out := make([]chat.Delivery, 0, len(refs))
	for _, r := range refs {
		d, err := tx.Delivery(ctx, appID, r.bot, r.id)
		if err != nil {
			return nil, err
		}
		d.Payload = nil
		out = append(out, *d)
	}
	return out, nil
}

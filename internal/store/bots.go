package store

import (
	"context"
	"database/sql"
	"errors"

	"parley/internal/chat"
)

const botColumns = `uid, webhook_url, group_chat_setting, enabled, use_basic_auth, username, password,
	secret, previous_secret, previous_secret_until, secret_rotated_at, max_in_flight, timeout_seconds,
	health_state, health_reason, consecutive_failures, last_success_at, last_failure_at, failing_since, next_probe_at, probe_interval,
	created_at, updated_at`

// BotRow is a bot with the fields the API never shows.
type BotRow struct {
	chat.Bot
	Secret              string
	PreviousSecret      string
	PreviousSecretUntil int64 // ms
	NextProbeAt         int64 // ms
	ProbeInterval       int64 // ms
}

func scanBot(row interface{ Scan(...any) error }) (*BotRow, error) {
	b := &BotRow{}
	h := &chat.BotHealth{}
	var enabled, basic int
	err := row.Scan(&b.UID, &b.WebhookURL, &b.GroupChatSetting, &enabled, &basic, &b.Username, &b.Password,
		&b.Secret, &b.PreviousSecret, &b.PreviousSecretUntil, &b.SecretRotatedAt, &b.MaxInFlight, &b.TimeoutSeconds,
		&h.State, &h.Reason, &h.ConsecutiveFails, &h.LastSuccessAt, &h.LastFailureAt, &h.FailingSince, &b.NextProbeAt, &b.ProbeInterval,
		&b.CreatedAt, &b.UpdatedAt)
	if err != nil {
		return nil, err
	}
	b.Enabled, b.UseBasicAuth = enabled != 0, basic != 0
	b.PasswordSet = b.Password != ""
	h.NextProbeAt = b.NextProbeAt / 1000
	b.Health = h
	b.Secrets = []string{b.Secret}
	if b.PreviousSecret != "" {
		b.Secrets = append(b.Secrets, b.PreviousSecret)
	}
	return b, nil
}

// BotHealth returns a bot's health as the health policy reads it; one
// narrow row, read with every completed attempt. ErrBotNotFound when uid
// is not a bot.
func (tx *Tx) BotHealth(ctx context.Context, appID, uid string) (chat.HealthState, error) {
	key := BotKey{appID, uid}
	if h, ok := tx.health.get(key); ok {
		return h, nil
	}
	var h chat.HealthState
	err := tx.q.QueryRowContext(ctx, `SELECT health_state, health_reason, consecutive_failures, last_success_at, last_failure_at,
		failing_since, next_probe_at, probe_interval FROM bots WHERE app_id = ? AND uid = ?`, appID, uid).Scan(
		&h.State, &h.Reason, &h.ConsecutiveFails, &h.LastSuccessAt, &h.LastFailureAt, &h.FailingSince, &h.NextProbeAt, &h.ProbeInterval)
	if errors.Is(err, sql.ErrNoRows) {
		return h, ErrBotNotFound(uid)
	}
	if err != nil {
		return h, translate("get bot health", err)
	}
	tx.health.put(key, h)
	return h, nil
}

// healthCache keeps, for SQLite's writer, each bot's health as the
// writer last read it: every attempt's record reads its bot's health, and
// a busy healthy bot's row changes about once a second. The writer is the
// only goroutine that uses it, and the only writer of bots' rows (another
// process on the same file, such as parley admin, never writes them), so
// it stays right as long as every write of a bot's row forgets it
// (changedBot, SetBotHealth), and so does every rollback, which may undo
// a health read or written in the rolled-back work (DB.runTx).
type healthCache struct {
	m map[BotKey]chat.HealthState
}

// get returns the cached health of a bot; c may be nil (no cache: a read,
// or PostgreSQL).
func (c *healthCache) get(k BotKey) (chat.HealthState, bool) {
	if c == nil {
		return chat.HealthState{}, false
	}
	h, ok := c.m[k]
	return h, ok
}

func (c *healthCache) put(k BotKey, h chat.HealthState) {
	if c == nil {
		return
	}
	if c.m == nil {
		c.m = make(map[BotKey]chat.HealthState)
	}
	c.m[k] = h
}

// forget drops everything cached.
func (c *healthCache) forget() {
	if c != nil {
		clear(c.m)
	}
}

// changedBot notes a write of a bot's row other than its health or
// sequence number: what the engine caches of bots (BotsVersion) and the
// writer's health cache are stale.
func (tx *Tx) changedBot() {
	tx.botsChanged = true
	tx.health.forget()
}

// ErrBotNotFound is the error for a uid that is not a bot.
func ErrBotNotFound(uid string) error {
	return chat.Errorf(chat.KindNotFound, "ERR_BOT_NOT_FOUND", "The UID %s is not a bot.", uid)
}

// InsertBot creates a bot; a uid that is already a bot is
// ERR_BOT_ALREADY_EXISTS.
func (tx *Tx) InsertBot(ctx context.Context, appID string, b *BotRow) error {
	tx.changedBot()
	res, err := tx.q.ExecContext(ctx, `INSERT INTO bots (app_id, uid, webhook_url, group_chat_setting, enabled, use_basic_auth, username, password,
		secret, max_in_flight, timeout_seconds, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (app_id, uid) DO NOTHING`,
		appID, b.UID, b.WebhookURL, b.GroupChatSetting, boolInt(b.Enabled), boolInt(b.UseBasicAuth), b.Username, b.Password,
		b.Secret, b.MaxInFlight, b.TimeoutSeconds, b.CreatedAt)
	if inserted, err := insertedOne(res, err); err != nil {
		return translate("insert bot", err)
	} else if !inserted {
		return chat.Errorf(chat.KindConflict, "ERR_BOT_ALREADY_EXISTS", "The UID %s is already a bot.", b.UID)
	}
	return nil
}

// Bot returns one bot.
func (tx *Tx) Bot(ctx context.Context, appID, uid string) (*BotRow, error) {
	b, err := scanBot(tx.q.QueryRowContext(ctx, `SELECT `+botColumns+` FROM bots WHERE app_id = ? AND uid = ?`, appID, uid))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrBotNotFound(uid)
	}
	return b, translate("get bot", err)
}

// IsBot reports whether uid is a bot of the app.
func (tx *Tx) IsBot(ctx context.Context, appID, uid string) (bool, error) {
	var n int
	err := tx.q.QueryRowContext(ctx, `SELECT count(*) FROM bots WHERE app_id = ? AND uid = ?`, appID, uid).Scan(&n)
	return n > 0, translate("is bot", err)
}

// BotFilter selects bots in ListBots.
type BotFilter struct {
	SearchKey string // uid prefix
	Page      Page
}

// ListBots returns a page of bots ordered by uid, and the total.
func (tx *Tx) ListBots(ctx context.Context, appID string, f BotFilter) ([]BotRow, int, error) {
	where := `app_id = ?`
	args := []any{appID}
	if f.SearchKey != "" {
		where += ` AND uid LIKE ? ESCAPE '\'`
		args = append(args, likePrefix(chat.NormalizeID(f.SearchKey)))
	}
	var total int
	if err := tx.q.QueryRowContext(ctx, `SELECT count(*) FROM bots WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, translate("count bots", err)
	}
	rows, err := tx.q.QueryContext(ctx, `SELECT `+botColumns+` FROM bots WHERE `+where+` ORDER BY uid LIMIT ? OFFSET ?`,
		append(args, f.Page.Limit(), f.Page.Offset())...)
	if err != nil {
		return nil, 0, translate("list bots", err)
	}
	defer rows.Close()
	var out []BotRow
	for rows.Next() {
		b, err := scanBot(rows)
		if err != nil {
			return nil, 0, translate("list bots", err)
		}
		out = append(out, *b)
	}
	return out, total, translate("list bots", rows.Err())
}

// UpdateBot writes a bot's configuration (not its health or sequence).
func (tx *Tx) UpdateBot(ctx context.Context, appID string, b *BotRow) error {
	tx.changedBot()
	_, err := tx.q.ExecContext(ctx, `UPDATE bots SET webhook_url = ?, group_chat_setting = ?, enabled = ?, use_basic_auth = ?,
		username = ?, password = ?, secret = ?, previous_secret = ?, previous_secret_until = ?, secret_rotated_at = ?,
		max_in_flight = ?, timeout_seconds = ?, updated_at = ? WHERE app_id = ? AND uid = ?`,
		b.WebhookURL, b.GroupChatSetting, boolInt(b.Enabled), boolInt(b.UseBasicAuth), b.Username, b.Password,
		b.Secret, b.PreviousSecret, b.PreviousSecretUntil, b.SecretRotatedAt, b.MaxInFlight, b.TimeoutSeconds, b.UpdatedAt, appID, b.UID)
	return translate("update bot", err)
}

// DeleteBot removes a bot and its deliveries; the user stays.
func (tx *Tx) DeleteBot(ctx context.Context, appID, uid string) error {
	tx.changedBot()
	if _, err := tx.q.ExecContext(ctx, `DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE app_id = ? AND bot_uid = ?)`, appID, uid); err != nil {
		return translate("delete bot attempts", err)
	}
	if _, err := tx.q.ExecContext(ctx, `DELETE FROM deliveries WHERE app_id = ? AND bot_uid = ?`, appID, uid); err != nil {
		return translate("delete bot deliveries", err)
	}
	_, err := tx.q.ExecContext(ctx, `DELETE FROM bots WHERE app_id = ? AND uid = ?`, appID, uid)
	return translate("delete bot", err)
}

// GroupRelayCandidates returns the bots that may receive a message to a
// group: every bot that is a member. (The receiver of a 1:1 message comes
// with its bot settings from Peer.)
func (tx *Tx) GroupRelayCandidates(ctx context.Context, appID, guid string) ([]chat.RelayCandidate, error) {
	rows, err := tx.q.QueryContext(ctx, `SELECT b.uid, b.enabled, b.group_chat_setting FROM bots b
		JOIN group_members gm ON gm.app_id = b.app_id AND gm.uid = b.uid
		WHERE b.app_id = ? AND gm.guid = ? ORDER BY b.uid`, appID, guid)
	if err != nil {
		return nil, translate("relay candidates", err)
	}
	defer rows.Close()
	var out []chat.RelayCandidate
	for rows.Next() {
		var c chat.RelayCandidate
		var enabled int
		if err := rows.Scan(&c.UID, &enabled, &c.GroupChatSetting); err != nil {
			return nil, translate("relay candidates", err)
		}
		c.Enabled = enabled != 0
		out = append(out, c)
	}
	return out, translate("relay candidates", rows.Err())
}

// NextBotSeq increments and returns the bot's delivery sequence number.
func (tx *Tx) NextBotSeq(ctx context.Context, appID, uid string) (int64, error) {
	var seq int64
	err := tx.q.QueryRowContext(ctx, `UPDATE bots SET seq = seq + 1 WHERE app_id = ? AND uid = ? RETURNING seq`, appID, uid).Scan(&seq)
	return seq, translate("next bot sequence", err)
}

// BotHealthUpdate is the new health of a bot after an attempt or a probe.
type BotHealthUpdate struct {
	State            string
	Reason           string
	ConsecutiveFails int
	LastSuccessAt    int64
	LastFailureAt    int64
	FailingSince     int64
	NextProbeAt      int64 // ms
	ProbeInterval    int64 // ms
	Disable          bool  // also set enabled = 0 (410 Gone)
	// From is the state this update replaces, as read in the same
	// transaction. Only a change of state or Disable changes what the
	// engine caches of the bot (BotsVersion); a healthy bot's last
	// success moving on does not.
	From string
}

// SetBotHealth writes a bot's health.
func (tx *Tx) SetBotHealth(ctx context.Context, appID, uid string, h BotHealthUpdate) error {
	tx.botsChanged = tx.botsChanged || h.Disable || h.State != h.From
	tx.health.forget()
	q := `UPDATE bots SET health_state = ?, health_reason = ?, consecutive_failures = ?, last_success_at = ?, last_failure_at = ?,
		failing_since = ?, next_probe_at = ?, probe_interval = ?`
	if h.Disable {
		q += `, enabled = 0`
	}
	_, err := tx.q.ExecContext(ctx, q+` WHERE app_id = ? AND uid = ?`, h.State, h.Reason, h.ConsecutiveFails, h.LastSuccessAt,
		h.LastFailureAt, h.FailingSince, h.NextProbeAt, h.ProbeInterval, appID, uid)
	return translate("set bot health", err)
}

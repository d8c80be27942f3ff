package store

import (
	"context"
	"database/sql"
	"errors"

	"parley/internal/chat"
)

const userColumns = `uid, name, avatar, link, role, status_message, metadata, tags, created_at, updated_at, last_active_at, deactivated_at`

func scanUser(row interface{ Scan(...any) error }) (*chat.User, error) {
	u := &chat.User{}
	var metadata, tags string
	err := row.Scan(&u.UID, &u.Name, &u.Avatar, &u.Link, &u.Role, &u.StatusMessage, &metadata, &tags,
		&u.CreatedAt, &u.UpdatedAt, &u.LastActiveAt, &u.DeactivatedAt)
	u.Metadata = decodeRaw(metadata)
	u.Tags = decodeTags(tags)
	u.Status = chat.StatusOffline
	return u, err
}

// ErrUIDNotFound is the error for an unknown (or deactivated) user.
func ErrUIDNotFound(uid string) error {
	return chat.Errorf(chat.KindNotFound, "ERR_UID_NOT_FOUND", "The UID %s does not exist.", uid)
}

// InsertUser creates a user; a taken uid is ERR_UID_ALREADY_EXISTS.
func (tx *Tx) InsertUser(ctx context.Context, appID string, u *chat.User) error {
	res, err := tx.q.ExecContext(ctx, `INSERT INTO users (app_id, `+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (app_id, uid) DO NOTHING`,
		appID, u.UID, u.Name, u.Avatar, u.Link, u.Role, u.StatusMessage, encodeRaw(u.Metadata), encodeTags(u.Tags),
		u.CreatedAt, u.UpdatedAt, u.LastActiveAt, u.DeactivatedAt)
	if inserted, err := insertedOne(res, err); err != nil {
		return translate("insert user", err)
	} else if !inserted {
		return chat.Errorf(chat.KindConflict, "ERR_UID_ALREADY_EXISTS", "The UID %s already exists.", u.UID)
	}
	return nil
}

// User returns a user, deactivated or not.
func (tx *Tx) User(ctx context.Context, appID, uid string) (*chat.User, error) {
	u, err := scanUser(tx.q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE app_id = ? AND uid = ?`, appID, uid))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUIDNotFound(uid)
	}
	return u, translate("get user", err)
}

// Peer is the receiver of a 1:1 message as its sender's write needs it:
// the user, its bot settings when it is a bot, whether either of the two
// blocks the other, and whether the sender is a bot.
type Peer struct {
	User        *chat.User
	Bot         *chat.RelayCandidate // nil when the receiver is not a bot
	Blocked     bool
	SenderIsBot bool
}

var peerQuery = `SELECT ` + prefixColumns("u.", userColumns) + `,
		b.uid IS NOT NULL, coalesce(b.enabled, 0), coalesce(b.group_chat_setting, ''),
		EXISTS (SELECT 1 FROM bots s WHERE s.app_id = u.app_id AND s.uid = ?),
		EXISTS (SELECT 1 FROM blocked_users x WHERE x.app_id = u.app_id
			AND ((x.uid = ? AND x.blocked_uid = u.uid) OR (x.uid = u.uid AND x.blocked_uid = ?)))
	FROM users u LEFT JOIN bots b ON b.app_id = u.app_id AND b.uid = u.uid
	WHERE u.app_id = ? AND u.uid = ?`

// Peer reads the receiver of a 1:1 message from sender in one statement
// (deactivated or not): ErrUIDNotFound when there is no such user.
func (tx *Tx) Peer(ctx context.Context, appID, sender, receiver string) (*Peer, error) {
	var p Peer
	var isBot bool
	var bot chat.RelayCandidate
	var enabled int
	row := withColumns{tx.q.QueryRowContext(ctx, peerQuery, sender, sender, sender, appID, receiver),
		[]any{&isBot, &enabled, &bot.GroupChatSetting, &p.SenderIsBot, &p.Blocked}}
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUIDNotFound(receiver)
	}
	if err != nil {
		return nil, translate("get peer", err)
	}
	p.User = u
	if isBot {
		bot.UID, bot.Enabled = u.UID, enabled != 0
		p.Bot = &bot
	}
	return &p, nil
}

// ActiveUser returns a user that is not deactivated.
func (tx *Tx) ActiveUser(ctx context.Context, appID, uid string) (*chat.User, error) {
	u, err := tx.User(ctx, appID, uid)
	if err != nil {
		return nil, err
	}
	if !u.Active() {
		return nil, ErrUIDNotFound(uid)
	}
	return u, nil
}

// UsersByUID returns the named users (missing ones are skipped), keyed by uid.
func (tx *Tx) UsersByUID(ctx context.Context, appID string, uids []string) (map[string]*chat.User, error) {
	out := make(map[string]*chat.User, len(uids))
	for start := 0; start < len(uids); start += 500 {
		chunk := uids[start:min(start+500, len(uids))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, appID)
		for _, u := range chunk {
			args = append(args, u)
		}
		rows, err := tx.q.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE app_id = ? AND uid IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, translate("get users", err)
		}
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				rows.Close()
				return nil, translate("get users", err)
			}
			out[u.UID] = u
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, translate("get users", err)
		}
	}
	return out, nil
}

// UserFilter selects users in ListUsers.
type UserFilter struct {
	SearchKey       string
	SearchIn        []string // "name", "uid"; both when empty
	Role            []string
	Tags            []string // any of
	Deactivated     int      // 0: active only, 1: with deactivated, 2: only deactivated
	UIDs            []string // restrict to these (status filter is applied by the caller)
	ExcludeUIDs     []string
	Page            Page
	OrderByActivity bool
}

// ListUsers returns one page of users ordered by name then uid, and the total.
func (tx *Tx) ListUsers(ctx context.Context, appID string, f UserFilter) ([]chat.User, int, error) {
	where := `app_id = ?`
	args := []any{appID}
	switch f.Deactivated {
	case 0:
		where += ` AND deactivated_at = 0`
	case 2:
		where += ` AND deactivated_at <> 0`
	}
	if f.SearchKey != "" {
		cond, condArgs := searchClause("", "uid", f.SearchKey, f.SearchIn)
		where += cond
		args = append(args, condArgs...)
	}
	if len(f.Role) > 0 {
		where += ` AND role IN (` + placeholders(len(f.Role)) + `)`
		for _, r := range f.Role {
			args = append(args, r)
		}
	}
	if f.UIDs != nil {
		if len(f.UIDs) == 0 {
			return nil, 0, nil
		}
		where += ` AND uid IN (` + placeholders(len(f.UIDs)) + `)`
		for _, u := range f.UIDs {
			args = append(args, u)
		}
	}
	if len(f.ExcludeUIDs) > 0 {
		where += ` AND uid NOT IN (` + placeholders(len(f.ExcludeUIDs)) + `)`
		for _, u := range f.ExcludeUIDs {
			args = append(args, u)
		}
	}
	if len(f.Tags) > 0 {
		where += ` AND (`
		for i, t := range f.Tags {
			if i > 0 {
				where += ` OR `
			}
			where += `tags LIKE ? ESCAPE '\'`
			args = append(args, likeContains(`"`+t+`"`))
		}
		where += `)`
	}
	var total int
	if err := tx.q.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, translate("count users", err)
	}
	order := ` ORDER BY name, uid`
	if f.OrderByActivity {
		order = ` ORDER BY last_active_at DESC, uid`
	}
	rows, err := tx.q.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+where+order+` LIMIT ? OFFSET ?`,
		append(args, f.Page.Limit(), f.Page.Offset())...)
	if err != nil {
		return nil, 0, translate("list users", err)
	}
	defer rows.Close()
	var out []chat.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, 0, translate("list users", err)
		}
		out = append(out, *u)
	}
	return out, total, translate("list users", rows.Err())
}

// UpdateUser writes every mutable field of u.
func (tx *Tx) UpdateUser(ctx context.Context, appID string, u *chat.User) error {
	_, err := tx.q.ExecContext(ctx, `UPDATE users SET name = ?, avatar = ?, link = ?, role = ?, status_message = ?, metadata = ?, tags = ?, updated_at = ?
		WHERE app_id = ? AND uid = ?`,
		u.Name, u.Avatar, u.Link, u.Role, u.StatusMessage, encodeRaw(u.Metadata), encodeTags(u.Tags), u.UpdatedAt, appID, u.UID)
	return translate("update user", err)
}

// SetDeactivated deactivates (at > 0) or reactivates (at == 0) the users
// that exist, and returns the uids it changed.
func (tx *Tx) SetDeactivated(ctx context.Context, appID string, uids []string, at int64) ([]string, error) {
	var changed []string
	for _, uid := range uids {
		cond := `deactivated_at = 0`
		if at == 0 {
			cond = `deactivated_at <> 0`
		}
		res, err := tx.q.ExecContext(ctx, `UPDATE users SET deactivated_at = ?, updated_at = ? WHERE app_id = ? AND uid = ? AND `+cond,
			at, tx.Unix(), appID, uid)
		if err != nil {
			return nil, translate("deactivate user", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			changed = append(changed, uid)
		}
	}
	return changed, nil
}

// SetLastActive records when a user was last connected.
func (tx *Tx) SetLastActive(ctx context.Context, appID, uid string, at int64) error {
	_, err := tx.q.ExecContext(ctx, `UPDATE users SET last_active_at = ? WHERE app_id = ? AND uid = ?`, at, appID, uid)
	return translate("set last active", err)
}

// DeleteUserPermanently removes the user with its tokens, blocks,
// memberships, conversations and the messages it sent.
func (tx *Tx) DeleteUserPermanently(ctx context.Context, appID, uid string) error {
	tx.changedBot() // a bot is a user: its row goes with it
	stmts := []struct{ op, q string }{
		{"delete user mentions", `DELETE FROM message_mentions WHERE message_id IN (SELECT id FROM messages WHERE app_id = ? AND sender = ?)`},
		{"delete user messages", `DELETE FROM messages WHERE app_id = ? AND sender = ?`},
		{"delete user conversations", `DELETE FROM user_conversations WHERE app_id = ? AND uid = ?`},
		{"delete user blocks", `DELETE FROM blocked_users WHERE app_id = ? AND blocked_uid = ?`},
		{"delete user memberships", `UPDATE chat_groups SET members_count = members_count - 1
			WHERE app_id = ? AND guid IN (SELECT guid FROM group_members WHERE app_id = chat_groups.app_id AND uid = ?)`},
		{"delete user memberships", `DELETE FROM group_members WHERE app_id = ? AND uid = ?`},
		{"delete user bans", `DELETE FROM group_bans WHERE app_id = ? AND uid = ?`},
		{"delete user", `DELETE FROM users WHERE app_id = ? AND uid = ?`},
	}
	for _, s := range stmts {
		if _, err := tx.q.ExecContext(ctx, s.q, appID, uid); err != nil {
			return translate(s.op, err)
		}
	}
	return nil
}

// Block records that uid blocks each of blocked (existing users only).
func (tx *Tx) Block(ctx context.Context, appID, uid string, blocked []string) error {
	for _, b := range blocked {
		if _, err := tx.q.ExecContext(ctx, `INSERT INTO blocked_users (app_id, uid, blocked_uid, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (app_id, uid, blocked_uid) DO NOTHING`, appID, uid, b, tx.Unix()); err != nil {
			return translate("block user", err)
		}
	}
	return nil
}

// Unblock removes blocks of uid on each of blocked.
func (tx *Tx) Unblock(ctx context.Context, appID, uid string, blocked []string) error {
	for _, b := range blocked {
		if _, err := tx.q.ExecContext(ctx, `DELETE FROM blocked_users WHERE app_id = ? AND uid = ? AND blocked_uid = ?`, appID, uid, b); err != nil {
			return translate("unblock user", err)
		}
	}
	return nil
}

// BlockedUIDs returns the uids uid has blocked, in order of blocking.
func (tx *Tx) BlockedUIDs(ctx context.Context, appID, uid string) ([]string, error) {
	rows, err := tx.q.QueryContext(ctx, `SELECT blocked_uid FROM blocked_users WHERE app_id = ? AND uid = ? ORDER BY created_at, blocked_uid`, appID, uid)
	if err != nil {
		return nil, translate("list blocked users", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, translate("list blocked users", err)
		}
		out = append(out, s)
	}
	return out, translate("list blocked users", rows.Err())
}

// BlockState reports whether a has blocked b and whether b has blocked a.
func (tx *Tx) BlockState(ctx context.Context, appID, a, b string) (aBlocksB, bBlocksA bool, err error) {
	rows, err := tx.q.QueryContext(ctx, `SELECT uid FROM blocked_users WHERE app_id = ? AND ((uid = ? AND blocked_uid = ?) OR (uid = ? AND blocked_uid = ?))`,
		appID, a, b, b, a)
	if err != nil {
		return false, false, translate("block state", err)
	}
	defer rows.Close()
	for rows.Next() {
		var who string
		if err := rows.Scan(&who); err != nil {
			return false, false, translate("block state", err)
		}
		if who == a {
			aBlocksB = true
		} else {
			bBlocksA = true
		}
	}
	return aBlocksB, bBlocksA, translate("block state", rows.Err())
}

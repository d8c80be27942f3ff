package store

import (
	"context"

	"parley/internal/chat"
)

// Groups, members and bans. groups_core.go holds the reads the message
// path needs (Group, Membership); this file holds the rest.
//
// chat_groups.members_count is kept by InsertMember and DeleteMember, the
// only writers of group_members here (DeleteUserPermanently adjusts it for
// the user it removes): each changes the count by the rows it really
// inserted or deleted, in the same transaction.

// withExtra lets a scanX function that scans a fixed column list also
// scan columns that follow it in the row.
type withExtra struct {
	row   interface{ Scan(...any) error }
	extra []any
}

func (w withExtra) Scan(dest ...any) error { return w.row.Scan(append(dest, w.extra...)...) }

// InsertGroup creates a group without members; a taken guid is
// ERR_GUID_ALREADY_EXISTS.
func (tx *Tx) InsertGroup(ctx context.Context, appID string, g *chat.Group) error {
	res, err := tx.q.ExecContext(ctx, `INSERT INTO chat_groups (app_id, `+groupColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)
		ON CONFLICT (app_id, guid) DO NOTHING`,
		appID, g.GUID, g.Name, g.Type, g.PasswordHash, g.Icon, g.Description, g.Owner, encodeRaw(g.Metadata), encodeTags(g.Tags),
		g.CreatedAt, g.UpdatedAt)
	if inserted, err := insertedOne(res, err); err != nil {
		return translate("insert group", err)
	} else if !inserted {
		return chat.Errorf(chat.KindConflict, "ERR_GUID_ALREADY_EXISTS", "The GUID %s already exists.", g.GUID)
	}
	return nil
}

// UpdateGroup writes every mutable field of g (not members_count).
func (tx *Tx) UpdateGroup(ctx context.Context, appID string, g *chat.Group) error {
	_, err := tx.q.ExecContext(ctx, `UPDATE chat_groups SET name = ?, type = ?, password_hash = ?, icon = ?, description = ?, owner = ?,
		metadata = ?, tags = ?, updated_at = ? WHERE app_id = ? AND guid = ?`,
		g.Name, g.Type, g.PasswordHash, g.Icon, g.Description, g.Owner, encodeRaw(g.Metadata), encodeTags(g.Tags), g.UpdatedAt,
		appID, g.GUID)
	return translate("update group", err)
}

// DeleteGroup removes a group with its members, bans, conversation and the
// messages of that conversation (docs/decisions/groups.md says why the
// messages go too).
func (tx *Tx) DeleteGroup(ctx context.Context, appID, guid string) error {
	conv := chat.GroupConversationID(guid)
	stmts := []struct {
		op, q string
		arg   string
	}{
		{"delete group mentions", `DELETE FROM message_mentions WHERE message_id IN (SELECT id FROM messages WHERE app_id = ? AND conversation_id = ?)`, conv},
		{"delete group messages", `DELETE FROM messages WHERE app_id = ? AND conversation_id = ?`, conv},
		{"delete group conversation", `DELETE FROM conversations WHERE app_id = ? AND conversation_id = ?`, conv},
		{"delete group members", `DELETE FROM group_members WHERE app_id = ? AND guid = ?`, guid},
		{"delete group bans", `DELETE FROM group_bans WHERE app_id = ? AND guid = ?`, guid},
		{"delete group", `DELETE FROM chat_groups WHERE app_id = ? AND guid = ?`, guid},
	}
	for _, s := range stmts {
		if _, err := tx.q.ExecContext(ctx, s.q, appID, s.arg); err != nil {
			return translate(s.op, err)
		}
	}
	return nil
}

// Group sort keys of ListGroups.
const (
	GroupSortName      = "name"
	GroupSortGUID      = "guid"
	GroupSortCreatedAt = "createdAt"
)

// GroupFilter selects groups in ListGroups.
type GroupFilter struct {
	SearchKey string
	SearchIn  []string // "name", "guid"; both when empty
	Types     []string // any of; all when empty
	Tags      []string // any of
	// Viewer, when set, fills the per-viewer fields (hasJoined, scope,
	// joinedAt) and hides the private groups the viewer is not a member
	// of.
	Viewer     string
	JoinedOnly bool // only groups Viewer is a member of
	SortBy     string
	Desc       bool
	Page       Page
}

// ListGroups returns one page of groups and the total.
func (tx *Tx) ListGroups(ctx context.Context, appID string, f GroupFilter) ([]chat.Group, int, error) {
	// The viewer's membership is LEFT JOINed; without a viewer the join
	// matches nothing (no uid is empty).
	from := ` FROM chat_groups g LEFT JOIN group_members m ON m.app_id = g.app_id AND m.guid = g.guid AND m.uid = ?`
	where := ` WHERE g.app_id = ?`
	args := []any{f.Viewer, appID}
	if f.Viewer != "" {
		where += ` AND (g.type <> ? OR m.uid IS NOT NULL)`
		args = append(args, chat.GroupPrivate)
		if f.JoinedOnly {
			where += ` AND m.uid IS NOT NULL`
		}
	}
	if f.SearchKey != "" {
		cond, condArgs := searchClause("g.", "guid", f.SearchKey, f.SearchIn)
		where += cond
		args = append(args, condArgs...)
	}
	if len(f.Types) > 0 {
		where += ` AND g.type IN (` + placeholders(len(f.Types)) + `)`
		for _, t := range f.Types {
			args = append(args, t)
		}
	}
	if len(f.Tags) > 0 {
		where += ` AND (`
		for i, t := range f.Tags {
			if i > 0 {
				where += ` OR `
			}
			where += `g.tags LIKE ? ESCAPE '\'`
			args = append(args, likeContains(`"`+t+`"`))
		}
		where += `)`
	}
	var total int
	if err := tx.q.QueryRowContext(ctx, `SELECT count(*)`+from+where, args...).Scan(&total); err != nil {
		return nil, 0, translate("count groups", err)
	}
	dir := ` ASC`
	if f.Desc {
		dir = ` DESC`
	}
	var order string
	switch f.SortBy {
	case GroupSortGUID:
		order = ` ORDER BY g.guid` + dir
	case GroupSortCreatedAt:
		order = ` ORDER BY g.created_at` + dir + `, g.guid` + dir
	default:
		order = ` ORDER BY g.name` + dir + `, g.guid` + dir
	}
	rows, err := tx.q.QueryContext(ctx, `SELECT `+prefixColumns("g.", groupColumns)+`, COALESCE(m.scope, ''), COALESCE(m.joined_at, 0)`+
		from+where+order+` LIMIT ? OFFSET ?`, append(args, f.Page.Limit(), f.Page.Offset())...)
	if err != nil {
		return nil, 0, translate("list groups", err)
	}
	defer rows.Close()
	var out []chat.Group
	for rows.Next() {
		var scope string
		var joinedAt int64
		g, err := scanGroup(withExtra{rows, []any{&scope, &joinedAt}})
		if err != nil {
			return nil, 0, translate("list groups", err)
		}
		if scope != "" {
			g.HasJoined, g.Scope, g.JoinedAt = true, scope, joinedAt
		}
		out = append(out, *g)
	}
	return out, total, translate("list groups", rows.Err())
}

// InsertMember makes uid a member of the group with the scope; an existing
// member is ERR_ALREADY_JOINED.
func (tx *Tx) InsertMember(ctx context.Context, appID, guid, uid, scope string, joinedAt int64) error {
	res, err := tx.q.ExecContext(ctx, `INSERT INTO group_members (app_id, guid, uid, scope, joined_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (app_id, guid, uid) DO NOTHING`,
		appID, guid, uid, scope, joinedAt)
	if inserted, err := insertedOne(res, err); err != nil {
		return translate("insert member", err)
	} else if !inserted {
		return chat.Errorf(chat.KindConflict, "ERR_ALREADY_JOINED", "The user %s is already a member of the group %s.", uid, guid)
	}
	_, err = tx.q.ExecContext(ctx, `UPDATE chat_groups SET members_count = members_count + 1 WHERE app_id = ? AND guid = ?`, appID, guid)
	return translate("count members", err)
}

// DeleteMember removes uid from the group and reports whether it was a
// member.
func (tx *Tx) DeleteMember(ctx context.Context, appID, guid, uid string) (bool, error) {
	res, err := tx.q.ExecContext(ctx, `DELETE FROM group_members WHERE app_id = ? AND guid = ? AND uid = ?`, appID, guid, uid)
	if err != nil {
		return false, translate("delete member", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, translate("delete member", err)
	}
	if n == 0 {
		return false, nil
	}
	_, err = tx.q.ExecContext(ctx, `UPDATE chat_groups SET members_count = members_count - ? WHERE app_id = ? AND guid = ?`, n, appID, guid)
	return true, translate("count members", err)
}

// SetMemberScope changes a member's scope.
func (tx *Tx) SetMemberScope(ctx context.Context, appID, guid, uid, scope string) error {
	_, err := tx.q.ExecContext(ctx, `UPDATE group_members SET scope = ? WHERE app_id = ? AND guid = ? AND uid = ?`, scope, appID, guid, uid)
	return translate("set member scope", err)
}

// MemberFilter selects members in ListMembers.
type MemberFilter struct {
	Scopes    []string // any of; all when empty
	SearchKey string   // prefix of the name or the uid
	Page      Page
}

// ListMembers returns one page of a group's members ordered by name then
// uid, and the total.
func (tx *Tx) ListMembers(ctx context.Context, appID, guid string, f MemberFilter) ([]chat.Member, int, error) {
	from := ` FROM group_members m JOIN users u ON u.app_id = m.app_id AND u.uid = m.uid`
	where := ` WHERE m.app_id = ? AND m.guid = ?`
	args := []any{appID, guid}
	if len(f.Scopes) > 0 {
		where += ` AND m.scope IN (` + placeholders(len(f.Scopes)) + `)`
		for _, s := range f.Scopes {
			args = append(args, s)
		}
	}
	if f.SearchKey != "" {
		pat := likePrefix(f.SearchKey)
		where += ` AND (u.name LIKE ? ESCAPE '\' OR u.uid LIKE ? ESCAPE '\')`
		args = append(args, pat, pat)
	}
	var total int
	if err := tx.q.QueryRowContext(ctx, `SELECT count(*)`+from+where, args...).Scan(&total); err != nil {
		return nil, 0, translate("count members", err)
	}
	rows, err := tx.q.QueryContext(ctx, `SELECT `+prefixColumns("u.", userColumns)+`, m.scope, m.joined_at`+from+where+
		` ORDER BY u.name, u.uid LIMIT ? OFFSET ?`, append(args, f.Page.Limit(), f.Page.Offset())...)
	if err != nil {
		return nil, 0, translate("list members", err)
	}
	defer rows.Close()
	var out []chat.Member
	for rows.Next() {
		var m chat.Member
		u, err := scanUser(withExtra{rows, []any{&m.Scope, &m.JoinedAt}})
		if err != nil {
			return nil, 0, translate("list members", err)
		}
		m.User = *u
		out = append(out, m)
	}
	return out, total, translate("list members", rows.Err())
}

// InsertBan records that uid is banned from the group; a ban that exists
// is ERR_ALREADY_BANNED. It does not touch membership.
func (tx *Tx) InsertBan(ctx context.Context, appID, guid, uid string, at int64) error {
	res, err := tx.q.ExecContext(ctx, `INSERT INTO group_bans (app_id, guid, uid, banned_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (app_id, guid, uid) DO NOTHING`, appID, guid, uid, at)
	if inserted, err := insertedOne(res, err); err != nil {
		return translate("insert ban", err)
	} else if !inserted {
		return chat.Errorf(chat.KindConflict, "ERR_ALREADY_BANNED", "The user %s is already banned from the group %s.", uid, guid)
	}
	return nil
}

// DeleteBan lifts a ban and reports whether there was one.
func (tx *Tx) DeleteBan(ctx context.Context, appID, guid, uid string) (bool, error) {
	res, err := tx.q.ExecContext(ctx, `DELETE FROM group_bans WHERE app_id = ? AND guid = ? AND uid = ?`, appID, guid, uid)
	if err != nil {
		return false, translate("delete ban", err)
	}
	n, err := res.RowsAffected()
	return n > 0, translate("delete ban", err)
}

// Banned reports whether uid is banned from the group.
func (tx *Tx) Banned(ctx context.Context, appID, guid, uid string) (bool, error) {
	var n int
	err := tx.q.QueryRowContext(ctx, `SELECT count(*) FROM group_bans WHERE app_id = ? AND guid = ? AND uid = ?`, appID, guid, uid).Scan(&n)
	return n > 0, translate("get ban", err)
}

// ListBans returns one page of the users banned from a group, most
// recently banned first, and the total.
func (tx *Tx) ListBans(ctx context.Context, appID, guid string, p Page) ([]chat.BannedUser, int, error) {
	var total int
	if err := tx.q.QueryRowContext(ctx, `SELECT count(*) FROM group_bans WHERE app_id = ? AND guid = ?`, appID, guid).Scan(&total); err != nil {
		return nil, 0, translate("count bans", err)
	}
	rows, err := tx.q.QueryContext(ctx, `SELECT `+prefixColumns("u.", userColumns)+`, b.banned_at
		FROM group_bans b JOIN users u ON u.app_id = b.app_id AND u.uid = b.uid
		WHERE b.app_id = ? AND b.guid = ? ORDER BY b.banned_at DESC, u.uid LIMIT ? OFFSET ?`, appID, guid, p.Limit(), p.Offset())
	if err != nil {
		return nil, 0, translate("list bans", err)
	}
	defer rows.Close()
	var out []chat.BannedUser
	for rows.Next() {
		var b chat.BannedUser
		u, err := scanUser(withExtra{rows, []any{&b.BannedAt}})
		if err != nil {
			return nil, 0, translate("list bans", err)
		}
		b.User = *u
		out = append(out, b)
	}
	return out, total, translate("list bans", rows.Err())
}

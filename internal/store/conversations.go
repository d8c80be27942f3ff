package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"parley/internal/chat"
)

// ErrConversationNotAccessible is the error for a conversation the user
// does not have (no message yet, or not theirs).
func ErrConversationNotAccessible(id string) error {
	return chat.Errorf(chat.KindNotFound, "ERR_CONVERSATION_NOT_ACCESSIBLE", "The conversation %s does not exist or is not accessible.", id)
}

// ReadSide is one user's read state in one conversation: the newest
// message id it has read and received, and when it last moved each mark.
type ReadSide struct {
	UID         string
	ReadID      int64
	ReadAt      int64
	DeliveredID int64
	DeliveredAt int64
	JoinedAt    int64 // groups only
}

// ConversationRow is a user's conversation as stored.
type ConversationRow struct {
	ConversationID string
	Type           string // chat.ReceiverUser or chat.ReceiverGroup
	With           string // the peer's uid or the group's guid
	LastMessageID  int64
	Tags           []string
	CreatedAt      int64
	UpdatedAt      int64
	Side           ReadSide // the user's own
	Scope          string   // groups: the user's scope
	Unread         int
}

// ConversationFilter selects conversations in ListConversations.
type ConversationFilter struct {
	ConversationID string // one conversation
	Type           string // user or group; both when empty
	SearchKey      string // the peer's or group's name contains it
	Tags           []string
	// UserTags and GroupTags keep conversations whose peer user (group)
	// has one of the tags; giving only one of them leaves out the other
	// kind of conversation.
	UserTags  []string
	GroupTags []string
	Unread    bool // only conversations with unread messages
	Page      Page
}

const conversationColumns = `kind, conversation_id, with_id, last_message_id, tags, created_at, updated_at,
	read_id, read_at, delivered_id, delivered_at, joined_at, scope, unread`

// conversationsQuery builds the union of uid's 1:1 conversations and the
// group conversations (with at least one message) of the groups uid is a
// member of, with the unread count of each: messages after uid's read
// position, not sent by uid, not actions, not deleted and, in groups, not
// sent before uid joined (docs/decisions/unread-and-receipts.md).
func conversationsQuery(appID, uid string, f ConversationFilter) (string, []any) {
	var parts []string
	var args []any
	likeAny := func(col string, tags []string) (string, []any) {
		conds := make([]string, len(tags))
		a := make([]any, len(tags))
		for i, t := range tags {
			conds[i] = col + ` LIKE ? ESCAPE '\'`
			a[i] = jsonTagPattern(t)
		}
		return ` AND (` + strings.Join(conds, ` OR `) + `)`, a
	}
	withTags := len(f.UserTags) > 0 || len(f.GroupTags) > 0
	extra := func(convCol, nameCol, tagsCol string, ownTags []string) (string, []any) {
		var q string
		var a []any
		if f.ConversationID != "" {
			q += ` AND ` + convCol + ` = ?`
			a = append(a, f.ConversationID)
		}
		if f.SearchKey != "" {
			q += ` AND ` + nameCol + ` LIKE ? ESCAPE '\'`
			a = append(a, likeContains(f.SearchKey))
		}
		if len(f.Tags) > 0 {
			cq, ca := likeAny(`c.tags`, f.Tags)
			q += cq
			a = append(a, ca...)
		}
		if len(ownTags) > 0 {
			cq, ca := likeAny(tagsCol, ownTags)
			q += cq
			a = append(a, ca...)
		}
		return q, a
	}
	if (f.Type == "" || f.Type == chat.ReceiverUser) && (!withTags || len(f.UserTags) > 0) {
		q, a := extra(`uc.conversation_id`, `u.name`, `u.tags`, f.UserTags)
		parts = append(parts, `SELECT 'user' AS kind, uc.conversation_id AS conversation_id, uc.peer AS with_id,
			c.last_message_id AS last_message_id, c.tags AS tags, uc.created_at AS created_at, uc.updated_at AS updated_at,
			uc.read_id AS read_id, uc.read_at AS read_at, uc.delivered_id AS delivered_id, uc.delivered_at AS delivered_at,
			0 AS joined_at, '' AS scope,
			(SELECT count(*) FROM messages m WHERE m.app_id = uc.app_id AND m.conversation_id = uc.conversation_id
				AND m.id > uc.read_id AND `+unreadBase+`) AS unread
		FROM user_conversations uc
		JOIN conversations c ON c.app_id = uc.app_id AND c.conversation_id = uc.conversation_id
		JOIN users u ON u.app_id = uc.app_id AND u.uid = uc.peer
		WHERE uc.app_id = ? AND uc.uid = ?`+q)
		args = append(append(args, uid, appID, uid), a...)
	}
	if (f.Type == "" || f.Type == chat.ReceiverGroup) && (!withTags || len(f.GroupTags) > 0) {
		q, a := extra(`c.conversation_id`, `g.name`, `g.tags`, f.GroupTags)
		parts = append(parts, `SELECT 'group' AS kind, c.conversation_id AS conversation_id, gm.guid AS with_id,
			c.last_message_id AS last_message_id, c.tags AS tags,
			CASE WHEN gm.joined_at > c.created_at THEN gm.joined_at ELSE c.created_at END AS created_at, c.updated_at AS updated_at,
			gm.read_id AS read_id, gm.read_at AS read_at, gm.delivered_id AS delivered_id, gm.delivered_at AS delivered_at,
			gm.joined_at AS joined_at, gm.scope AS scope,
			(SELECT count(*) FROM messages m WHERE m.app_id = gm.app_id AND m.conversation_id = c.conversation_id
				AND m.id > gm.read_id AND m.sent_at >= gm.joined_at AND `+unreadBase+`) AS unread
		FROM group_members gm
		JOIN chat_groups g ON g.app_id = gm.app_id AND g.guid = gm.guid
		JOIN conversations c ON c.app_id = gm.app_id AND c.conversation_id = 'group_' || gm.guid
		WHERE gm.app_id = ? AND gm.uid = ?`+q)
		args = append(append(args, uid, appID, uid), a...)
	}
	if len(parts) == 0 {
		return "", nil
	}
	q := `SELECT ` + conversationColumns + ` FROM (` + strings.Join(parts, ` UNION ALL `) + `) x`
	if f.Unread {
		q += ` WHERE x.unread > 0`
	}
	return q, args
}

func scanConversation(row interface{ Scan(...any) error }) (ConversationRow, error) {
	var c ConversationRow
	var tags string
	err := row.Scan(&c.Type, &c.ConversationID, &c.With, &c.LastMessageID, &tags, &c.CreatedAt, &c.UpdatedAt,
		&c.Side.ReadID, &c.Side.ReadAt, &c.Side.DeliveredID, &c.Side.DeliveredAt, &c.Side.JoinedAt, &c.Scope, &c.Unread)
	c.Tags = decodeTags(tags)
	return c, err
}

// ListConversations returns one page of uid's conversations, the most
// recently active first (by last message id), and the total.
func (tx *Tx) ListConversations(ctx context.Context, appID, uid string, f ConversationFilter) ([]ConversationRow, int, error) {
	q, args := conversationsQuery(appID, uid, f)
	if q == "" {
		return nil, 0, nil
	}
	var total int
	if err := tx.q.QueryRowContext(ctx, `SELECT count(*) FROM (`+q+`) n`, args...).Scan(&total); err != nil {
		return nil, 0, translate("count conversations", err)
	}
	rows, err := tx.q.QueryContext(ctx, q+` ORDER BY last_message_id DESC, conversation_id LIMIT ? OFFSET ?`,
		append(args, f.Page.Limit(), f.Page.Offset())...)
	if err != nil {
		return nil, 0, translate("list conversations", err)
	}
	defer rows.Close()
	var out []ConversationRow
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, 0, translate("list conversations", err)
		}
		c.Side.UID = uid
		out = append(out, c)
	}
	return out, total, translate("list conversations", rows.Err())
}

// Conversation returns one of uid's conversations, or
// ERR_CONVERSATION_NOT_ACCESSIBLE.
func (tx *Tx) Conversation(ctx context.Context, appID, uid, conversationID string) (*ConversationRow, error) {
	kind, _, _, ok := chat.ParseConversationID(conversationID)
	if !ok {
		return nil, ErrConversationNotAccessible(conversationID)
	}
	q, args := conversationsQuery(appID, uid, ConversationFilter{ConversationID: conversationID, Type: kind})
	c, err := scanConversation(tx.q.QueryRowContext(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrConversationNotAccessible(conversationID)
	}
	if err != nil {
		return nil, translate("get conversation", err)
	}
	c.Side.UID = uid
	return &c, nil
}

// NewestMessageID returns the id of the newest message of a conversation,
// or 0.
func (tx *Tx) NewestMessageID(ctx context.Context, appID, conversationID string) (int64, error) {
	var id int64
	err := tx.q.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM messages WHERE app_id = ? AND conversation_id = ?`, appID, conversationID).Scan(&id)
	return id, translate("newest message", err)
}

// MarkConversation moves uid's read (receipt chat.ReceiptRead) or delivered
// mark in a conversation forward to id at time at; read moves delivered
// too. It never moves a mark back, and reports whether the mark moved.
// A 1:1 conversation is marked in user_conversations, a group one in
// group_members (guid taken from the conversation id).
func (tx *Tx) MarkConversation(ctx context.Context, appID, uid, conversationID, receipt string, id, at int64) (bool, error) {
	kind, guid, _, ok := chat.ParseConversationID(conversationID)
	if !ok {
		return false, ErrConversationNotAccessible(conversationID)
	}
	table, key, keyVal := `user_conversations`, `conversation_id`, conversationID
	if kind == chat.ReceiverGroup {
		table, key, keyVal = `group_members`, `guid`, guid
	}
	var q string
	var args []any
	if receipt == chat.ReceiptRead {
		// Every right-hand side sees the row as it was before the update.
		q = `UPDATE ` + table + ` SET read_id = ?, read_at = ?,
			delivered_at = CASE WHEN delivered_id < ? THEN ? ELSE delivered_at END,
			delivered_id = CASE WHEN delivered_id < ? THEN ? ELSE delivered_id END
			WHERE app_id = ? AND uid = ? AND ` + key + ` = ? AND read_id < ?`
		args = []any{id, at, id, at, id, id, appID, uid, keyVal, id}
	} else {
		q = `UPDATE ` + table + ` SET delivered_id = ?, delivered_at = ?
			WHERE app_id = ? AND uid = ? AND ` + key + ` = ? AND delivered_id < ?`
		args = []any{id, at, appID, uid, keyVal, id}
	}
	res, err := tx.q.ExecContext(ctx, q, args...)
	if err != nil {
		return false, translate("mark conversation", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// ReadSides returns the read state of every side of the given 1:1
// conversations, and viewer's side of the given groups, keyed by
// conversation id then uid.
func (tx *Tx) ReadSides(ctx context.Context, appID, viewer string, conversationIDs []string) (map[string]map[string]ReadSide, error) {
	out := map[string]map[string]ReadSide{}
	var users, guids []string
	for _, id := range conversationIDs {
		switch kind, g, _, _ := chat.ParseConversationID(id); kind {
		case chat.ReceiverUser:
			users = append(users, id)
		case chat.ReceiverGroup:
			guids = append(guids, g)
		}
	}
	put := func(conv string, s ReadSide) {
		if out[conv] == nil {
			out[conv] = map[string]ReadSide{}
		}
		out[conv][s.UID] = s
	}
	for start := 0; start < len(users); start += 500 {
		chunk := users[start:min(start+500, len(users))]
		args := []any{appID}
		for _, c := range chunk {
			args = append(args, c)
		}
		err := tx.forEachRow(ctx, "read sides", `SELECT conversation_id, uid, read_id, read_at, delivered_id, delivered_at FROM user_conversations
			WHERE app_id = ? AND conversation_id IN (`+placeholders(len(chunk))+`)`, args, func(rows *rowSet) error {
			var conv string
			var s ReadSide
			if err := rows.Scan(&conv, &s.UID, &s.ReadID, &s.ReadAt, &s.DeliveredID, &s.DeliveredAt); err != nil {
				return err
			}
			put(conv, s)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for start := 0; start < len(guids); start += 500 {
		chunk := guids[start:min(start+500, len(guids))]
		args := []any{appID, viewer}
		for _, g := range chunk {
			args = append(args, g)
		}
		err := tx.forEachRow(ctx, "read sides", `SELECT guid, uid, read_id, read_at, delivered_id, delivered_at, joined_at FROM group_members
			WHERE app_id = ? AND uid = ? AND guid IN (`+placeholders(len(chunk))+`)`, args, func(rows *rowSet) error {
			var guid string
			var s ReadSide
			if err := rows.Scan(&guid, &s.UID, &s.ReadID, &s.ReadAt, &s.DeliveredID, &s.DeliveredAt, &s.JoinedAt); err != nil {
				return err
			}
			put(chat.GroupConversationID(guid), s)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// forEachRow runs a query and calls fn for every row.
func (tx *Tx) forEachRow(ctx context.Context, op, q string, args []any, fn func(*rowSet) error) error {
	rows, err := tx.q.QueryContext(ctx, q, args...)
	if err != nil {
		return translate(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return translate(op, err)
		}
	}
	return translate(op, rows.Err())
}

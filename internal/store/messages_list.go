package store

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"parley/internal/chat"
)

// Directions of a message cursor (docs/decisions/message-cursors.md).
const (
	AffixAppend  = "append"  // messages newer than the cursor
	AffixPrepend = "prepend" // messages older than the cursor
)

// Cursor is a position in a message list. ID, when set, wins over SentAt.
type Cursor struct {
	Affix  string
	ID     int64
	SentAt int64
}

// Deleted selects soft-deleted messages in MessageFilter.
type Deleted int

const (
	WithDeleted Deleted = iota // deleted messages are listed with deletedAt
	HideDeleted                // deleted messages are left out
	OnlyDeleted                // only deleted messages
)

// MessageFilter selects messages in ListMessages. Empty fields do not
// filter.
type MessageFilter struct {
	ConversationID string // one conversation
	ParentID       int64  // the replies of one thread
	ReceiverType   string
	// Viewer restricts the list to the conversations of this user: its 1:1
	// conversations and the groups it is a member of now.
	Viewer          string
	Sender          string
	Categories      []string
	Types           []string
	Deleted         Deleted
	HideReplies     bool
	SearchKey       string   // the text contains it (case-insensitive for ASCII)
	Tags            []string // any of
	FromTimestamp   int64    // sent at or after, inclusive
	ToTimestamp     int64    // sent at or before, inclusive
	HasMentions     bool
	MentionedUIDs   []string // mentions any of
	HasAttachments  bool
	AttachmentTypes []string // media types: image, video, audio, file
	HasLinks        bool     // the text contains http:// or https://
	// UnreadFor and UndeliveredFor keep the messages this user has not read
	// (received) yet: after its read (delivered) position, not sent by it,
	// not actions, not deleted; in groups, not sent before it joined.
	UnreadFor      string
	UndeliveredFor string
	// HideBlockedBy leaves out messages sent by users this user blocked.
	HideBlockedBy string

	Cursor Cursor
	Limit  int // 1..1000; 0 means 100
}

// unreadBase is the part of "unread" shared by message lists and the
// unread counts of conversations: not sent by the reader (bound to the one
// '?'), not an action, not deleted.
const unreadBase = `m.sender <> ? AND m.category <> 'action' AND m.deleted_at = 0`

// afterPosition is the condition "after uid's read_id (or delivered_id)"
// for messages of any conversation.
func afterPosition(col, uid string) (string, []any) {
	return unreadBase + ` AND (
		(m.receiver_type = 'user' AND m.id > coalesce((SELECT uc.` + col + ` FROM user_conversations uc
			WHERE uc.app_id = m.app_id AND uc.uid = ? AND uc.conversation_id = m.conversation_id), 0))
		OR (m.receiver_type = 'group' AND EXISTS (SELECT 1 FROM group_members gm
			WHERE gm.app_id = m.app_id AND gm.guid = m.receiver AND gm.uid = ? AND m.id > gm.` + col + ` AND m.sent_at >= gm.joined_at)))`,
		[]any{uid, uid, uid}
}

// jsonTagPattern is the LIKE pattern that finds tag t in a tag list
// written by encodeTags (a JSON array), with t encoded the same way.
func jsonTagPattern(t string) string {
	b, _ := json.Marshal(t) // a string always marshals
	return likeContains(string(b))
}

func (f *MessageFilter) where(d *dialect, appID string) (string, []any) {
	conds := []string{`m.app_id = ?`}
	args := []any{appID}
	add := func(cond string, a ...any) {
		conds = append(conds, cond)
		args = append(args, a...)
	}
	in := func(col string, vals []string) {
		a := make([]any, len(vals))
		for i, v := range vals {
			a[i] = v
		}
		add(col+` IN (`+placeholders(len(vals))+`)`, a...)
	}
	anyLike := func(expr string, pats []string) {
		parts := make([]string, len(pats))
		a := make([]any, len(pats))
		for i, p := range pats {
			parts[i] = expr + ` LIKE ? ESCAPE '\'`
			a[i] = p
		}
		add(`(`+strings.Join(parts, ` OR `)+`)`, a...)
	}
	text := d.jsonText("m.data", "text")

	if f.ConversationID != "" {
		add(`m.conversation_id = ?`, f.ConversationID)
	}
	if f.ParentID != 0 {
		add(`m.parent_id = ? AND m.parent_id <> 0`, f.ParentID) // messages_parent is partial
	}
	if f.ReceiverType != "" {
		add(`m.receiver_type = ?`, f.ReceiverType)
	}
	if v := f.Viewer; v != "" {
		add(`((m.receiver_type = 'user' AND (m.sender = ? OR m.receiver = ?))
			OR (m.receiver_type = 'group' AND m.receiver IN (SELECT gm.guid FROM group_members gm WHERE gm.app_id = m.app_id AND gm.uid = ?)))`, v, v, v)
	}
	if f.Sender != "" {
		add(`m.sender = ?`, f.Sender)
	}
	if len(f.Categories) > 0 {
		in(`m.category`, f.Categories)
	}
	if len(f.Types) > 0 {
		in(`m.type`, f.Types)
	}
	switch f.Deleted {
	case HideDeleted:
		add(`m.deleted_at = 0`)
	case OnlyDeleted:
		add(`m.deleted_at <> 0`)
	}
	if f.HideReplies {
		add(`m.parent_id = 0`)
	}
	if f.SearchKey != "" {
		anyLike(text, []string{likeContains(f.SearchKey)})
	}
	if len(f.Tags) > 0 {
		pats := make([]string, len(f.Tags))
		for i, t := range f.Tags {
			pats[i] = jsonTagPattern(t)
		}
		anyLike(`m.tags`, pats)
	}
	if f.FromTimestamp > 0 {
		add(`m.sent_at >= ?`, f.FromTimestamp)
	}
	if f.ToTimestamp > 0 {
		add(`m.sent_at <= ?`, f.ToTimestamp)
	}
	if f.HasMentions {
		add(`m.mentions <> ''`)
	}
	if len(f.MentionedUIDs) > 0 {
		a := []any{appID}
		for _, u := range f.MentionedUIDs {
			a = append(a, u)
		}
		add(`m.id IN (SELECT mm.message_id FROM message_mentions mm WHERE mm.app_id = ? AND mm.uid IN (`+placeholders(len(f.MentionedUIDs))+`))`, a...)
	}
	if f.HasAttachments || len(f.AttachmentTypes) > 0 {
		add(`m.has_attachments = 1`)
	}
	if len(f.AttachmentTypes) > 0 {
		in(`m.type`, f.AttachmentTypes)
	}
	if f.HasLinks {
		anyLike(text, []string{`%http://%`, `%https://%`})
	}
	if f.UnreadFor != "" {
		c, a := afterPosition("read_id", f.UnreadFor)
		add(c, a...)
	}
	if f.UndeliveredFor != "" {
		c, a := afterPosition("delivered_id", f.UndeliveredFor)
		add(c, a...)
	}
	if f.HideBlockedBy != "" {
		add(`m.sender NOT IN (SELECT b.blocked_uid FROM blocked_users b WHERE b.app_id = ? AND b.uid = ?)`, appID, f.HideBlockedBy)
	}
	return strings.Join(conds, ` AND `), args
}

// ListMessages returns one page of messages in ascending id order, and the
// cursor of the following page in the same direction
// (docs/decisions/message-cursors.md):
//   - affix append: the oldest Limit messages with id > Cursor.ID (or
//     sent at or after Cursor.SentAt); next is the newest returned.
//   - affix prepend: the newest Limit messages with id < Cursor.ID (or
//     sent before Cursor.SentAt); next is the oldest returned.
//   - no affix: append when a cursor is given, else prepend (the newest
//     messages).
//
// An empty page returns the request's own cursor as next.
func (tx *Tx) ListMessages(ctx context.Context, appID string, f MessageFilter) ([]*chat.Message, Cursor, error) {
	where, args := f.where(tx.d, appID)
	cur := f.Cursor
	if cur.Affix == "" {
		cur.Affix = AffixPrepend
		if cur.ID > 0 || cur.SentAt > 0 {
			cur.Affix = AffixAppend
		}
	}
	appendDir := cur.Affix == AffixAppend
	switch {
	case cur.ID > 0 && appendDir:
		where += ` AND m.id > ?`
		args = append(args, cur.ID)
	case cur.ID > 0:
		where += ` AND m.id < ?`
		args = append(args, cur.ID)
	case cur.SentAt > 0 && appendDir:
		where += ` AND m.sent_at >= ?`
		args = append(args, cur.SentAt)
	case cur.SentAt > 0:
		where += ` AND m.sent_at < ?`
		args = append(args, cur.SentAt)
	}
	order := ` ORDER BY m.id`
	if !appendDir {
		order += ` DESC`
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := tx.q.QueryContext(ctx, `SELECT `+messageColumns+` FROM messages m WHERE `+where+order+` LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, cur, translate("list messages", err)
	}
	defer rows.Close()
	var out []*chat.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, cur, translate("list messages", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, cur, translate("list messages", err)
	}
	if !appendDir {
		slices.Reverse(out)
	}
	next := cur
	if len(out) > 0 {
		edge := out[len(out)-1]
		if !appendDir {
			edge = out[0]
		}
		next.ID, next.SentAt = edge.ID, edge.SentAt
	}
	return out, next, nil
}

// storedData encodes a message's data for the data column. Entities of
// user messages are filled when read, so they are not stored; those of
// action messages are.
func storedData(m *chat.Message) (string, error) {
	d := m.Data
	if m.Category != chat.CategoryAction {
		d.Entities = nil
	}
	b, err := json.Marshal(&d)
	return string(b), err
}

// UpdateMessageContent writes an edit: data, tags, mentions and the edit
// and update times.
func (tx *Tx) UpdateMessageContent(ctx context.Context, appID string, m *chat.Message) error {
	data, err := storedData(m)
	if err != nil {
		return translate("encode message data", err)
	}
	if _, err := tx.q.ExecContext(ctx, `UPDATE messages SET data = ?, tags = ?, mentions = ?, updated_at = ?, edited_at = ?, edited_by = ?
		WHERE id = ? AND app_id = ?`,
		data, encodeTags(m.Tags), strings.Join(m.Mentions, " "), m.UpdatedAt, m.EditedAt, m.EditedBy, m.ID, appID); err != nil {
		return translate("update message", err)
	}
	if _, err := tx.q.ExecContext(ctx, `DELETE FROM message_mentions WHERE message_id = ? AND app_id = ?`, m.ID, appID); err != nil {
		return translate("update mentions", err)
	}
	for _, uid := range m.Mentions {
		if _, err := tx.q.ExecContext(ctx, `INSERT INTO message_mentions (app_id, uid, message_id) VALUES (?, ?, ?)`, appID, uid, m.ID); err != nil {
			return translate("update mentions", err)
		}
	}
	return nil
}

// SoftDeleteMessage marks a message deleted; it reports false when it was
// deleted already.
func (tx *Tx) SoftDeleteMessage(ctx context.Context, appID string, id int64, by string, at int64) (bool, error) {
	res, err := tx.q.ExecContext(ctx, `UPDATE messages SET deleted_at = ?, deleted_by = ?, updated_at = ? WHERE id = ? AND app_id = ? AND deleted_at = 0`,
		at, by, at, id, appID)
	if err != nil {
		return false, translate("delete message", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// DeleteMessagePermanently removes a message with its mentions, its thread
// replies (a thread does not outlive its parent), the edit and delete
// action messages about any of those (they hold copies of the content),
// and keeps the parent's reply count and the conversation's last message
// right. It returns how many messages it removed.
func (tx *Tx) DeleteMessagePermanently(ctx context.Context, appID string, m *chat.Message) (int, error) {
	// The message and its replies: a reply has no replies of its own
	// (threads do not nest), so parent_id = m.ID adds nothing for a reply.
	const targets = `SELECT t.id FROM messages t WHERE t.app_id = ? AND (t.id = ? OR (t.parent_id = ? AND t.parent_id <> 0))`
	const actions = `SELECT a.id FROM messages a WHERE a.app_id = ? AND a.action_on IN (` + targets + `)`
	stmts := []struct {
		op, q string
		args  []any
	}{
		{"delete action mentions", `DELETE FROM message_mentions WHERE app_id = ? AND message_id IN (` + actions + `)`,
			[]any{appID, appID, appID, m.ID, m.ID}},
		{"delete actions", `DELETE FROM messages WHERE app_id = ? AND id IN (` + actions + `)`,
			[]any{appID, appID, appID, m.ID, m.ID}},
		{"delete mentions", `DELETE FROM message_mentions WHERE app_id = ? AND message_id IN (` + targets + `)`,
			[]any{appID, appID, m.ID, m.ID}},
	}
	for _, s := range stmts {
		if _, err := tx.q.ExecContext(ctx, s.q, s.args...); err != nil {
			return 0, translate(s.op, err)
		}
	}
	res, err := tx.q.ExecContext(ctx, `DELETE FROM messages WHERE app_id = ? AND (id = ? OR (parent_id = ? AND parent_id <> 0))`, appID, m.ID, m.ID)
	if err != nil {
		return 0, translate("delete message", err)
	}
	n, _ := res.RowsAffected()
	if m.ParentID != 0 {
		if _, err := tx.q.ExecContext(ctx, `UPDATE messages SET reply_count = reply_count - 1 WHERE id = ? AND app_id = ? AND reply_count > 0`,
			m.ParentID, appID); err != nil {
			return 0, translate("count reply", err)
		}
	}
	if _, err := tx.q.ExecContext(ctx, `UPDATE conversations SET last_message_id = coalesce((SELECT max(l.id) FROM messages l
			WHERE l.app_id = conversations.app_id AND l.conversation_id = conversations.conversation_id AND l.action_on = 0), 0)
		WHERE app_id = ? AND conversation_id = ?`, appID, m.ConversationID); err != nil {
		return 0, translate("update conversation", err)
	}
	return int(n), nil
}

// InsertActionMessage stores an "edited" or "deleted" action message about
// message on. Unlike InsertMessage it changes no conversation state: an
// edit is not new activity, so it neither becomes the conversation's last
// message nor moves anyone's read position. It sets m.ID.
func (tx *Tx) InsertActionMessage(ctx context.Context, appID string, m *chat.Message, on int64) error {
	data, err := storedData(m)
	if err != nil {
		return translate("encode message data", err)
	}
	if err := tx.lockMessageOrder(ctx, appID); err != nil {
		return err
	}
	err = tx.q.QueryRowContext(ctx, `INSERT INTO messages (app_id, conversation_id, sender, receiver_type, receiver, category, type,
		data, tags, action_on, sent_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?) RETURNING id`,
		appID, m.ConversationID, m.Sender, m.ReceiverType, m.Receiver, m.Category, m.Type, data, on, m.SentAt, m.UpdatedAt).Scan(&m.ID)
	return translate("insert action message", err)
}

// MessagesByID returns the named messages that exist, keyed by id.
func (tx *Tx) MessagesByID(ctx context.Context, appID string, ids []int64) (map[int64]*chat.Message, error) {
	out := make(map[int64]*chat.Message, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := []any{appID}
		for _, id := range chunk {
			args = append(args, id)
		}
		err := tx.forEachRow(ctx, "get messages", `SELECT `+messageColumns+` FROM messages WHERE app_id = ? AND id IN (`+placeholders(len(chunk))+`)`,
			args, func(rows *rowSet) error {
				m, err := scanMessage(rows)
				if err != nil {
					return err
				}
				out[m.ID] = m
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

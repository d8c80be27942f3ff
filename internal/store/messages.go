package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"parley/internal/chat"
)

const messageColumns = `id, conversation_id, muid, sender, receiver_type, receiver, category, type, data, tags, mentions,
	parent_id, reply_count, hop, sent_at, updated_at, edited_at, edited_by, deleted_at, deleted_by`

func scanMessage(row interface{ Scan(...any) error }) (*chat.Message, error) {
	m := &chat.Message{}
	var data, tags, mentions string
	err := row.Scan(&m.ID, &m.ConversationID, &m.MUID, &m.Sender, &m.ReceiverType, &m.Receiver, &m.Category, &m.Type,
		&data, &tags, &mentions, &m.ParentID, &m.ReplyCount, &m.Hop, &m.SentAt, &m.UpdatedAt, &m.EditedAt, &m.EditedBy,
		&m.DeletedAt, &m.DeletedBy)
	if err != nil {
		return nil, err
	}
	if data != "" {
		if err := json.Unmarshal([]byte(data), &m.Data); err != nil {
			return nil, err
		}
	}
	m.Tags = decodeTags(tags)
	if mentions != "" {
		m.Mentions = strings.Split(mentions, " ")
	}
	return m, nil
}

// ErrMessageNotFound is the error for an unknown message id.
func ErrMessageNotFound(id int64) error {
	return chat.Errorf(chat.KindNotFound, "ERR_MESSAGE_ID_NOT_FOUND", "The message with id %d does not exist.", id)
}

// InsertMessage stores a new message and updates its conversation: the
// conversation's last message, both sides of a 1:1 conversation (the sender
// has read what it sent), the parent's reply count and the mention index.
// It sets m.ID.
func (tx *Tx) InsertMessage(ctx context.Context, appID string, m *chat.Message) error {
	data, err := json.Marshal(&m.Data)
	if err != nil {
		return translate("encode message data", err)
	}
	if err := tx.lockMessageOrder(ctx, appID); err != nil {
		return err
	}
	err = tx.q.QueryRowContext(ctx, `INSERT INTO messages (app_id, conversation_id, muid, sender, receiver_type, receiver, category, type,
		data, tags, mentions, has_attachments, parent_id, hop, sent_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		appID, m.ConversationID, m.MUID, m.Sender, m.ReceiverType, m.Receiver, m.Category, m.Type,
		string(data), encodeTags(m.Tags), strings.Join(m.Mentions, " "), boolInt(len(m.Data.Attachments) > 0),
		m.ParentID, m.Hop, m.SentAt, m.UpdatedAt).Scan(&m.ID)
	if err != nil {
		return translate("insert message", err)
	}
	for _, uid := range m.Mentions {
		if _, err := tx.q.ExecContext(ctx, `INSERT INTO message_mentions (app_id, uid, message_id) VALUES (?, ?, ?)`, appID, uid, m.ID); err != nil {
			return translate("insert mention", err)
		}
	}
	if _, err := tx.q.ExecContext(ctx, `INSERT INTO conversations (app_id, conversation_id, type, last_message_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (app_id, conversation_id) DO UPDATE SET last_message_id = excluded.last_message_id, updated_at = excluded.updated_at`,
		appID, m.ConversationID, m.ReceiverType, m.ID, m.SentAt, m.SentAt); err != nil {
		return translate("update conversation", err)
	}
	if m.ReceiverType == chat.ReceiverUser {
		// The sender's side: it has read and received its own message. The
		// receiver's side (when it is another user) only moves up its list
		// of conversations. One statement for both sides: a row whose
		// read_id is 0 is a receiver's, and keeps its read state.
		q := `INSERT INTO user_conversations (app_id, uid, conversation_id, peer, read_id, read_at, delivered_id, delivered_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		args := []any{appID, m.Sender, m.ConversationID, m.Receiver, m.ID, m.SentAt, m.ID, m.SentAt, m.SentAt, m.SentAt}
		if m.Receiver != m.Sender {
			q += `, (?, ?, ?, ?, 0, 0, 0, 0, ?, ?)`
			args = append(args, appID, m.Receiver, m.ConversationID, m.Sender, m.SentAt, m.SentAt)
		}
		q += ` ON CONFLICT (app_id, uid, conversation_id) DO UPDATE SET
			read_id = CASE WHEN excluded.read_id <> 0 THEN excluded.read_id ELSE user_conversations.read_id END,
			read_at = CASE WHEN excluded.read_id <> 0 THEN excluded.read_at ELSE user_conversations.read_at END,
			delivered_id = CASE WHEN excluded.read_id <> 0 THEN excluded.delivered_id ELSE user_conversations.delivered_id END,
			delivered_at = CASE WHEN excluded.read_id <> 0 THEN excluded.delivered_at ELSE user_conversations.delivered_at END,
			updated_at = excluded.updated_at`
		if _, err := tx.q.ExecContext(ctx, q, args...); err != nil {
			return translate("update conversation", err)
		}
	}
	if m.ParentID != 0 {
		if _, err := tx.q.ExecContext(ctx, `UPDATE messages SET reply_count = reply_count + 1 WHERE id = ? AND app_id = ?`, m.ParentID, appID); err != nil {
			return translate("count reply", err)
		}
	}
	return nil
}

// lockMessageOrder makes the app's message ids follow commit order until
// this transaction ends (see dialect.messageOrderLock). It is taken just
// before an id is drawn.
func (tx *Tx) lockMessageOrder(ctx context.Context, appID string) error {
	lock := tx.d.messageOrderLock()
	if lock == "" {
		return nil
	}
	key := messageOrderKey(appID)
	if _, err := tx.q.ExecContext(ctx, lock, key); err != nil {
		return translate("lock message order", err)
	}
	tx.locks = append(tx.locks, key)
	return nil
}

// Message returns one message of the app, deleted or not.
func (tx *Tx) Message(ctx context.Context, appID string, id int64) (*chat.Message, error) {
	m, err := scanMessage(tx.q.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE id = ? AND app_id = ?`, id, appID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrMessageNotFound(id)
	}
	return m, translate("get message", err)
}

// MessageByMUID returns the sender's message with that client id in the
// conversation, if any.
func (tx *Tx) MessageByMUID(ctx context.Context, appID, sender, muid, conversationID string) (*chat.Message, error) {
	m, err := scanMessage(tx.q.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE app_id = ? AND sender = ? AND muid = ? AND conversation_id = ? ORDER BY id LIMIT 1`,
		appID, sender, muid, conversationID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return m, translate("get message by muid", err)
}

// GroupMemberUIDs returns the uids of every member of a group.
func (tx *Tx) GroupMemberUIDs(ctx context.Context, appID, guid string) ([]string, error) {
	rows, err := tx.q.QueryContext(ctx, `SELECT uid FROM group_members WHERE app_id = ? AND guid = ?`, appID, guid)
	if err != nil {
		return nil, translate("list member uids", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var uid string
		if err := rows.Scan(&uid); err != nil {
			return nil, translate("list member uids", err)
		}
		out = append(out, uid)
	}
	return out, translate("list member uids", rows.Err())
}

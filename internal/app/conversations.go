package app

import (
	"context"

	"parley/internal/chat"
	"parley/internal/store"
)

// ListConversations returns a page of the onBehalfOf user's conversations,
// the most recently active first, and the total.
func (a *App) ListConversations(ctx context.Context, c Caller, f store.ConversationFilter) ([]chat.Conversation, int, error) {
	var out []chat.Conversation
	var total int
	err := a.read(ctx, func(tx *store.Tx) error {
		viewer, err := actor(ctx, tx, c, true)
		if err != nil {
			return err
		}
		rows, n, err := tx.ListConversations(ctx, c.AppID, viewer.UID, f)
		if err != nil {
			return err
		}
		total = n
		out, err = a.conversations(ctx, tx, c.AppID, viewer, rows)
		return err
	})
	if out == nil {
		out = []chat.Conversation{}
	}
	return out, total, err
}

// UserConversation returns the onBehalfOf user's conversation with uid.
func (a *App) UserConversation(ctx context.Context, c Caller, uid string) (*chat.Conversation, error) {
	uid = chat.NormalizeID(uid)
	return a.oneConversation(ctx, c, func(tx *store.Tx, viewer *chat.User) (string, error) {
		if _, err := tx.User(ctx, c.AppID, uid); err != nil {
			return "", err
		}
		return chat.UserConversationID(viewer.UID, uid), nil
	})
}

// GroupConversation returns a group's conversation as the onBehalfOf
// member sees it.
func (a *App) GroupConversation(ctx context.Context, c Caller, guid string) (*chat.Conversation, error) {
	guid = chat.NormalizeID(guid)
	return a.oneConversation(ctx, c, func(tx *store.Tx, viewer *chat.User) (string, error) {
		return groupConversationOf(ctx, tx, c.AppID, guid, viewer.UID)
	})
}

// groupConversationOf checks that the group exists and uid is a member,
// and returns the group's conversation id.
func groupConversationOf(ctx context.Context, tx *store.Tx, appID, guid, uid string) (string, error) {
	if _, err := tx.Group(ctx, appID, guid); err != nil {
		return "", err
	}
	_, _, member, err := tx.Membership(ctx, appID, guid, uid)
	if err != nil {
		return "", err
	}
	if !member {
		return "", errNotAMember(uid, guid)
	}
	return chat.GroupConversationID(guid), nil
}

func (a *App) oneConversation(ctx context.Context, c Caller, resolve func(*store.Tx, *chat.User) (string, error)) (*chat.Conversation, error) {
	var out *chat.Conversation
	err := a.read(ctx, func(tx *store.Tx) error {
		viewer, err := actor(ctx, tx, c, true)
		if err != nil {
			return err
		}
		id, err := resolve(tx, viewer)
		if err != nil {
			return err
		}
		row, err := tx.Conversation(ctx, c.AppID, viewer.UID, id)
		if err != nil {
			return err
		}
		list, err := a.conversations(ctx, tx, c.AppID, viewer, []store.ConversationRow{*row})
		if err != nil {
			return err
		}
		if len(list) == 0 {
			return store.ErrConversationNotAccessible(id)
		}
		out = &list[0]
		return nil
	})
	return out, err
}

// conversations renders stored conversations for viewer: the last message
// (with receipts), the peer or group with its per-viewer fields.
// Conversations whose peer or group has gone are left out.
func (a *App) conversations(ctx context.Context, tx *store.Tx, appID string, viewer *chat.User, rows []store.ConversationRow) ([]chat.Conversation, error) {
	var ids []int64
	var uids []string
	for _, r := range rows {
		if r.LastMessageID != 0 {
			ids = append(ids, r.LastMessageID)
		}
		if r.Type == chat.ReceiverUser {
			uids = append(uids, r.With)
		}
	}
	msgs, err := tx.MessagesByID(ctx, appID, ids)
	if err != nil {
		return nil, err
	}
	list := make([]*chat.Message, 0, len(msgs))
	for _, m := range msgs {
		list = append(list, m)
	}
	if err := a.renderFor(ctx, tx, appID, viewer, list...); err != nil {
		return nil, err
	}
	users, err := tx.UsersByUID(ctx, appID, uids)
	if err != nil {
		return nil, err
	}
	peers := make([]*chat.User, 0, len(users))
	for _, u := range users {
		peers = append(peers, u)
	}
	if err := a.presence(ctx, tx, appID, peers...); err != nil {
		return nil, err
	}
	out := make([]chat.Conversation, 0, len(rows))
	for _, r := range rows {
		conv := chat.Conversation{ConversationID: r.ConversationID, ConversationType: r.Type, UnreadCount: r.Unread,
			LastMessage: msgs[r.LastMessageID], CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Tags: r.Tags}
		switch r.Type {
		case chat.ReceiverUser:
			u := users[r.With]
			if u == nil {
				continue
			}
			if err := viewerFields(ctx, tx, appID, viewer, u); err != nil {
				return nil, err
			}
			conv.ConversationWith = u.Public()
		case chat.ReceiverGroup:
			g, err := tx.Group(ctx, appID, r.With)
			if chat.KindOf(err) == chat.KindNotFound {
				continue
			}
			if err != nil {
				return nil, err
			}
			g.HasJoined, g.Scope, g.JoinedAt = true, r.Scope, r.Side.JoinedAt
			conv.ConversationWith = g
		}
		out = append(out, conv)
	}
	return out, nil
}

// viewerFields fills the per-viewer fields of u; for the viewer itself
// (a conversation with oneself) only the conversation id.
func viewerFields(ctx context.Context, tx *store.Tx, appID string, me, u *chat.User) error {
	if me.UID == u.UID {
		u.ConversationID = chat.UserConversationID(me.UID, u.UID)
		return nil
	}
	return viewer(ctx, tx, appID, me, u)
}

// MarkInput is the body of the receipt endpoints: the message to mark up
// to; 0 means the newest message of the conversation.
type MarkInput struct {
	MessageID FlexID `json:"messageId"`
}

// MarkUserConversation marks the onBehalfOf user's conversation with uid
// as read or delivered (receipt chat.ReceiptRead or ReceiptDelivered).
func (a *App) MarkUserConversation(ctx context.Context, c Caller, uid, receipt string, in MarkInput) error {
	uid = chat.NormalizeID(uid)
	return a.mark(ctx, c, receipt, in, func(tx *store.Tx, reader *chat.User) (string, []string, error) {
		if _, err := tx.User(ctx, c.AppID, uid); err != nil {
			return "", nil, err
		}
		audience := []string{reader.UID}
		if uid != reader.UID {
			audience = append(audience, uid)
		}
		return chat.UserConversationID(reader.UID, uid), audience, nil
	})
}

// MarkGroupConversation marks a group's conversation as read or delivered
// for the onBehalfOf member.
func (a *App) MarkGroupConversation(ctx context.Context, c Caller, guid, receipt string, in MarkInput) error {
	guid = chat.NormalizeID(guid)
	return a.mark(ctx, c, receipt, in, func(tx *store.Tx, reader *chat.User) (string, []string, error) {
		id, err := groupConversationOf(ctx, tx, c.AppID, guid, reader.UID)
		if err != nil {
			return "", nil, err
		}
		members, err := tx.GroupMemberUIDs(ctx, c.AppID, guid)
		return id, members, err
	})
}

// mark moves the reader's mark forward and, when it moved, publishes a
// receipt to every party of the conversation (the reader's other
// connections included, so that its devices agree).
func (a *App) mark(ctx context.Context, c Caller, receipt string, in MarkInput,
	resolve func(*store.Tx, *chat.User) (string, []string, error)) error {
	return a.write(ctx, func(tx *store.Tx, fx *effects) error {
		reader, err := actor(ctx, tx, c, true)
		if err != nil {
			return err
		}
		conv, audience, err := resolve(tx, reader)
		if err != nil {
			return err
		}
		newest, err := tx.NewestMessageID(ctx, c.AppID, conv)
		if err != nil {
			return err
		}
		if newest == 0 {
			return store.ErrConversationNotAccessible(conv)
		}
		target := newest
		if in.MessageID != 0 {
			m, err := tx.Message(ctx, c.AppID, int64(in.MessageID))
			if err != nil {
				return err
			}
			if m.ConversationID != conv {
				return chat.Invalid("messageId", "The message %d is not in the conversation %s.", m.ID, conv)
			}
			target = m.ID
		}
		moved, err := tx.MarkConversation(ctx, c.AppID, reader.UID, conv, receipt, target, tx.Unix())
		if err != nil {
			return err
		}
		if moved {
			fx.publish(c.AppID, chat.EventReceipt, chat.Receipt{ConversationID: conv, UID: reader.UID, ReceiptType: receipt,
				MessageID: target, At: tx.Unix()}, audience)
		}
		return nil
	})
}

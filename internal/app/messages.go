package app

import (
	"context"
	"encoding/json"

	"parley/internal/chat"
	"parley/internal/store"
)

// MessageListInput selects a page of messages. The embedded filter holds
// the parameters the store applies as they are; the flags below need the
// viewer (onBehalfOf) and are turned into filter fields by the use case.
type MessageListInput struct {
	store.MessageFilter
	Unread         bool // only messages the viewer has not read
	Undelivered    bool // only messages the viewer has not received
	HideBlocked    bool // hide messages from users the viewer blocked
	MyMentionsOnly bool // only messages that mention the viewer
}

func errNoMessageAccess(uid string, id int64) error {
	return chat.Errorf(chat.KindForbidden, "ERR_MESSAGE_NO_ACCESS", "The user %s has no access to the message %d.", uid, id)
}

func errNotASender(uid string, id int64) error {
	return chat.Errorf(chat.KindForbidden, "ERR_MESSAGE_NOT_A_SENDER", "The user %s is not the sender of the message %d.", uid, id)
}

func errActionNotAllowed(format string, args ...any) error {
	return chat.Errorf(chat.KindForbidden, "ERR_MESSAGE_ACTION_NOT_ALLOWED", format, args...)
}

// ListUserMessages lists the 1:1 conversation between the onBehalfOf user
// and uid. The peer may be deactivated: its history stays readable.
func (a *App) ListUserMessages(ctx context.Context, c Caller, uid string, in MessageListInput) ([]*chat.Message, store.Cursor, error) {
	uid = chat.NormalizeID(uid)
	return a.listMessages(ctx, c, in, true, func(tx *store.Tx, viewer *chat.User, f *store.MessageFilter) error {
		if _, err := tx.User(ctx, c.AppID, uid); err != nil {
			return err
		}
		f.ConversationID = chat.UserConversationID(viewer.UID, uid)
		return nil
	})
}

// ListGroupMessages lists a group's conversation for a member. Members see
// the whole history, including what was sent before they joined
// (docs/decisions/group-history.md).
func (a *App) ListGroupMessages(ctx context.Context, c Caller, guid string, in MessageListInput) ([]*chat.Message, store.Cursor, error) {
	guid = chat.NormalizeID(guid)
	return a.listMessages(ctx, c, in, true, func(tx *store.Tx, viewer *chat.User, f *store.MessageFilter) error {
		var err error
		f.ConversationID, err = groupConversationOf(ctx, tx, c.AppID, guid, viewer.UID)
		return err
	})
}

// ListMessages lists the messages of the whole app (the admin view) or,
// with onBehalfOf, of the viewer's conversations.
func (a *App) ListMessages(ctx context.Context, c Caller, in MessageListInput) ([]*chat.Message, store.Cursor, error) {
	return a.listMessages(ctx, c, in, false, func(_ *store.Tx, viewer *chat.User, f *store.MessageFilter) error {
		if viewer != nil {
			f.Viewer = viewer.UID
		}
		return nil
	})
}

// ListThread lists the replies to a message. With onBehalfOf the viewer
// must have access to the parent.
func (a *App) ListThread(ctx context.Context, c Caller, parentID int64, in MessageListInput) ([]*chat.Message, store.Cursor, error) {
	return a.listMessages(ctx, c, in, false, func(tx *store.Tx, viewer *chat.User, f *store.MessageFilter) error {
		parent, err := tx.Message(ctx, c.AppID, parentID)
		if err != nil {
			return err
		}
		if err := canSee(ctx, tx, c.AppID, viewer, parent); err != nil {
			return err
		}
		f.ParentID = parentID
		return nil
	})
}

// listMessages runs one list: scope sets the conversation (and checks
// access), then the viewer-dependent flags are applied.
func (a *App) listMessages(ctx context.Context, c Caller, in MessageListInput, viewerRequired bool,
	scope func(tx *store.Tx, viewer *chat.User, f *store.MessageFilter) error) ([]*chat.Message, store.Cursor, error) {
	var out []*chat.Message
	var next store.Cursor
	err := a.read(ctx, func(tx *store.Tx) error {
		viewer, err := actor(ctx, tx, c, viewerRequired)
		if err != nil {
			return err
		}
		f := in.MessageFilter
		if err := scope(tx, viewer, &f); err != nil {
			return err
		}
		if viewer == nil {
			var v chat.Validation
			for name, set := range map[string]bool{"unread": in.Unread, "undelivered": in.Undelivered,
				"hideMessagesFromBlockedUsers": in.HideBlocked, "myMentionsOnly": in.MyMentionsOnly} {
				if set {
					v.Add(name, "The %s parameter needs the onBehalfOf header.", name)
				}
			}
			if err := v.Err(); err != nil {
				return err
			}
		} else {
			if in.Unread {
				f.UnreadFor = viewer.UID
			}
			if in.Undelivered {
				f.UndeliveredFor = viewer.UID
			}
			if in.HideBlocked {
				f.HideBlockedBy = viewer.UID
			}
			if in.MyMentionsOnly {
				f.MentionedUIDs = append(f.MentionedUIDs, viewer.UID)
			}
		}
		if out, next, err = tx.ListMessages(ctx, c.AppID, f); err != nil {
			return err
		}
		return a.renderFor(ctx, tx, c.AppID, viewer, out...)
	})
	if out == nil {
		out = []*chat.Message{}
	}
	return out, next, err
}

// renderFor renders messages as viewer sees them: entities, mentions and,
// with a viewer, mentionedMe and the receipt times.
func (a *App) renderFor(ctx context.Context, tx *store.Tx, appID string, viewer *chat.User, msgs ...*chat.Message) error {
	if err := a.render(ctx, tx, appID, viewer, msgs...); err != nil {
		return err
	}
	return receipts(ctx, tx, appID, viewer, msgs)
}

// receipts fills readAt and deliveredAt of 1:1 and group messages as the
// viewer sees them. The store keeps, per side of a conversation, the
// newest message id read (received) and the time of that mark; every
// message up to that id gets that time:
//   - a message the viewer received: the viewer's own marks;
//   - a 1:1 message the viewer sent: the peer's marks (has it been read?).
//
// Group messages the viewer sent carry nothing (per-member receipts are
// not aggregated). docs/decisions/unread-and-receipts.md
func receipts(ctx context.Context, tx *store.Tx, appID string, viewer *chat.User, msgs []*chat.Message) error {
	if viewer == nil || len(msgs) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var convs []string
	for _, m := range msgs {
		if m.Category != chat.CategoryAction && !seen[m.ConversationID] {
			seen[m.ConversationID] = true
			convs = append(convs, m.ConversationID)
		}
	}
	sides, err := tx.ReadSides(ctx, appID, viewer.UID, convs)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Category == chat.CategoryAction {
			continue
		}
		who := ""
		switch {
		case m.ReceiverType == chat.ReceiverUser && m.Receiver == viewer.UID && m.Sender != viewer.UID:
			who = viewer.UID
		case m.ReceiverType == chat.ReceiverUser && m.Sender == viewer.UID && m.Receiver != viewer.UID:
			who = m.Receiver
		case m.ReceiverType == chat.ReceiverGroup && m.Sender != viewer.UID:
			who = viewer.UID
		}
		s, ok := sides[m.ConversationID][who]
		if who == "" || !ok {
			continue
		}
		if m.ID <= s.DeliveredID {
			m.DeliveredAt = s.DeliveredAt
		}
		if m.ID <= s.ReadID {
			m.ReadAt = s.ReadAt
		}
	}
	return nil
}

// canSee checks that viewer (when there is one) is a party of m's
// conversation: its sender or receiver, or a member of its group now.
func canSee(ctx context.Context, tx *store.Tx, appID string, viewer *chat.User, m *chat.Message) error {
	if viewer == nil {
		return nil
	}
	switch m.ReceiverType {
	case chat.ReceiverUser:
		if m.Sender == viewer.UID || m.Receiver == viewer.UID {
			return nil
		}
	case chat.ReceiverGroup:
		_, _, member, err := tx.Membership(ctx, appID, m.Receiver, viewer.UID)
		if err != nil {
			return err
		}
		if member {
			return nil
		}
	}
	return errNoMessageAccess(viewer.UID, m.ID)
}

// Message returns one message; with onBehalfOf, as that user sees it.
func (a *App) Message(ctx context.Context, c Caller, id int64) (*chat.Message, error) {
	var out *chat.Message
	err := a.read(ctx, func(tx *store.Tx) error {
		viewer, err := actor(ctx, tx, c, false)
		if err != nil {
			return err
		}
		if out, err = tx.Message(ctx, c.AppID, id); err != nil {
			return err
		}
		if err := canSee(ctx, tx, c.AppID, viewer, out); err != nil {
			return err
		}
		return a.renderFor(ctx, tx, c.AppID, viewer, out)
	})
	return out, err
}

// EditInput is the body of PUT /v3/messages/{id}.
type EditInput struct {
	Data json.RawMessage `json:"data"`
	Tags *[]string       `json:"tags"`
}

// EditMessage changes a message's text, metadata or tags. Only its sender
// may (or the API key without onBehalfOf, recorded as editedBy
// app_system). The answer is the "edited" action message, which is stored
// in the conversation and published to its parties.
func (a *App) EditMessage(ctx context.Context, c Caller, id int64, in EditInput) (*chat.Message, error) {
	var d struct {
		Text     json.RawMessage `json:"text"`
		Metadata json.RawMessage `json:"metadata"`
	}
	if present(in.Data) {
		if !chat.IsJSONObject(in.Data) {
			return nil, badMessage("ERR_INVALID_MESSAGE_DATA", "The data field must be a JSON object.")
		}
		if err := json.Unmarshal(in.Data, &d); err != nil {
			return nil, badMessage("ERR_INVALID_MESSAGE_DATA", "The data object is malformed.")
		}
	}
	var text *string
	if present(d.Text) {
		var s string
		if err := json.Unmarshal(d.Text, &s); err != nil {
			return nil, badMessage("ERR_INVALID_MESSAGE_TEXT", "The data.text field must be a string.")
		}
		text = &s
	}
	if present(d.Metadata) && !chat.IsJSONObject(d.Metadata) {
		return nil, badMessage("ERR_INVALID_METADATA", "The data.metadata field must be a JSON object.")
	}
	var v chat.Validation
	if in.Tags != nil {
		chat.ValidateTags(&v, "tags", *in.Tags)
	}
	if text == nil && !present(d.Metadata) && in.Tags == nil {
		v.Add("data", "Nothing to change: send data.text, data.metadata or tags.")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *chat.Message
	err := a.write(ctx, func(tx *store.Tx, fx *effects) error {
		editor, m, err := changeable(ctx, tx, c, id, "edited")
		if err != nil {
			return err
		}
		if editor != nil && editor.UID != m.Sender {
			return errNotASender(editor.UID, id)
		}
		if m.DeletedAt != 0 {
			return errActionNotAllowed("The message %d is deleted and cannot be edited.", id)
		}
		if text != nil {
			if *text == "" && m.Category == chat.CategoryMessage && m.Type == chat.TypeText {
				return badMessage("ERR_EMPTY_MESSAGE_TEXT", "The data.text of a text message cannot be empty.")
			}
			m.Data.Text = *text
			m.Mentions = chat.ParseMentions(*text)
		}
		if present(d.Metadata) {
			m.Data.Metadata = d.Metadata
		}
		if in.Tags != nil {
			m.Tags = *in.Tags
		}
		if b, err := json.Marshal(&m.Data); err == nil && len(b) > chat.MaxMessageData {
			return badMessage("ERR_INVALID_MESSAGE_DATA", "The data object may not be greater than %d bytes.", chat.MaxMessageData)
		}
		m.EditedBy = byUID(editor)
		m.EditedAt, m.UpdatedAt = tx.Unix(), tx.Unix()
		if err := tx.UpdateMessageContent(ctx, c.AppID, m); err != nil {
			return err
		}
		out, err = a.recordAction(ctx, tx, fx, c.AppID, editor, m, chat.ActionEdited, chat.EventMessageEdited)
		return err
	})
	return out, err
}

// changeable loads, in tx, the caller's user (nil for the API key alone)
// and the message id that it is about to change; verb ("edited",
// "deleted") words the refusal for an action message, which never changes.
func changeable(ctx context.Context, tx *store.Tx, c Caller, id int64, verb string) (*chat.User, *chat.Message, error) {
	me, err := actor(ctx, tx, c, false)
	if err != nil {
		return nil, nil, err
	}
	m, err := tx.Message(ctx, c.AppID, id)
	if err != nil {
		return nil, nil, err
	}
	if m.Category == chat.CategoryAction {
		return nil, nil, errActionNotAllowed("Action messages cannot be %s.", verb)
	}
	return me, m, nil
}

// byUID is who is recorded as having edited or deleted a message: the
// user, or app_system for the API key acting alone.
func byUID(u *chat.User) string {
	if u == nil {
		return chat.SystemUID
	}
	return u.UID
}

// DeleteMessage deletes a message: soft (deletedAt and deletedBy are set;
// the message stays in lists) or permanent (the row goes, with its thread
// replies). Its sender may delete it, so may a group's admins and
// moderators, and the API key without onBehalfOf (deletedBy app_system).
// A "deleted" action message is stored and published either way
// (docs/decisions/message-edit-delete.md). The soft delete answers the
// deleted message; the permanent one answers nil.
func (a *App) DeleteMessage(ctx context.Context, c Caller, id int64, permanent bool) (*chat.Message, error) {
	var out *chat.Message
	err := a.write(ctx, func(tx *store.Tx, fx *effects) error {
		out = nil
		deleter, m, err := changeable(ctx, tx, c, id, "deleted")
		if err != nil {
			return err
		}
		if deleter != nil && deleter.UID != m.Sender {
			allowed := false
			if m.ReceiverType == chat.ReceiverGroup {
				scope, _, member, err := tx.Membership(ctx, c.AppID, m.Receiver, deleter.UID)
				if err != nil {
					return err
				}
				allowed = member && (scope == chat.ScopeAdmin || scope == chat.ScopeModerator)
			}
			if !allowed {
				return errNotASender(deleter.UID, id)
			}
		}
		by := byUID(deleter)
		now := tx.Unix()
		if permanent {
			if _, err := tx.DeleteMessagePermanently(ctx, c.AppID, m); err != nil {
				return err
			}
			// The action carries what identifies the message, not its
			// content: that is what a permanent delete removes.
			stub := &chat.Message{ID: m.ID, ConversationID: m.ConversationID, Sender: m.Sender, ReceiverType: m.ReceiverType,
				Receiver: m.Receiver, Category: m.Category, Type: m.Type, ParentID: m.ParentID, SentAt: m.SentAt,
				UpdatedAt: now, DeletedAt: now, DeletedBy: by}
			_, err := a.recordAction(ctx, tx, fx, c.AppID, deleter, stub, chat.ActionDeleted, chat.EventMessageDeleted)
			return err
		}
		if m.DeletedAt == 0 {
			if _, err := tx.SoftDeleteMessage(ctx, c.AppID, id, by, now); err != nil {
				return err
			}
			m.DeletedAt, m.DeletedBy, m.UpdatedAt = now, by, now
			if _, err := a.recordAction(ctx, tx, fx, c.AppID, deleter, m, chat.ActionDeleted, chat.EventMessageDeleted); err != nil {
				return err
			}
		}
		// A second soft delete changes nothing and publishes nothing.
		// The published copy of m is encoded after commit: render a
		// separate copy for the deleter.
		cp := *m
		cp.MentionedUsers, cp.MentionedMe = nil, false
		out = &cp
		return a.renderFor(ctx, tx, c.AppID, deleter, out)
	})
	return out, err
}

// recordAction stores the action message (edited or deleted) about m,
// done by actor (nil: the API key; the action is then attributed to m's
// sender, as CometChat does, so that both parties see it), and queues the
// event to every party of the conversation.
func (a *App) recordAction(ctx context.Context, tx *store.Tx, fx *effects, appID string, actor *chat.User, m *chat.Message, action, event string) (*chat.Message, error) {
	if err := a.render(ctx, tx, appID, nil, m); err != nil {
		return nil, err
	}
	by := actor
	if by == nil {
		u, err := tx.User(ctx, appID, m.Sender)
		if err != nil && chat.KindOf(err) != chat.KindNotFound {
			return nil, err
		}
		by = u
	}
	ents := &chat.Entities{On: &chat.Entity{Entity: m, EntityType: "message"}}
	sender := m.Sender
	if by != nil {
		byCopy := by.Public()
		if err := a.presence(ctx, tx, appID, byCopy); err != nil {
			return nil, err
		}
		ents.By = &chat.Entity{Entity: byCopy, EntityType: chat.ReceiverUser}
		sender = by.UID
	}
	var audience []string
	switch m.ReceiverType {
	case chat.ReceiverUser:
		if r, err := tx.User(ctx, appID, m.Receiver); err == nil {
			if err := a.presence(ctx, tx, appID, r); err != nil {
				return nil, err
			}
			r.ConversationID = m.ConversationID
			ents.For = chat.UserEntity(r)
		} else if chat.KindOf(err) != chat.KindNotFound {
			return nil, err
		}
		audience = []string{m.Sender}
		if m.Receiver != m.Sender {
			audience = append(audience, m.Receiver)
		}
	case chat.ReceiverGroup:
		if g, err := tx.Group(ctx, appID, m.Receiver); err == nil {
			ents.For = &chat.Entity{Entity: g, EntityType: chat.ReceiverGroup}
		} else if chat.KindOf(err) != chat.KindNotFound {
			return nil, err
		}
		var err error
		if audience, err = tx.GroupMemberUIDs(ctx, appID, m.Receiver); err != nil {
			return nil, err
		}
	}
	act := &chat.Message{ConversationID: m.ConversationID, Sender: sender, ReceiverType: m.ReceiverType, Receiver: m.Receiver,
		Category: chat.CategoryAction, Type: chat.ActionTypeMessage, SentAt: tx.Unix(), UpdatedAt: tx.Unix(),
		Data: chat.MessageData{Action: action, Entities: ents}}
	if err := tx.InsertActionMessage(ctx, appID, act, m.ID); err != nil {
		return nil, err
	}
	fx.publish(appID, event, act, audience)
	return act, nil
}

// SendThreadMessage sends a reply in the thread of message parentID as the
// onBehalfOf user. The receiver may be left out: it is the parent's
// conversation (the group, or the other party of the 1:1 conversation).
func (a *App) SendThreadMessage(ctx context.Context, c Caller, parentID int64, in SendInput) (*chat.Message, error) {
	if in.MultipleReceivers != nil {
		return nil, chat.Invalid("multipleReceivers", "A thread reply goes to its parent's conversation; multipleReceivers is not allowed.")
	}
	d, err := in.draft()
	if err != nil {
		return nil, err
	}
	d.ParentID = parentID
	var rt string
	if in.Receiver != "" || in.ReceiverType != "" {
		var ok bool
		if rt, ok = chat.ParseReceiverType(in.ReceiverType); !ok {
			return nil, badMessage("ERR_INVALID_RECEIVER_TYPE", "The receiverType must be user or group.")
		}
	}
	var out *chat.Message
	err = a.write(ctx, func(tx *store.Tx, fx *effects) error {
		sender, err := actor(ctx, tx, c, true)
		if err != nil {
			return err
		}
		parent, err := tx.Message(ctx, c.AppID, parentID)
		if err != nil {
			return err
		}
		if err := canSee(ctx, tx, c.AppID, sender, parent); err != nil {
			return err
		}
		m := *d
		switch {
		case in.Receiver != "":
			m.Receiver, m.ReceiverType = chat.NormalizeID(in.Receiver), rt
		case parent.ReceiverType == chat.ReceiverGroup:
			m.Receiver, m.ReceiverType = parent.Receiver, chat.ReceiverGroup
		case parent.Sender == sender.UID:
			m.Receiver, m.ReceiverType = parent.Receiver, chat.ReceiverUser
		default:
			m.Receiver, m.ReceiverType = parent.Sender, chat.ReceiverUser
		}
		out, err = a.sendTx(ctx, tx, fx, c, sender, &m)
		return err
	})
	return out, err
}

package app

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"parley/internal/chat"
	"parley/internal/store"
)

// SendInput is the body of POST /v3/messages (and of a bot's reply).
type SendInput struct {
	Receiver          string             `json:"receiver"`
	ReceiverType      string             `json:"receiverType"`
	Category          string             `json:"category"`
	Type              string             `json:"type"`
	Data              json.RawMessage    `json:"data"`
	MUID              string             `json:"muid"`
	Tags              []string           `json:"tags"`
	MultipleReceivers *MultipleReceivers `json:"multipleReceivers"`
	ParentID          FlexID             `json:"parentId"`
}

// MultipleReceivers fans one send out to several conversations.
type MultipleReceivers struct {
	UIDs  []string `json:"uids"`
	GUIDs []string `json:"guids"`
}

// FlexID is a message id given as a JSON string of digits or a number.
type FlexID int64

// UnmarshalJSON accepts "123", 123 and null.
func (f *FlexID) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return chat.Invalid("id", "A message id must be a positive integer.")
	}
	*f = FlexID(n)
	return nil
}

// inputData is the data object of a send, with each field kept raw so that
// wrong types get their own error codes.
type inputData struct {
	Text                   json.RawMessage `json:"text"`
	Metadata               json.RawMessage `json:"metadata"`
	CustomData             json.RawMessage `json:"customData"`
	Attachments            json.RawMessage `json:"attachments"`
	InteractiveData        json.RawMessage `json:"interactiveData"`
	InteractionGoal        json.RawMessage `json:"interactionGoal"`
	AllowSenderInteraction bool            `json:"allowSenderInteraction"`
	Resource               string          `json:"resource"`
}

func badMessage(code, format string, args ...any) error {
	return chat.Errorf(chat.KindInvalid, code, format, args...)
}

// draft validates the body and returns a message without receiver,
// conversation or times.
func (in *SendInput) draft() (*chat.Message, error) {
	m := &chat.Message{MUID: in.MUID, Tags: in.Tags, ParentID: int64(in.ParentID)}
	var v chat.Validation
	chat.ValidateTags(&v, "tags", in.Tags)
	if utf8.RuneCountInString(in.MUID) > chat.MaxUIDLen {
		v.Add("muid", "The muid may not be greater than %d characters.", chat.MaxUIDLen)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	m.Category = chat.CategoryMessage
	if in.Category != "" {
		c, ok := chat.ParseCategory(in.Category)
		if !ok {
			return nil, badMessage("ERR_INVALID_MESSAGE_CATEGORY", "The category must be message, custom or interactive.")
		}
		m.Category = c
	}
	if len(in.Data) > chat.MaxMessageData {
		return nil, badMessage("ERR_INVALID_MESSAGE_DATA", "The data object may not be greater than %d bytes.", chat.MaxMessageData)
	}
	var d inputData
	if len(in.Data) > 0 && string(in.Data) != "null" {
		if !chat.IsJSONObject(in.Data) {
			return nil, badMessage("ERR_INVALID_MESSAGE_DATA", "The data field must be a JSON object.")
		}
		if err := json.Unmarshal(in.Data, &d); err != nil {
			return nil, badMessage("ERR_INVALID_MESSAGE_DATA", "The data object is malformed.")
		}
	}
	if present(d.Metadata) {
		if !chat.IsJSONObject(d.Metadata) {
			return nil, badMessage("ERR_INVALID_METADATA", "The data.metadata field must be a JSON object.")
		}
		m.Data.Metadata = d.Metadata
	}
	m.Data.Resource = d.Resource
	var text string
	if present(d.Text) {
		if err := json.Unmarshal(d.Text, &text); err != nil {
			return nil, badMessage("ERR_INVALID_MESSAGE_TEXT", "The data.text field must be a string.")
		}
	}
	switch m.Category {
	case chat.CategoryMessage:
		m.Type = chat.TypeText
		if in.Type != "" {
			t, ok := chat.ParseMessageType(in.Type)
			if !ok {
				return nil, badMessage("ERR_INVALID_MESSAGE_TYPE", "The type of a message must be text, image, video, audio or file.")
			}
			m.Type = t
		}
		if m.Type == chat.TypeText {
			if text == "" {
				return nil, badMessage("ERR_EMPTY_MESSAGE_TEXT", "The data.text field is required for a text message.")
			}
		} else {
			atts, err := parseAttachments(d.Attachments)
			if err != nil {
				return nil, err
			}
			m.Data.Attachments = atts
		}
	case chat.CategoryCustom:
		if in.Type == "" {
			return nil, badMessage("ERR_EMPTY_MESSAGE_TYPE", "The type field is required for a custom message.")
		}
		if utf8.RuneCountInString(in.Type) > chat.MaxNameLen {
			return nil, badMessage("ERR_INVALID_MESSAGE_TYPE", "The type may not be greater than %d characters.", chat.MaxNameLen)
		}
		m.Type = in.Type
		if !present(d.CustomData) {
			return nil, badMessage("ERR_EMPTY_CUSTOM_DATA", "The data.customData field is required for a custom message.")
		}
		if !chat.IsJSONObject(d.CustomData) {
			return nil, badMessage("ERR_INVALID_CUSTOM_DATA", "The data.customData field must be a JSON object.")
		}
		m.Data.CustomData = d.CustomData
	case chat.CategoryInteractive:
		if in.Type == "" {
			return nil, badMessage("ERR_EMPTY_MESSAGE_TYPE", "The type field is required for an interactive message.")
		}
		m.Type = in.Type
		if !chat.IsJSONObject(d.InteractiveData) {
			return nil, badMessage("ERR_INVALID_MESSAGE_DATA", "The data.interactiveData field must be a JSON object.")
		}
		m.Data.InteractiveData = d.InteractiveData
		if present(d.InteractionGoal) {
			if !chat.IsJSONObject(d.InteractionGoal) {
				return nil, badMessage("ERR_INVALID_MESSAGE_DATA", "The data.interactionGoal field must be a JSON object.")
			}
			m.Data.InteractionGoal = d.InteractionGoal
		}
		m.Data.AllowSenderInteraction = d.AllowSenderInteraction
	}
	m.Data.Text = text
	m.Mentions = chat.ParseMentions(text)
	return m, nil
}

func present(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

func parseAttachments(raw json.RawMessage) ([]chat.Attachment, error) {
	if !present(raw) {
		return nil, badMessage("ERR_INVALID_MESSAGE_DATA", "A media message needs data.attachments: a list of {url, name, mimeType, extension, size}.")
	}
	var atts []chat.Attachment
	if err := json.Unmarshal(raw, &atts); err != nil || len(atts) == 0 {
		return nil, badMessage("ERR_INVALID_MESSAGE_DATA", "The data.attachments field must be a non-empty list of {url, name, mimeType, extension, size}.")
	}
	for i, at := range atts {
		var v chat.Validation
		chat.ValidateURL(&v, "url", at.URL)
		if at.URL == "" || v.Err() != nil {
			return nil, badMessage("ERR_INVALID_MESSAGE_DATA", "data.attachments[%d].url must be an absolute URL.", i)
		}
		switch at.Size.(type) {
		case nil, string, float64:
		default:
			return nil, badMessage("ERR_INVALID_MESSAGE_DATA", "data.attachments[%d].size must be a string or a number.", i)
		}
	}
	return atts, nil
}

// MessageResult is the outcome of one item of a call that acts on many (a
// send to multipleReceivers, add members): the message it produced, or the
// error for that item alone.
type MessageResult struct {
	Success bool          `json:"success"`
	Data    *chat.Message `json:"data,omitempty"`
	Error   *chat.Error   `json:"error,omitempty"`
}

// resultOf is the MessageResult of one item. A user error (any kind but
// Internal) is that item's alone and goes in the result; any other error
// aborts the whole call and is returned.
func resultOf(m *chat.Message, err error) (MessageResult, error) {
	if err == nil {
		return MessageResult{Success: true, Data: m}, nil
	}
	ce := chat.AsError(err)
	if ce == nil || ce.Kind == chat.KindInternal {
		return MessageResult{}, err
	}
	return MessageResult{Error: ce}, nil
}

// MultiSendResult is the response of a multipleReceivers send.
type MultiSendResult struct {
	UIDs  map[string]MessageResult `json:"uids,omitempty"`
	GUIDs map[string]MessageResult `json:"guids,omitempty"`
}

// SendMessage sends a message as the caller's onBehalfOf user.
func (a *App) SendMessage(ctx context.Context, c Caller, in SendInput) (*chat.Message, error) {
	return a.send(ctx, c, in)
}

// SendMulti sends one message to each receiver of in.MultipleReceivers.
func (a *App) SendMulti(ctx context.Context, c Caller, in SendInput) (*MultiSendResult, error) {
	d, err := in.draft()
	if err != nil {
		return nil, err
	}
	mr := in.MultipleReceivers
	if len(mr.UIDs)+len(mr.GUIDs) == 0 {
		return nil, badMessage("ERR_EMPTY_RECEIVER", "multipleReceivers needs at least one uid or guid.")
	}
	if len(mr.UIDs)+len(mr.GUIDs) > 100 {
		return nil, chat.Invalid("multipleReceivers", "At most 100 receivers per call.")
	}
	out := &MultiSendResult{UIDs: map[string]MessageResult{}, GUIDs: map[string]MessageResult{}}
	err = a.write(ctx, func(tx *store.Tx, fx *effects) error {
		clear(out.UIDs)
		clear(out.GUIDs)
		sender, err := actor(ctx, tx, c, true)
		if err != nil {
			return err
		}
		one := func(rtype, receiver string, results map[string]MessageResult) error {
			m := *d
			m.Receiver, m.ReceiverType = chat.NormalizeID(receiver), rtype
			r, err := resultOf(a.sendTx(ctx, tx, fx, c, sender, &m))
			if err != nil {
				return err
			}
			results[m.Receiver] = r
			return nil
		}
		for _, u := range mr.UIDs {
			if err := one(chat.ReceiverUser, u, out.UIDs); err != nil {
				return err
			}
		}
		for _, g := range mr.GUIDs {
			if err := one(chat.ReceiverGroup, g, out.GUIDs); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SendFromSocket sends a message a client wrote on its WebSocket.
func (a *App) SendFromSocket(ctx context.Context, appID, uid string, body json.RawMessage) (any, error) {
	var in SendInput
	if err := json.Unmarshal(body, &in); err != nil {
		if ce := chat.AsError(err); ce != nil {
			return nil, ce
		}
		return nil, chat.Errorf(chat.KindInvalid, "ERR_BAD_REQUEST", "The message body is not a valid send request.")
	}
	if in.MultipleReceivers != nil {
		return a.SendMulti(ctx, Caller{AppID: appID, OnBehalfOf: uid, Origin: OriginWebSocket}, in)
	}
	return a.SendMessage(ctx, Caller{AppID: appID, OnBehalfOf: uid, Origin: OriginWebSocket}, in)
}

// send validates and stores one message, then publishes it.
func (a *App) send(ctx context.Context, c Caller, in SendInput) (*chat.Message, error) {
	d, err := in.draft()
	if err != nil {
		return nil, err
	}
	if in.Receiver == "" {
		return nil, badMessage("ERR_EMPTY_RECEIVER", "The receiver field is required.")
	}
	d.Receiver = chat.NormalizeID(in.Receiver)
	rt, ok := chat.ParseReceiverType(in.ReceiverType)
	if !ok {
		return nil, badMessage("ERR_INVALID_RECEIVER_TYPE", "The receiverType must be user or group.")
	}
	d.ReceiverType = rt
	var out *chat.Message
	err = a.write(ctx, func(tx *store.Tx, fx *effects) error {
		sender, err := actor(ctx, tx, c, true)
		if err != nil {
			return err
		}
		m := *d
		out, err = a.sendTx(ctx, tx, fx, c, sender, &m)
		return err
	})
	return out, err
}

// sendTx checks that sender may post m, stores it and queues its
// publication. m has receiver, type, category and data set. An earlier
// message of the sender with the same muid in the same conversation is
// returned instead of storing a duplicate (a client's retry). The message's
// deliveries to bots are queued in the same transaction.
func (a *App) sendTx(ctx context.Context, tx *store.Tx, fx *effects, c Caller, sender *chat.User, m *chat.Message) (*chat.Message, error) {
	appID := c.AppID
	m.Sender = sender.UID
	known := map[string]*chat.User{sender.UID: sender} // users read already, for render
	var audience []string
	var senderIsBot bool
	var cands []chat.RelayCandidate // bots that may receive m
	switch m.ReceiverType {
	case chat.ReceiverUser:
		if !chat.ValidID(m.Receiver) {
			return nil, store.ErrUIDNotFound(m.Receiver)
		}
		// One statement for the receiver, its bot settings, the block
		// state and the sender's being a bot: this runs in the writer,
		// once for every message.
		peer, err := tx.Peer(ctx, appID, sender.UID, m.Receiver)
		if err != nil {
			return nil, err
		}
		if !peer.User.Active() {
			return nil, store.ErrUIDNotFound(m.Receiver)
		}
		known[peer.User.UID] = peer.User
		if peer.Blocked {
			return nil, chat.Errorf(chat.KindForbidden, "ERR_BLOCKED_RECEIVER", "Messages between %s and %s are blocked.", sender.UID, m.Receiver)
		}
		senderIsBot = peer.SenderIsBot
		if peer.Bot != nil {
			cands = []chat.RelayCandidate{*peer.Bot}
		}
		m.ConversationID = chat.UserConversationID(sender.UID, m.Receiver)
		audience = []string{sender.UID}
		if m.Receiver != sender.UID {
			audience = append(audience, m.Receiver)
		}
	case chat.ReceiverGroup:
		if !chat.ValidID(m.Receiver) {
			return nil, store.ErrGUIDNotFound(m.Receiver)
		}
		var err error
		if m.ConversationID, err = groupConversationOf(ctx, tx, appID, m.Receiver, sender.UID); err != nil {
			return nil, err
		}
		if audience, err = tx.GroupMemberUIDs(ctx, appID, m.Receiver); err != nil {
			return nil, err
		}
		if senderIsBot, err = tx.IsBot(ctx, appID, sender.UID); err != nil {
			return nil, err
		}
		if cands, err = tx.GroupRelayCandidates(ctx, appID, m.Receiver); err != nil {
			return nil, err
		}
	}
	if m.MUID != "" {
		prev, err := tx.MessageByMUID(ctx, appID, sender.UID, m.MUID, m.ConversationID)
		if err != nil {
			return nil, err
		}
		if prev != nil {
			return prev, a.renderKnown(ctx, tx, appID, nil, known, prev)
		}
	}
	if m.ParentID != 0 {
		parent, err := tx.Message(ctx, appID, m.ParentID)
		if err != nil {
			return nil, err
		}
		if parent.ConversationID != m.ConversationID {
			return nil, chat.Errorf(chat.KindInvalid, "ERR_WRONG_MESSAGE_THREAD", "The parent message %d is not in this conversation.", m.ParentID)
		}
		if parent.ParentID != 0 {
			return nil, chat.Errorf(chat.KindInvalid, "ERR_MESSAGE_THREAD_NESTING", "Threads cannot be nested: message %d is itself a reply.", m.ParentID)
		}
	}
	if senderIsBot {
		if err := setHop(ctx, tx, appID, m); err != nil {
			return nil, err
		}
	}
	m.SentAt, m.UpdatedAt = tx.Unix(), tx.Unix()
	if err := tx.InsertMessage(ctx, appID, m); err != nil {
		return nil, err
	}
	if err := a.renderKnown(ctx, tx, appID, nil, known, m); err != nil {
		return nil, err
	}
	if err := a.relay(ctx, tx, fx, c, m, cands); err != nil {
		return nil, err
	}
	fx.publish(appID, chat.EventMessage, m, audience)
	return m, nil
}

// render fills the read-time parts of messages: the sender and receiver
// entities (with live presence), the mentioned users and, for a viewer,
// mentionedMe. Action messages keep the entities stored with them.
func (a *App) render(ctx context.Context, tx *store.Tx, appID string, viewer *chat.User, msgs ...*chat.Message) error {
	return a.renderKnown(ctx, tx, appID, viewer, nil, msgs...)
}

// renderKnown is render with some of the users read already in this
// transaction (known, by uid; not modified): only the others are read.
func (a *App) renderKnown(ctx context.Context, tx *store.Tx, appID string, viewer *chat.User, known map[string]*chat.User, msgs ...*chat.Message) error {
	uids := map[string]bool{}
	guids := map[string]bool{}
	for _, m := range msgs {
		if m.Category != chat.CategoryAction {
			uids[m.Sender] = true
			if m.ReceiverType == chat.ReceiverUser {
				uids[m.Receiver] = true
			} else {
				guids[m.Receiver] = true
			}
		}
		for _, u := range m.Mentions {
			uids[u] = true
		}
	}
	list := make([]string, 0, len(uids))
	for u := range uids {
		if known[u] == nil {
			list = append(list, u)
		}
	}
	users := make(map[string]*chat.User, len(uids))
	if len(list) > 0 {
		read, err := tx.UsersByUID(ctx, appID, list)
		if err != nil {
			return err
		}
		users = read
	}
	for u := range uids {
		if k := known[u]; k != nil {
			users[u] = k
		}
	}
	public := make([]*chat.User, 0, len(users))
	for uid, u := range users {
		// Other users see a user without its private metadata.
		users[uid] = u.Public()
		public = append(public, users[uid])
	}
	if err := a.presence(ctx, tx, appID, public...); err != nil {
		return err
	}
	groups := make(map[string]*chat.Group, len(guids))
	for g := range guids {
		grp, err := tx.Group(ctx, appID, g)
		if chat.KindOf(err) == chat.KindNotFound {
			continue
		}
		if err != nil {
			return err
		}
		groups[g] = grp
	}
	for _, m := range msgs {
		m.MentionedUsers = m.MentionedUsers[:0]
		for _, uid := range m.Mentions {
			if u := users[uid]; u != nil {
				m.MentionedUsers = append(m.MentionedUsers, *u)
			}
			if viewer != nil && uid == viewer.UID {
				m.MentionedMe = true
			}
		}
		if len(m.MentionedUsers) == 0 {
			m.MentionedUsers = nil
		}
		if m.Category == chat.CategoryAction {
			continue
		}
		ents := &chat.Entities{}
		if u := users[m.Sender]; u != nil {
			ents.Sender = &chat.Entity{Entity: u, EntityType: chat.ReceiverUser}
		}
		if m.ReceiverType == chat.ReceiverUser {
			if u := users[m.Receiver]; u != nil {
				r := *u
				r.ConversationID = m.ConversationID
				ents.Receiver = &chat.Entity{Entity: &r, EntityType: chat.ReceiverUser}
			}
		} else if g := groups[m.Receiver]; g != nil {
			ents.Receiver = &chat.Entity{Entity: g, EntityType: chat.ReceiverGroup}
		}
		m.Data.Entities = ents
	}
	return nil
}

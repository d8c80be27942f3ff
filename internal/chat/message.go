package chat

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Receiver types.
const (
	ReceiverUser  = "user"
	ReceiverGroup = "group"
)

// Message categories.
const (
	CategoryMessage     = "message"
	CategoryCustom      = "custom"
	CategoryAction      = "action"
	CategoryInteractive = "interactive"
	CategoryCall        = "call"
)

// Types of the "message" category.
const (
	TypeText  = "text"
	TypeImage = "image"
	TypeVideo = "video"
	TypeAudio = "audio"
	TypeFile  = "file"
)

// Action message types and actions.
const (
	ActionTypeGroupMember = "groupMember"
	ActionTypeMessage     = "message"

	ActionJoined       = "joined"
	ActionLeft         = "left"
	ActionKicked       = "kicked"
	ActionBanned       = "banned"
	ActionUnbanned     = "unbanned"
	ActionAdded        = "added"
	ActionScopeChanged = "scopeChanged"
	ActionEdited       = "edited"
	ActionDeleted      = "deleted"
)

// Attachment of a media message.
type Attachment struct {
	URL       string `json:"url"`
	Name      string `json:"name,omitempty"`
	MimeType  string `json:"mimeType,omitempty"`
	Extension string `json:"extension,omitempty"`
	Size      any    `json:"size,omitempty"` // CometChat sends a string; numbers are accepted too
}

// Entity wraps a user, group or message inside a message's data.entities.
type Entity struct {
	Entity     any    `json:"entity"`
	EntityType string `json:"entityType"`
}

// Entities of a message: sender/receiver for user messages, by/on/for for
// action messages.
type Entities struct {
	Sender   *Entity `json:"sender,omitempty"`
	Receiver *Entity `json:"receiver,omitempty"`
	By       *Entity `json:"by,omitempty"`
	On       *Entity `json:"on,omitempty"`
	For      *Entity `json:"for,omitempty"`
}

// MessageData is a message's data object. Entities of user messages are
// filled when the message is read (they carry live presence); those of
// action messages are kept as they were when the action happened.
type MessageData struct {
	Text                   string          `json:"text,omitempty"`
	Metadata               json.RawMessage `json:"metadata,omitempty"`
	CustomData             json.RawMessage `json:"customData,omitempty"`
	Attachments            []Attachment    `json:"attachments,omitempty"`
	InteractiveData        json.RawMessage `json:"interactiveData,omitempty"`
	InteractionGoal        json.RawMessage `json:"interactionGoal,omitempty"`
	AllowSenderInteraction bool            `json:"allowSenderInteraction,omitempty"`
	Resource               string          `json:"resource,omitempty"`
	Action                 string          `json:"action,omitempty"`
	// Scope fields of scopeChanged actions.
	OldScope string    `json:"oldScope,omitempty"`
	NewScope string    `json:"newScope,omitempty"`
	Entities *Entities `json:"entities,omitempty"`
}

// Message is a chat message in CometChat's JSON shape.
type Message struct {
	ID             int64       `json:"-"`
	MUID           string      `json:"muid,omitempty"`
	ConversationID string      `json:"conversationId"`
	Sender         string      `json:"sender"`
	ReceiverType   string      `json:"receiverType"`
	Receiver       string      `json:"receiver"`
	Category       string      `json:"category"`
	Type           string      `json:"type"`
	Data           MessageData `json:"data"`
	Tags           []string    `json:"tags,omitempty"`
	ParentID       int64       `json:"-"`
	ReplyCount     int         `json:"replyCount,omitempty"`
	SentAt         int64       `json:"sentAt"`
	UpdatedAt      int64       `json:"updatedAt"`
	EditedAt       int64       `json:"editedAt,omitempty"`
	EditedBy       string      `json:"editedBy,omitempty"`
	DeletedAt      int64       `json:"deletedAt,omitempty"`
	DeletedBy      string      `json:"deletedBy,omitempty"`

	// Mentions are the uids mentioned in the text, in order of appearance.
	Mentions []string `json:"-"`
	// MentionedUsers are the mentioned users, filled when read.
	MentionedUsers []User `json:"mentionedUsers,omitempty"`
	MentionedMe    bool   `json:"mentionedMe,omitempty"`

	// Per-viewer receipt times.
	DeliveredAt int64 `json:"deliveredAt,omitempty"`
	ReadAt      int64 `json:"readAt,omitempty"`

	// Hop counts bot relays: 0 for a human's message, n+1 for a bot's reply
	// to a hop-n message. Not part of the API.
	Hop int `json:"-"`

	encoded Encoded // see Encode
}

// messageJSON adds the fields whose JSON form differs from the Go one.
type messageJSON struct {
	ID       string `json:"id"`
	ParentID string `json:"parentId,omitempty"`
	*messageAlias
}

type messageAlias Message

// MarshalJSON renders ids as strings of digits, as CometChat does.
func (m *Message) MarshalJSON() ([]byte, error) {
	j := messageJSON{ID: strconv.FormatInt(m.ID, 10), messageAlias: (*messageAlias)(m)}
	if m.ParentID != 0 {
		j.ParentID = strconv.FormatInt(m.ParentID, 10)
	}
	return Marshal(j)
}

// Encode returns the message's JSON (MarshalJSON), encoding it on the first
// call only: a new message is encoded once for its API answer, its
// WebSocket frame and its bots' callbacks. The message must not change
// after the first call.
func (m *Message) Encode() (Encoded, error) {
	if m.encoded == nil {
		b, err := m.MarshalJSON()
		if err != nil {
			return nil, err
		}
		m.encoded = b
	}
	return m.encoded, nil
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (m *Message) UnmarshalJSON(b []byte) error {
	var j struct {
		ID       json.Number `json:"id"`
		ParentID json.Number `json:"parentId"`
		*messageAlias
	}
	j.messageAlias = (*messageAlias)(m)
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	m.ID, _ = strconv.ParseInt(string(j.ID), 10, 64)
	m.ParentID, _ = strconv.ParseInt(string(j.ParentID), 10, 64)
	return nil
}

// IsUserContent reports whether the message was written by a user (not an
// action), which is what bots may receive.
func (m *Message) IsUserContent() bool {
	switch m.Category {
	case CategoryMessage, CategoryCustom, CategoryInteractive:
		return true
	}
	return false
}

// ParseReceiverType returns the canonical receiver type, case-insensitively.
func ParseReceiverType(s string) (string, bool) { return parseEnum(s, ReceiverUser, ReceiverGroup) }

// ParseCategory returns the canonical category of a message a client may
// send, case-insensitively.
func ParseCategory(s string) (string, bool) {
	return parseEnum(s, CategoryMessage, CategoryCustom, CategoryInteractive)
}

// ParseAnyCategory returns the canonical spelling of any stored category
// (including action and call), for list filters.
func ParseAnyCategory(s string) (string, bool) {
	return parseEnum(s, CategoryMessage, CategoryCustom, CategoryAction, CategoryCall, CategoryInteractive)
}

// ParseMessageType returns the canonical type of a "message" category
// message, case-insensitively.
func ParseMessageType(s string) (string, bool) {
	return parseEnum(s, TypeText, TypeImage, TypeVideo, TypeAudio, TypeFile)
}

// ParseMentions returns the uids mentioned in text with the token
// <@uid:UID>, lower-cased, each once, in order of first appearance. The
// token is exact: no spaces inside, and the uid is matched in ASCII case
// only (so the uid found is always in the text, whatever the case), as the
// relay rules look for <@uid:BOT_UID>. Malformed tokens are ignored.
func ParseMentions(text string) []string {
	var out []string
	for {
		i := strings.Index(text, "<@uid:")
		if i < 0 {
			return out
		}
		text = text[i+len("<@uid:"):]
		j := strings.IndexByte(text, '>')
		if j < 0 {
			return out
		}
		if uid := lowerASCII(text[:j]); ValidID(uid) {
			if !contains(out, uid) {
				out = append(out, uid)
			}
			text = text[j+1:]
		}
		// A malformed token: continue scanning right after "<@uid:", so a
		// valid token nested in the garbage is still found.
	}
}

// lowerASCII lower-cases A-Z and leaves every other byte alone.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for k := i; k < len(b); k++ {
				if b[k] >= 'A' && b[k] <= 'Z' {
					b[k] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

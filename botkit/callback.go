package botkit

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Trigger of the callbacks parley sends to bots.
const TriggerAfterMessage = "after_message"

// Receiver types of a message.
const (
	ReceiverUser  = "user"
	ReceiverGroup = "group"
)

// Callback is the JSON body parley (or CometChat) POSTs to a bot's callback
// URL for each message the bot should see.
type Callback struct {
	// Trigger is "after_message" for bot deliveries.
	Trigger string `json:"trigger"`
	// Data is the message.
	Data Message `json:"data"`
	// AppID is the app the message belongs to.
	AppID string `json:"appId"`
	// Region is the app's region, e.g. "eu".
	Region string `json:"region"`
	// ChatAPIVersion is the API version, e.g. "3.0".
	ChatAPIVersion string `json:"chatAPIVersion"`
	// Origin says where the message came from, e.g. {"platform": "web"}.
	Origin map[string]any `json:"origin"`
	// Bot is the UID of the bot this delivery is for: the uid to reply as.
	Bot string `json:"bot"`
}

// Message is a chat message in CometChat's JSON shape.
type Message struct {
	// ID is the message id, a string of digits.
	ID string `json:"id"`
	// MUID is the sender's own unique id for the message, when it set one.
	MUID string `json:"muid,omitempty"`
	// ConversationID is "<uid>_user_<uid>" for 1:1 messages and
	// "group_<guid>" for group messages. Treat it as opaque.
	ConversationID string `json:"conversationId"`
	// Sender is the UID of the sender.
	Sender string `json:"sender"`
	// ReceiverType is "user" or "group".
	ReceiverType string `json:"receiverType"`
	// Receiver is the UID (1:1) or GUID (group) of the receiver.
	Receiver string `json:"receiver"`
	// Category is "message", "custom" or "interactive".
	Category string `json:"category"`
	// Type is "text", "image", "video", "audio", "file" or a custom type.
	Type string `json:"type"`
	// Data holds the text, metadata, attachments and entities.
	Data MessageData `json:"data"`
	// SentAt and UpdatedAt are Unix seconds.
	SentAt    int64 `json:"sentAt"`
	UpdatedAt int64 `json:"updatedAt"`
	// ParentID is the id of the thread's parent message, for a message
	// inside a thread.
	ParentID string   `json:"parentId,omitempty"`
	Tags     []string `json:"tags,omitempty"`
}

// IsGroup reports whether the message was sent to a group (receiver types
// are compared case-insensitively).
func (m *Message) IsGroup() bool { return strings.EqualFold(m.ReceiverType, ReceiverGroup) }

// MessageData is the data object of a message.
type MessageData struct {
	Text string `json:"text,omitempty"`
	// Resource identifies the client that sent the message.
	Resource    string          `json:"resource,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	CustomData  json.RawMessage `json:"customData,omitempty"`
	Attachments []Attachment    `json:"attachments,omitempty"`
	Entities    Entities        `json:"entities"`
}

// Attachment is a file of a media message.
type Attachment struct {
	URL       string `json:"url"`
	Name      string `json:"name,omitempty"`
	MimeType  string `json:"mimeType,omitempty"`
	Extension string `json:"extension,omitempty"`
	// Size is a string in CometChat's documents and a number in some
	// payloads; it is kept as sent.
	Size json.RawMessage `json:"size,omitempty"`
}

// Entities are the full sender and receiver objects of a message.
type Entities struct {
	Sender   *Entity `json:"sender,omitempty"`
	Receiver *Entity `json:"receiver,omitempty"`
}

// Entity wraps a user or a group. Decode it with User or Group.
type Entity struct {
	Entity     json.RawMessage `json:"entity"`
	EntityType string          `json:"entityType"`
}

// User is the user object of an entity.
type User struct {
	UID           string          `json:"uid"`
	Name          string          `json:"name"`
	Avatar        string          `json:"avatar,omitempty"`
	Link          string          `json:"link,omitempty"`
	Role          string          `json:"role,omitempty"`
	Status        string          `json:"status,omitempty"`
	StatusMessage string          `json:"statusMessage,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	Tags          []string        `json:"tags,omitempty"`
	CreatedAt     int64           `json:"createdAt,omitempty"`
	LastActiveAt  int64           `json:"lastActiveAt,omitempty"`
	// ConversationID is set on the receiver of a 1:1 message.
	ConversationID string `json:"conversationId,omitempty"`
}

// Group is the group object of an entity.
type Group struct {
	GUID           string          `json:"guid"`
	Name           string          `json:"name"`
	Type           string          `json:"type,omitempty"`
	Icon           string          `json:"icon,omitempty"`
	Description    string          `json:"description,omitempty"`
	Owner          string          `json:"owner,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	Tags           []string        `json:"tags,omitempty"`
	MembersCount   int             `json:"membersCount,omitempty"`
	CreatedAt      int64           `json:"createdAt,omitempty"`
	UpdatedAt      int64           `json:"updatedAt,omitempty"`
	ConversationID string          `json:"conversationId,omitempty"`
}

// User decodes the entity as a user. It fails when the entity is missing
// or its type is not "user".
func (e *Entity) User() (*User, error) {
	var u User
	if err := e.decode(ReceiverUser, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// Group decodes the entity as a group. It fails when the entity is missing
// or its type is not "group".
func (e *Entity) Group() (*Group, error) {
	var g Group
	if err := e.decode(ReceiverGroup, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

func (e *Entity) decode(want string, v any) error {
	if e == nil || len(e.Entity) == 0 {
		return fmt.Errorf("botkit: no %s entity", want)
	}
	if !strings.EqualFold(e.EntityType, want) {
		return fmt.Errorf("botkit: entity is a %q, not a %s", e.EntityType, want)
	}
	if err := json.Unmarshal(e.Entity, v); err != nil {
		return fmt.Errorf("botkit: decode %s entity: %w", want, err)
	}
	return nil
}

package chat

import (
	"bytes"
	"encoding/json"
)

// Real-time event types, the "type" of a WebSocket frame
// (docs/realtime.md).
const (
	EventMessage        = "message"         // data: the new message
	EventMessageEdited  = "message_edited"  // data: the "edited" action message
	EventMessageDeleted = "message_deleted" // data: the "deleted" action message
	EventGroupAction    = "group_action"    // data: a groupMember action message
	EventReceipt        = "receipt"         // data: {conversationId, uid, receiptType, messageId, at}
	EventPresence       = "presence"        // data: {uid, status, lastActiveAt}
)

// PresenceChange is the data of a presence event: a user's status across
// the whole installation changed (docs/realtime.md).
type PresenceChange struct {
	UID          string `json:"uid"`
	Status       string `json:"status"` // StatusAvailable or StatusOffline
	LastActiveAt int64  `json:"lastActiveAt"`
}

// Frame is one server-to-client WebSocket frame.
type Frame struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

// EncodeFrame encodes {"type": typ, "data": data}.
func EncodeFrame(typ string, data any) ([]byte, error) {
	return Marshal(Frame{Type: typ, Data: data})
}

// Marshal encodes v as JSON without escaping <, > and & (message text such
// as "<@uid:bob>" stays readable).
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

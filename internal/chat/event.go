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

// Encoded is a value already encoded by Marshal (compact JSON).
// EncodeFrame writes it as it is, without the encoder checking and
// compacting it again; inside other values it encodes as itself.
type Encoded []byte

// MarshalJSON returns e.
func (e Encoded) MarshalJSON() ([]byte, error) { return e, nil }

// EncodeFrame encodes {"type": typ, "data": data}. A new message's JSON
// is the one its Encode keeps (see Message.Encode).
func EncodeFrame(typ string, data any) ([]byte, error) {
	if m, ok := data.(*Message); ok && typ == EventMessage {
		e, err := m.Encode()
		if err != nil {
			return nil, err
		}
		data = e
	}
	if e, ok := data.(Encoded); ok {
		t, err := json.Marshal(typ)
		if err != nil {
			return nil, err
		}
		b := make([]byte, 0, len(`{"type":,"data":}`)+len(t)+len(e))
		b = append(append(append(append(b, `{"type":`...), t...), `,"data":`...), e...)
		return append(b, '}'), nil
	}
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

package chat

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestEncodeFrameOfAMessage: a message's frame, built around the JSON its
// Encode keeps, is byte for byte the frame the encoder writes, and that
// JSON is what the API answer and the callbacks embed.
func TestEncodeFrameOfAMessage(t *testing.T) {
	newMessage := func() *Message {
		return &Message{ID: 42, ParentID: 7, ConversationID: "alice_user_bob", Sender: "alice", ReceiverType: ReceiverUser,
			Receiver: "bob", Category: CategoryMessage, Type: "text", Data: MessageData{Text: `<@uid:bob> "hi" & bye`},
			SentAt: 1700000000, UpdatedAt: 1700000000}
	}
	want, err := Marshal(Frame{Type: EventMessage, Data: newMessage()})
	if err != nil {
		t.Fatal(err)
	}
	m := newMessage()
	got, err := EncodeFrame(EventMessage, m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("frame\n got %s\nwant %s", got, want)
	}
	enc, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var back Message
	if err := json.Unmarshal(enc, &back); err != nil || back.ID != 42 || back.ParentID != 7 || back.Data.Text != m.Data.Text {
		t.Fatalf("Encode gave %s (%v)", enc, err)
	}
	// Nested in another value, Encoded is itself.
	nested, err := Marshal(map[string]any{"data": enc})
	if err != nil || !bytes.Equal(nested, append(append([]byte(`{"data":`), enc...), '}')) {
		t.Fatalf("nested: %s (%v)", nested, err)
	}
}

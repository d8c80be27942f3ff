package app

import (
	"bytes"
	"testing"

	"parley/internal/chat"
)

// TestCallbackBodyIsTheCallback: the body relay builds from the message's
// JSON is exactly the Callback encoded whole, for messages with entities,
// metadata, mentions, a thread and characters the encoder treats specially.
func TestCallbackBodyIsTheCallback(t *testing.T) {
	t.Parallel()
	alice := &chat.User{UID: "alice", Name: "Alice <a&b>", Role: "default", Status: "available", CreatedAt: 1764050000,
		Metadata: []byte(`{"plan":"pro","tags":["x","y"]}`), Tags: []string{"customer"}}
	bot := &chat.User{UID: "helpdesk", Name: "Helpdesk", Status: "offline", CreatedAt: 1764050000, ConversationID: "alice_user_helpdesk"}
	msgs := []*chat.Message{
		{ID: 1, ConversationID: "alice_user_helpdesk", Sender: "alice", ReceiverType: chat.ReceiverUser, Receiver: "helpdesk",
			Category: chat.CategoryMessage, Type: chat.TypeText, SentAt: 1764050000, UpdatedAt: 1764050000,
			Data: chat.MessageData{Text: "hi"}},
		{ID: 1042, ParentID: 7, ConversationID: "group_team", Sender: "alice", ReceiverType: chat.ReceiverGroup, Receiver: "team",
			Category: chat.CategoryMessage, Type: chat.TypeText, SentAt: 1764050000, UpdatedAt: 1764050001, Hop: 2,
			Data: chat.MessageData{Text: "Hi <@uid:helpdesk> & \"you\" \u2028 é 😀\n\ttab", Metadata: []byte(`{"client":"web","n":[1,2.5,null]}`),
				Entities: &chat.Entities{Sender: &chat.Entity{Entity: alice, EntityType: chat.ReceiverUser},
					Receiver: &chat.Entity{Entity: bot, EntityType: chat.ReceiverUser}}},
			Mentions: []string{"helpdesk"}, MentionedUsers: []chat.User{*bot}, Tags: []string{"urgent"}},
	}
	for _, m := range msgs {
		for _, origin := range []string{OriginAPI, OriginWebSocket} {
			want, err := chat.Marshal(Callback{Trigger: "after_message", Data: m, AppID: "2615c3a4b5b8e1d0", Region: "eu",
				ChatAPIVersion: ChatAPIVersion, Origin: CallbackOrigin{Platform: origin}, Bot: "helpdesk"})
			if err != nil {
				t.Fatal(err)
			}
			msg, err := m.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			got, err := callbackBody(msg, "2615c3a4b5b8e1d0", "eu", origin, "helpdesk")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("message %d from %s:\n got %s\nwant %s", m.ID, origin, got, want)
			}
		}
	}
}

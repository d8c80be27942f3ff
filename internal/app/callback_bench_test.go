package app_test

import (
	"testing"

	"parley/internal/app"
	"parley/internal/chat"
)

// BenchmarkCallbackPayload measures encoding the callback of a 1:1 text
// message with its sender and receiver entities, as relay does once per
// bot a message reaches.
//
//	go test -run '^$' -bench CallbackPayload ./internal/app/
func BenchmarkCallbackPayload(b *testing.B) {
	alice := &chat.User{UID: "alice", Name: "Alice", Role: "default", Status: "online", CreatedAt: 1764050000,
		Metadata: []byte(`{"plan":"pro","locale":"en-GB"}`), Tags: []string{"customer"}}
	bot := &chat.User{UID: "helpdesk", Name: "Helpdesk", Role: "default", Status: "offline", CreatedAt: 1764050000,
		ConversationID: "alice_user_helpdesk"}
	m := &chat.Message{ID: 1042, ConversationID: "alice_user_helpdesk", Sender: "alice", ReceiverType: chat.ReceiverUser,
		Receiver: "helpdesk", Category: chat.CategoryMessage, Type: chat.TypeText, SentAt: 1764050000, UpdatedAt: 1764050000,
		Data: chat.MessageData{Text: "Hi <@uid:helpdesk>, where is my order 42? It was due on Monday.",
			Metadata: []byte(`{"client":"web","version":"4.1.0"}`),
			Entities: &chat.Entities{Sender: &chat.Entity{Entity: alice, EntityType: chat.ReceiverUser},
				Receiver: &chat.Entity{Entity: bot, EntityType: chat.ReceiverUser}}},
		MentionedUsers: []chat.User{*bot}}
	cb := app.Callback{Trigger: "after_message", Data: m, AppID: "2615c3a4b5b8e1d0", Region: "us", ChatAPIVersion: app.ChatAPIVersion,
		Origin: app.CallbackOrigin{Platform: app.OriginAPI}, Bot: "helpdesk"}
	body, err := chat.Marshal(cb)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := chat.Marshal(cb); err != nil {
			b.Fatal(err)
		}
	}
}

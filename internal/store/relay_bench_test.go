package store

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"parley/internal/chat"
)

// BenchmarkInsertMessageWithDelivery is BenchmarkInsertMessage plus what
// relaying the message to a bot adds in the same transaction: the bot's
// sequence number and a delivery row with a callback payload of a
// realistic size (about 1 KiB). It is the write every message to a bot
// costs, from many concurrent senders sharing commits.
//
//	go test -run '^$' -bench InsertMessageWithDelivery -benchtime 3s ./internal/store/
func BenchmarkInsertMessageWithDelivery(b *testing.B) {
	db := openTest(b, engineSQLite)
	ctx := context.Background()
	if err := db.Write(ctx, func(tx *Tx) error {
		for _, u := range []string{"alice", "helpdesk"} {
			if err := insertUser(ctx, tx, u); err != nil {
				return err
			}
		}
		return tx.InsertBot(ctx, "app1", &BotRow{Bot: chat.Bot{UID: "helpdesk", WebhookURL: "https://bot.example/hook", Enabled: true},
			Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	}); err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"trigger":"after_message","data":{"id":"1042","conversationId":"alice_user_helpdesk",` +
		`"sender":"alice","receiverType":"user","receiver":"helpdesk","category":"message","type":"text","data":{"text":"where is my order?",` +
		`"entities":{"sender":{"entity":{"uid":"alice","name":"Alice","role":"default","status":"online","createdAt":1764050000},"entityType":"user"},` +
		`"receiver":{"entity":{"uid":"helpdesk","name":"Helpdesk","role":"default","status":"offline","createdAt":1764050000,` +
		`"conversationId":"alice_user_helpdesk"},"entityType":"user"}}},"sentAt":1764050000,"updatedAt":1764050000},` +
		`"appId":"app1","region":"us","chatAPIVersion":"3.0","origin":{"platform":"API"},"bot":"helpdesk","pad":"` +
		strings.Repeat("x", 300) + `"}`)
	conv := chat.UserConversationID("alice", "helpdesk")
	b.SetParallelism(32) // 32 × GOMAXPROCS concurrent senders
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			err := db.Write(ctx, func(tx *Tx) error {
				m := &chat.Message{ConversationID: conv, Sender: "alice", ReceiverType: chat.ReceiverUser, Receiver: "helpdesk",
					Category: chat.CategoryMessage, Type: chat.TypeText, Data: chat.MessageData{Text: "where is my order?"},
					SentAt: tx.Unix(), UpdatedAt: tx.Unix()}
				if err := tx.InsertMessage(ctx, "app1", m); err != nil {
					return err
				}
				seq, err := tx.NextBotSeq(ctx, "app1", "helpdesk")
				if err != nil {
					return err
				}
				now := tx.Now.UnixMilli()
				return tx.InsertDelivery(ctx, &chat.Delivery{AppID: "app1", Bot: "helpdesk", MessageID: m.ID, ConversationID: conv,
					Seq: seq, WebhookID: "msg_bench_" + strconv.FormatInt(seq, 10), Kind: chat.DeliveryKindMessage, State: chat.DeliveryPending,
					NextAttemptAt: now, CreatedAt: now, Payload: payload})
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkReadBot measures a small read transaction, as the delivery
// engine makes for each bot it delivers to in a round: one snapshot and
// the bot's row, from concurrent readers.
//
//	go test -run '^$' -bench ReadBot ./internal/store/
func BenchmarkReadBot(b *testing.B) {
	db := openTest(b, engineSQLite)
	ctx := context.Background()
	if err := db.Write(ctx, func(tx *Tx) error {
		if err := insertUser(ctx, tx, "helpdesk"); err != nil {
			return err
		}
		return tx.InsertBot(ctx, "app1", &BotRow{Bot: chat.Bot{UID: "helpdesk", WebhookURL: "https://bot.example/hook", Enabled: true},
			Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	}); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := db.Read(ctx, func(tx *Tx) error {
				_, err := tx.Bot(ctx, "app1", "helpdesk")
				return err
			}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

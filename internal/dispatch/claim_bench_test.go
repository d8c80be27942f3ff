package dispatch_test

import (
	"context"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"parley/internal/app"
	"parley/internal/app/apptest"
	"parley/internal/chat"
	"parley/internal/store"
)

// BenchmarkClaimComplete measures the database side of delivering one
// message, as the engine of a single node (SQLite) does it: a round reads
// the due lane heads not in flight (app.ClaimDeliveries); every attempt then
// records its success (CompleteAttempt: the attempt row, the delivery's
// new state, the bot's health), concurrently, as the engine's attempt
// goroutines do. No HTTP is involved. b.N deliveries over 16 bots × convs
// conversations are queued before the timer starts; ns/op is per
// delivery. With history, each lane (bot, conversation) already holds
// that many finished deliveries, as a long conversation with a bot does.
// With a stalled backlog, one more bot has that many deliveries queued
// (older than the others) in 32 conversations, and never answers: its
// lane heads stay in flight and the rest wait behind them.
//
//	go test -run '^$' -bench ClaimComplete -benchtime 5000x ./internal/dispatch/
func BenchmarkClaimComplete(b *testing.B) {
	b.Run("lanes=1024", func(b *testing.B) { benchClaimComplete(b, 64, 0, 0) })
	b.Run("lanes=128/history=1000", func(b *testing.B) { benchClaimComplete(b, 8, 1000, 0) })
	b.Run("lanes=1024/stalled-backlog=10000", func(b *testing.B) { benchClaimComplete(b, 64, 0, 10000) })
}

func benchClaimComplete(b *testing.B, convs, history, stalled int) {
	ctx := context.Background()
	a, na, db := apptest.Open(b)
	appID := na.App.ID
	c := app.Caller{AppID: appID, Scope: chat.ScopeFullAccess}
	const bots = 16
	for i := range bots + 1 {
		uid, url, on := "bot"+strconv.Itoa(i), "https://bot.example/hook", true
		if i == bots {
			uid = "stalled"
		}
		if _, err := a.CreateUser(ctx, c, app.UserInput{UID: &uid, Name: &uid}); err != nil {
			b.Fatal(err)
		}
		if _, err := a.CreateBot(ctx, c, app.BotInput{UID: &uid, WebhookURL: &url, Enabled: &on}); err != nil {
			b.Fatal(err)
		}
	}
	payload := []byte(`{"trigger":"after_message","data":{"text":"where is my order?"}}`)
	// queue adds deliveries i in [from, to), spread over the lanes (of
	// the stalled bot, when stall); done marks them finished at once (the
	// history).
	queue := func(from, to int, done, stall bool) {
		for start := from; start < to; start += 5000 {
			if err := db.Write(ctx, func(tx *store.Tx) error {
				now := tx.Now.UnixMilli()
				for i := start; i < min(to, start+5000); i++ {
					bot := "bot" + strconv.Itoa(i%bots)
					conv := chat.UserConversationID("u"+strconv.Itoa(i/bots%convs), bot)
					if stall {
						bot, conv = "stalled", chat.UserConversationID("u"+strconv.Itoa(i%32), "stalled")
					}
					seq, err := tx.NextBotSeq(ctx, appID, bot)
					if err != nil {
						return err
					}
					if err := tx.InsertDelivery(ctx, &chat.Delivery{AppID: appID, Bot: bot, MessageID: int64(i + 1), ConversationID: conv,
						Seq: seq, WebhookID: "msg_" + strconv.Itoa(i), Kind: chat.DeliveryKindMessage, State: chat.DeliveryPending,
						NextAttemptAt: now, CreatedAt: now, Payload: payload}); err != nil {
						return err
					}
				}
				if done {
					_, err := tx.ExpireDeliveries(ctx, math.MaxInt64, now)
					return err
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
	old := history * bots * convs
	queue(0, old, true, false)
	queue(old, old+stalled, false, true)
	queue(old+stalled, old+stalled+b.N, false, false)
	policy := chat.DefaultHealthPolicy()
	headers := map[string]string{"Content-Type": "application/json", "User-Agent": "parley/bench", "webhook-id": "msg_x",
		"webhook-timestamp": "1764050000", "webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
		"Parley-Attempt": "1", "Parley-Sequence": "1", "Parley-Bot": "bot1"}
	// What is in flight, as the engine of a single node tracks it.
	fl := &store.InFlight{Deliveries: map[int64]bool{}, PerBot: map[store.BotKey]int{}}
	b.ResetTimer()
	done := 0
	for done < b.N {
		now := time.Now()
		due, _, err := a.ClaimDeliveries(ctx, now, store.Claim{Owner: "bench", DefaultCap: 16, Limit: 512,
			LeaseMs: time.Minute.Milliseconds(), DefaultTimeout: 10_000}, fl)
		if err != nil {
			b.Fatal(err)
		}
		if len(due) == 0 {
			b.Fatalf("%d of %d delivered and none due", done, b.N)
		}
		var wg sync.WaitGroup
		for i := range due {
			if due[i].Bot == "stalled" {
				// Never answers: stays in flight.
				fl.Deliveries[due[i].ID] = true
				fl.PerBot[store.BotKey{App: appID, Bot: "stalled"}]++
				continue
			}
			done++
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := &due[i].Delivery
				r := app.AttemptReport{Outcome: chat.OutcomeSuccess, Attempt: chat.Attempt{N: 1, StartedAt: now.UnixMilli(), LatencyMs: 1,
					StatusCode: 200, RequestHeaders: headers}}
				if _, _, err := a.CompleteAttempt(ctx, d, policy, r); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
	}
}

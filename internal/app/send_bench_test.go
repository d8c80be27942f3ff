package app_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync/atomic"
	"testing"

	"parley/internal/app"
	"parley/internal/app/apptest"
	"parley/internal/chat"
)

// BenchmarkSendToBot measures the send use case as POST /v3/messages runs
// it, without HTTP: 64 users send 1:1 text messages concurrently to 16
// bots, on SQLite with durable commits; each message is stored with its
// conversation rows and queues one delivery. ns/op is per message; the
// writer goroutine's share of it bounds the relay's throughput.
//
//	go test -run '^$' -bench SendToBot -benchtime 20000x ./internal/app/
func BenchmarkSendToBot(b *testing.B) {
	ctx := context.Background()
	a, na, _ := apptest.Open(b)
	c := app.Caller{AppID: na.App.ID, Scope: chat.ScopeFullAccess}
	const users, bots = 64, 16
	for i := range users + bots {
		uid := "u" + strconv.Itoa(i)
		if i >= users {
			uid = "bot" + strconv.Itoa(i-users)
		}
		if _, err := a.CreateUser(ctx, c, app.UserInput{UID: &uid, Name: &uid}); err != nil {
			b.Fatal(err)
		}
		if i >= users {
			url, on := "https://bot.example/hook", true
			if _, err := a.CreateBot(ctx, c, app.BotInput{UID: &uid, WebhookURL: &url, Enabled: &on}); err != nil {
				b.Fatal(err)
			}
		}
	}
	data := json.RawMessage(`{"text":"where is my order?"}`)
	var next atomic.Int64
	b.SetParallelism(users / 2) // GOMAXPROCS 2 on the project's machine: 64 senders
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			sc := c
			sc.OnBehalfOf = "u" + strconv.Itoa(int(i%users))
			_, err := a.SendMessage(ctx, sc, app.SendInput{Receiver: "bot" + strconv.Itoa(int(i/users%bots)), ReceiverType: "user",
				Category: "message", Type: "text", Data: data})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"parley/internal/chat"
)

// TestDueLaneHeadsIsolation: a failing bot and a bot at its cap cannot fill
// a batch of due deliveries and hide another bot's.
func TestDueLaneHeadsIsolation(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		db := openTest(t, engine)
		ctx := context.Background()
		now := int64(1_000_000)
		err := db.Write(ctx, func(tx *Tx) error {
			for _, uid := range []string{"sick", "busy", "fine"} {
				if err := insertUser(ctx, tx, uid); err != nil {
					return err
				}
				b := &BotRow{Bot: chat.Bot{UID: uid, WebhookURL: "https://x.example/", GroupChatSetting: chat.GroupChatNone, Enabled: true}, Secret: "whsec_x"}
				if uid == "busy" {
					b.MaxInFlight = 2
				}
				if err := tx.InsertBot(ctx, "app1", b); err != nil {
					return err
				}
			}
			if err := tx.SetBotHealth(ctx, "app1", "sick", BotHealthUpdate{State: chat.HealthFailing, NextProbeAt: now + 60_000}); err != nil {
				return err
			}
			n := 0
			add := func(bot, conv string, at int64) error {
				n++
				return tx.InsertDelivery(ctx, &chat.Delivery{AppID: "app1", Bot: bot, MessageID: int64(n), ConversationID: conv, Seq: int64(n),
					WebhookID: fmt.Sprintf("msg_%d", n), Kind: chat.DeliveryKindMessage, State: chat.DeliveryPending, NextAttemptAt: at, CreatedAt: at, Payload: []byte("{}")})
			}
			for i := range 10 {
				// Older than the healthy bot's: they would come first.
				if err := add("sick", fmt.Sprintf("c%d", i), now-1000); err != nil {
					return err
				}
				if err := add("busy", fmt.Sprintf("c%d", i), now-500); err != nil {
					return err
				}
			}
			// Two in one lane: only the head is due.
			if err := add("fine", "c0", now-100); err != nil {
				return err
			}
			return add("fine", "c0", now-100)
		})
		if err != nil {
			t.Fatal(err)
		}
		var due []DueDelivery
		if err := db.Read(ctx, func(tx *Tx) error {
			var err error
			due, _, err = tx.DueLaneHeads(ctx, now, 16, 5, nil)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, d := range due {
			count[d.Bot]++
		}
		if count["sick"] != 0 || count["busy"] != 2 || count["fine"] != 1 {
			t.Fatalf("due per bot: %v", count)
		}

		// When the failing bot's probe is due, exactly one of its deliveries is.
		if err := db.Read(ctx, func(tx *Tx) error {
			var err error
			due, _, err = tx.DueLaneHeads(ctx, now+60_000, 16, 100, nil)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		count = map[string]int{}
		for _, d := range due {
			count[d.Bot]++
		}
		if count["sick"] != 1 {
			t.Fatalf("probe: %v", count)
		}

		// Every delivery is due already: the next thing to wait for is the
		// failing bot's probe.
		if err := db.Read(ctx, func(tx *Tx) error {
			at, err := tx.NextDueAt(ctx, now)
			if err == nil && at != now+60_000 {
				return fmt.Errorf("next due %d, want the probe at %d", at, now+60_000)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestClaimDeliveriesAcrossNodes: nodes claiming at once on one database
// never take one lane twice, and together stay within a bot's cap; a lease
// that ends (a dead node's) makes the lane head claimable again.
func TestClaimDeliveriesAcrossNodes(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		db := openTest(t, engine)
		ctx := context.Background()
		now := int64(1_000_000)
		err := db.Write(ctx, func(tx *Tx) error {
			if err := insertUser(ctx, tx, "bot"); err != nil {
				return err
			}
			b := &BotRow{Bot: chat.Bot{UID: "bot", WebhookURL: "https://x.example/", GroupChatSetting: chat.GroupChatNone, Enabled: true,
				MaxInFlight: 5}, Secret: "whsec_x"}
			if err := tx.InsertBot(ctx, "app1", b); err != nil {
				return err
			}
			for i := range 40 { // 20 lanes of two
				if err := tx.InsertDelivery(ctx, &chat.Delivery{AppID: "app1", Bot: "bot", MessageID: int64(i + 1), ConversationID: fmt.Sprintf("c%d", i%20),
					Seq: int64(i + 1), WebhookID: fmt.Sprintf("msg_%d", i), Kind: chat.DeliveryKindMessage, State: chat.DeliveryPending,
					NextAttemptAt: now - 100, CreatedAt: now - 100, Payload: []byte("{}")}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		claim := func(node string, at int64) []DueDelivery {
			var out []DueDelivery
			if err := db.Write(ctx, func(tx *Tx) error {
				var err error
				out, err = tx.ClaimDeliveries(ctx, at, Claim{Owner: node, DefaultCap: 16, Limit: 100, LeaseMs: 1000, DefaultTimeout: 1000})
				return err
			}); err != nil {
				t.Error(err)
			}
			return out
		}
		results := make([][]DueDelivery, 4)
		done := make(chan int)
		for i := range results {
			go func() { results[i] = claim(fmt.Sprintf("node%d", i), now); done <- i }()
		}
		for range results {
			<-done
		}
		lanes := map[string]string{}
		total := 0
		for i, r := range results {
			for _, d := range r {
				if prev, ok := lanes[d.ConversationID]; ok {
					t.Errorf("lane %s claimed by %s and node%d", d.ConversationID, prev, i)
				}
				lanes[d.ConversationID] = fmt.Sprintf("node%d", i)
				total++
			}
		}
		if total != 5 {
			t.Errorf("%d deliveries claimed by four nodes at once, want the bot's cap 5", total)
		}
		if more := claim("node9", now+10); len(more) != 0 {
			t.Errorf("claimed %d more while the cap is taken", len(more))
		}
		// The leases end (timeout 1 s + lease 1 s): the same heads are due again.
		again := claim("node9", now+2001)
		if len(again) != 5 {
			t.Fatalf("after the leases ended: %d claimed, want 5", len(again))
		}
		for _, d := range again {
			if _, ok := lanes[d.ConversationID]; !ok {
				t.Errorf("after the leases ended, lane %s's head was not the one claimed before", d.ConversationID)
			}
		}
	})
}

// TestLaneHeadsFollowEveryStateChange: whatever takes a lane's head out
// of the pending state (success, failure, a disabled bot, expiry), the
// next pending delivery of the lane becomes due, in id order; a requeued
// older delivery goes before the lane's waiting ones; other lanes are
// untouched.
func TestLaneHeadsFollowEveryStateChange(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		db := openTest(t, engine)
		ctx := context.Background()
		now := int64(1_000_000)
		var ids []int64 // lane c0: ids[0..4]; lane c1: ids[5]
		write := func(fn func(tx *Tx) error) {
			t.Helper()
			if err := db.Write(ctx, fn); err != nil {
				t.Fatal(err)
			}
		}
		write(func(tx *Tx) error {
			if err := insertUser(ctx, tx, "bot"); err != nil {
				return err
			}
			b := &BotRow{Bot: chat.Bot{UID: "bot", WebhookURL: "https://x.example/", GroupChatSetting: chat.GroupChatNone, Enabled: true}, Secret: "whsec_x"}
			if err := tx.InsertBot(ctx, "app1", b); err != nil {
				return err
			}
			for i := range 6 {
				conv := "c0"
				if i == 5 {
					conv = "c1"
				}
				d := &chat.Delivery{AppID: "app1", Bot: "bot", MessageID: int64(i + 1), ConversationID: conv, Seq: int64(i + 1),
					WebhookID: fmt.Sprintf("msg_%d", i), Kind: chat.DeliveryKindMessage, State: chat.DeliveryPending,
					NextAttemptAt: now - 100, CreatedAt: now - 100, Payload: []byte("{}")}
				if err := tx.InsertDelivery(ctx, d); err != nil {
					return err
				}
				ids = append(ids, d.ID)
			}
			return nil
		})
		dueIDs := func(at int64) []int64 {
			t.Helper()
			var out []int64
			if err := db.Read(ctx, func(tx *Tx) error {
				due, _, err := tx.DueLaneHeads(ctx, at, 16, 100, nil)
				for _, d := range due {
					out = append(out, d.ID)
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			slices.Sort(out) // the lanes, not their order by due time
			return out
		}
		expect := func(step string, at int64, want ...int64) {
			t.Helper()
			if got := dueIDs(at); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: due %v, want %v", step, got, want)
			}
		}
		// finish records an attempt; the lane has a delivery to attempt
		// next in every case below but the last.
		finish := func(id int64, state string, next int64) {
			t.Helper()
			var more int64
			write(func(tx *Tx) error {
				var err error
				more, err = tx.RecordAttempt(ctx, &chat.Delivery{ID: id}, AttemptResult{
					Attempt: chat.Attempt{N: 1, StartedAt: now, StatusCode: 200}, State: state, NextAttemptAt: next})
				return err
			})
			switch {
			case state == chat.DeliveryPending && more != id:
				t.Fatalf("recording %d %s: next %d, want the delivery itself", id, state, more)
			case state != chat.DeliveryPending && more == id:
				t.Fatalf("recording %d %s: next is the finished delivery", id, state)
			case (more != 0) != (id != ids[5]):
				t.Fatalf("recording %d %s: next %d, want one: %v", id, state, more, id != ids[5])
			}
			// The lane's next is its head, due (at the latest when
			// scheduled); a finished delivery is no head.
			if err := db.Read(ctx, func(tx *Tx) error {
				if more != 0 {
					if d, err := tx.DueHead(ctx, more, max(now, next)); err != nil || d == nil || d.ID != more || len(d.Payload) == 0 {
						return fmt.Errorf("due head %d: %v, %v", more, d, err)
					}
				}
				if state != chat.DeliveryPending {
					if d, err := tx.DueHead(ctx, id, math.MaxInt64); err != nil || d != nil {
						return fmt.Errorf("finished %d as a due head: %v, %v", id, d, err)
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		expect("queued", now, ids[0], ids[5])

		// A retry keeps the lane: nothing behind the head goes first.
		finish(ids[0], chat.DeliveryPending, now+5_000)
		expect("head scheduled for a retry", now, ids[5])
		expect("retry due", now+5_000, ids[0], ids[5])

		finish(ids[0], chat.DeliverySucceeded, 0)
		expect("head delivered", now, ids[1], ids[5])

		finish(ids[1], chat.DeliveryFailed, 0)
		expect("head failed", now, ids[2], ids[5])

		write(func(tx *Tx) error { return tx.FailDelivery(ctx, ids[2], "bot_disabled", "disabled", now) })
		expect("head failed without an attempt", now, ids[3], ids[5])

		// Replaying the first delivery puts it before the lane's waiting ones.
		write(func(tx *Tx) error { return tx.RequeueDelivery(ctx, "app1", "bot", ids[0], now) })
		expect("oldest requeued", now, ids[0], ids[5])
		finish(ids[0], chat.DeliverySucceeded, 0)
		expect("requeued one delivered", now, ids[3], ids[5])

		// Expiry of the head passes the lane on as well.
		write(func(tx *Tx) error {
			if _, err := tx.q.ExecContext(ctx, `UPDATE deliveries SET queued_at = 0 WHERE id = ?`, ids[3]); err != nil {
				return err
			}
			n, err := tx.ExpireDeliveries(ctx, 1, now)
			if err == nil && n != 1 {
				return fmt.Errorf("expired %d, want 1", n)
			}
			return err
		})
		expect("head expired", now, ids[4], ids[5])

		// Bulk requeue of the failed ones: the lane goes in id order again.
		write(func(tx *Tx) error {
			n, err := tx.RequeueDeliveries(ctx, "app1", "bot", chat.DeliveryFailed, 0, now)
			if err == nil && n != 3 {
				return fmt.Errorf("requeued %d, want 3", n)
			}
			return err
		})
		expect("failed ones requeued", now, ids[1], ids[5])

		// One node passes what it has in flight instead of leasing: those
		// deliveries are skipped and count against the bot's cap.
		// held tells that a due head was left out for want of a slot.
		inFlight := func(perBot, limit int) ([]int64, bool) {
			t.Helper()
			var out []int64
			var held bool
			fl := &InFlight{Deliveries: map[int64]bool{ids[1]: true}, PerBot: map[BotKey]int{{App: "app1", Bot: "bot"}: perBot}}
			if err := db.Read(ctx, func(tx *Tx) error {
				due, h, err := tx.DueLaneHeads(ctx, now, 16, limit, fl)
				for _, d := range due {
					out = append(out, d.ID)
				}
				held = h.Any()
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return out, held
		}
		if got, held := inFlight(15, 100); fmt.Sprint(got) != fmt.Sprint([]int64{ids[5]}) || held {
			t.Fatalf("one slot left, ids[1] in flight: due %v held %v, want [%d] and nothing held", got, held, ids[5])
		}
		if got, held := inFlight(16, 100); len(got) != 0 || !held {
			t.Fatalf("bot at its cap: due %v held %v, want none and held", got, held)
		}
		if got, held := inFlight(0, 0); len(got) != 0 || !held {
			t.Fatalf("batch of 0: due %v held %v, want none and held", got, held)
		}

		// A lane without a backlog has nothing next.
		finish(ids[5], chat.DeliverySucceeded, 0)
	})
}

// TestLastRelayedHop: the hop of the newest message of the conversation
// relayed to the bot, not to another bot nor in another conversation;
// none once the bot has had nothing relayed in relayedHopWindow messages.
func TestLastRelayedHop(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		db := openTest(t, engine)
		ctx := context.Background()
		conv := chat.GroupConversationID("team")
		n := 0
		// say adds a message to conv (or other) and, when to is set, its
		// delivery to that bot.
		say := func(tx *Tx, conversation, to string, hop int) error {
			m := &chat.Message{ConversationID: conversation, Sender: "alice", ReceiverType: chat.ReceiverGroup, Receiver: "team",
				Category: chat.CategoryMessage, Type: chat.TypeText, Data: chat.MessageData{Text: "hi"}, Hop: hop, SentAt: 9, UpdatedAt: 9}
			if err := tx.InsertMessage(ctx, "app1", m); err != nil || to == "" {
				return err
			}
			n++
			return tx.InsertDelivery(ctx, &chat.Delivery{AppID: "app1", Bot: to, MessageID: m.ID, ConversationID: conversation, Hop: hop,
				Seq: int64(n), WebhookID: fmt.Sprintf("msg_%d", n), Kind: chat.DeliveryKindMessage, State: chat.DeliverySucceeded,
				CreatedAt: 9, Payload: []byte("{}")})
		}
		last := func() (int, bool) {
			t.Helper()
			var hop int
			var ok bool
			if err := db.Read(ctx, func(tx *Tx) error {
				var err error
				hop, ok, err = tx.LastRelayedHop(ctx, "app1", "bot", conv)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return hop, ok
		}
		write := func(fn func(tx *Tx) error) {
			t.Helper()
			if err := db.Write(ctx, fn); err != nil {
				t.Fatal(err)
			}
		}
		if hop, ok := last(); ok {
			t.Fatalf("empty conversation: hop %d", hop)
		}
		write(func(tx *Tx) error {
			if err := say(tx, conv, "bot", 2); err != nil {
				return err
			}
			if err := say(tx, conv, "other", 1); err != nil { // to another bot
				return err
			}
			if err := say(tx, "group_elsewhere", "bot", 0); err != nil {
				return err
			}
			return say(tx, conv, "", 0) // relayed to nobody
		})
		if hop, ok := last(); !ok || hop != 2 {
			t.Fatalf("hop %d ok %v, want 2 (the newest relayed to the bot here)", hop, ok)
		}
		write(func(tx *Tx) error { return say(tx, conv, "bot", 0) })
		if hop, ok := last(); !ok || hop != 0 {
			t.Fatalf("hop %d ok %v, want 0 (a human's message, newer)", hop, ok)
		}
		write(func(tx *Tx) error {
			for range relayedHopWindow - 1 {
				if err := say(tx, conv, "", 0); err != nil {
					return err
				}
			}
			return nil
		})
		if _, ok := last(); !ok {
			t.Fatalf("the relayed message is the %dth newest: not found", relayedHopWindow)
		}
		write(func(tx *Tx) error { return say(tx, conv, "", 0) })
		if hop, ok := last(); ok {
			t.Fatalf("nothing relayed in the last %d messages: hop %d, want none", relayedHopWindow, hop)
		}
	})
}

// TestBotHealthFollowsWritesAndRollbacks: what a write reads of a bot's
// health is what was last committed or written in its own transaction,
// never what a failed write left behind (SQLite's writer caches health).
func TestBotHealthFollowsWritesAndRollbacks(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		db := openTest(t, engine)
		ctx := context.Background()
		health := func() chat.HealthState {
			t.Helper()
			var h chat.HealthState
			if err := db.Write(ctx, func(tx *Tx) error {
				var err error
				h, err = tx.BotHealth(ctx, "app1", "bot")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return h
		}
		if err := db.Write(ctx, func(tx *Tx) error {
			if err := insertUser(ctx, tx, "bot"); err != nil {
				return err
			}
			return tx.InsertBot(ctx, "app1", &BotRow{Bot: chat.Bot{UID: "bot", WebhookURL: "https://x.example/",
				GroupChatSetting: chat.GroupChatNone, Enabled: true}, Secret: "whsec_x"})
		}); err != nil {
			t.Fatal(err)
		}
		if h := health(); h.State != chat.HealthHealthy || h.LastSuccessAt != 0 {
			t.Fatalf("new bot: %+v", h)
		}
		// A committed write is read by the next one, though its state
		// did not change (a healthy bot's last success moving on).
		if err := db.Write(ctx, func(tx *Tx) error {
			return tx.SetBotHealth(ctx, "app1", "bot", BotHealthUpdate{State: chat.HealthHealthy, LastSuccessAt: 100, From: chat.HealthHealthy})
		}); err != nil {
			t.Fatal(err)
		}
		if h := health(); h.LastSuccessAt != 100 {
			t.Fatalf("after a committed update: last success %d, want 100", h.LastSuccessAt)
		}
		// A write that reads the health it wrote, then fails: rolled
		// back, and so is what it read.
		failed := errors.New("fail after writing")
		err := db.Write(ctx, func(tx *Tx) error {
			if err := tx.SetBotHealth(ctx, "app1", "bot", BotHealthUpdate{State: chat.HealthFailing, ConsecutiveFails: 7,
				LastSuccessAt: 100, From: chat.HealthHealthy}); err != nil {
				return err
			}
			if h, err := tx.BotHealth(ctx, "app1", "bot"); err != nil || h.ConsecutiveFails != 7 {
				return fmt.Errorf("own write not read: %+v %v", h, err)
			}
			return failed
		})
		if !errors.Is(err, failed) {
			t.Fatalf("failing write: %v", err)
		}
		if h := health(); h.State != chat.HealthHealthy || h.ConsecutiveFails != 0 || h.LastSuccessAt != 100 {
			t.Fatalf("after a rolled-back update: %+v, want the committed health", h)
		}
		// A deleted bot has no health.
		if err := db.Write(ctx, func(tx *Tx) error { return tx.DeleteBot(ctx, "app1", "bot") }); err != nil {
			t.Fatal(err)
		}
		err = db.Write(ctx, func(tx *Tx) error { _, err := tx.BotHealth(ctx, "app1", "bot"); return err })
		if chat.KindOf(err) != chat.KindNotFound {
			t.Fatalf("health of a deleted bot: %v, want not found", err)
		}
	})
}

package store

import (
	"context"
	"fmt"
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
			due, err = tx.DueLaneHeads(ctx, now, 16, 5)
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
			due, err = tx.DueLaneHeads(ctx, now+60_000, 16, 100)
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

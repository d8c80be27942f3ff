package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"parley/internal/chat"
	"parley/internal/store/storetest"
)

// TestCopyCoversEveryTable fails when a migration adds a table that Copy
// does not know.
func TestCopyCoversEveryTable(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		db := openEngine(t, engine)
		q := `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
		if engine == storetest.SQLite {
			q = `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'`
		}
		var tables []string
		if err := db.Read(t.Context(), func(tx *Tx) error {
			return tx.forEachRow(t.Context(), "tables", q, nil, func(rows *rowSet) error {
				var name string
				err := rows.Scan(&name)
				if name != "schema_migrations" {
					tables = append(tables, name)
				}
				return err
			})
		}); err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(copyTables)
		slices.Sort(want)
		slices.Sort(tables)
		if !slices.Equal(tables, want) {
			t.Fatalf("schema tables %v, copyTables %v", tables, want)
		}
	})
}

// TestCopy copies a database holding a row in every table to each engine
// and from each engine, and compares every row.
func TestCopy(t *testing.T) {
	t.Parallel()
	for _, from := range storetest.Engines() {
		for _, to := range storetest.Engines() {
			t.Run(from+"-to-"+to, func(t *testing.T) {
				t.Parallel()
				ctx := t.Context()
				src := openEngine(t, from)
				fillEveryTable(t, src)
				dst := openEngine(t, to)
				counts, err := Copy(ctx, src, dst, CopyOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range counts {
					if c.Rows == 0 {
						t.Errorf("table %s: nothing copied", c.Table)
					}
				}
				want, got := dumpTables(t, src), dumpTables(t, dst)
				for _, table := range copyTables {
					if !slices.Equal(want[table], got[table]) {
						t.Errorf("%s differs:\nsource %q\ntarget %q", table, want[table], got[table])
					}
				}

				// New ids continue after the copied ones.
				var maxID, newID int64
				if err := dst.Write(ctx, func(tx *Tx) error {
					if err := tx.q.QueryRowContext(ctx, `SELECT max(id) FROM messages`).Scan(&maxID); err != nil {
						return err
					}
					m := textMessage("alice", "bob", "after the copy")
					err := tx.InsertMessage(ctx, "app1", m)
					newID = m.ID
					return err
				}); err != nil {
					t.Fatal(err)
				}
				if newID <= maxID {
					t.Errorf("new message id %d after copied ids up to %d", newID, maxID)
				}

				// A target with rows is refused, unless replaced.
				_, err = Copy(ctx, src, dst, CopyOptions{})
				if ce := chat.AsError(err); ce == nil || ce.Code != "ERR_TARGET_NOT_EMPTY" {
					t.Fatalf("copy into a non-empty target: %v", err)
				}
				if _, err := Copy(ctx, src, dst, CopyOptions{Replace: true}); err != nil {
					t.Fatal(err)
				}
				if got := dumpTables(t, dst); !equalDumps(want, got) {
					t.Errorf("after replace: tables differ")
				}
			})
		}
	}
}

func equalDumps(a, b map[string][]string) bool {
	for _, table := range copyTables {
		if !slices.Equal(a[table], b[table]) {
			return false
		}
	}
	return true
}

func textMessage(from, to, text string) *chat.Message {
	return &chat.Message{ConversationID: chat.UserConversationID(from, to), Sender: from, ReceiverType: chat.ReceiverUser, Receiver: to,
		Category: chat.CategoryMessage, Type: chat.TypeText, Data: chat.MessageData{Text: text}, SentAt: 100, UpdatedAt: 100}
}

// fillEveryTable writes at least one row in every table, through the
// store's own methods.
func fillEveryTable(t *testing.T, db *DB) {
	t.Helper()
	ctx := t.Context()
	err := db.Write(ctx, func(tx *Tx) error {
		steps := []func() error{
			func() error {
				return tx.InsertApp(ctx, &chat.App{ID: "app1", Name: "Copied", Region: "eu", CreatedAt: 1})
			},
			func() error {
				return tx.InsertAPIKey(ctx, "app1", &chat.APIKey{Hash: "h1", Prefix: "p1", Name: "REST", Scope: chat.ScopeFullAccess, CreatedAt: 2})
			},
			func() error {
				for _, uid := range []string{"alice", "bob", "helper"} {
					u := &chat.User{UID: uid, Name: strings.ToUpper(uid), Role: chat.DefaultRole, Metadata: json.RawMessage(`{"k":"é"}`),
						Tags: []string{"t1"}, CreatedAt: 3}
					if err := tx.InsertUser(ctx, "app1", u); err != nil {
						return err
					}
				}
				return nil
			},
			func() error {
				return tx.InsertAuthToken(ctx, "app1", &chat.AuthToken{UID: "alice", Token: "tok", Platform: "web", CreatedAt: 4})
			},
			func() error { return tx.Block(ctx, "app1", "bob", []string{"helper"}) },
			func() error {
				return tx.UpsertAdmin(ctx, &Admin{Username: "admin", PasswordHash: "$argon2id$x", CreatedAt: 4, UpdatedAt: 4})
			},
			func() error {
				return tx.InsertSession(ctx, &Session{IDHash: "s1", Username: "admin", CreatedAt: 4, LastSeenAt: 5, ExpiresAt: 99, UserAgent: "ua", IP: "127.0.0.1"})
			},
			func() error {
				return tx.InsertGroup(ctx, "app1", &chat.Group{GUID: "team", Name: "Team", Type: chat.GroupPublic, Owner: "alice", CreatedAt: 5})
			},
			func() error { return tx.InsertMember(ctx, "app1", "team", "alice", chat.ScopeAdmin, 6) },
			func() error { return tx.InsertMember(ctx, "app1", "team", "helper", chat.ScopeParticipant, 6) },
			func() error { return tx.InsertBan(ctx, "app1", "team", "bob", 7) },
			func() error {
				for i := range 5 {
					m := textMessage("alice", "bob", fmt.Sprintf("hello %d <@uid:bob>", i))
					m.Mentions = []string{"bob"}
					if err := tx.InsertMessage(ctx, "app1", m); err != nil {
						return err
					}
				}
				g := &chat.Message{ConversationID: chat.GroupConversationID("team"), Sender: "alice", ReceiverType: chat.ReceiverGroup,
					Receiver: "team", Category: chat.CategoryMessage, Type: chat.TypeText, Data: chat.MessageData{Text: "to the team"}, SentAt: 9, UpdatedAt: 9}
				if err := tx.InsertMessage(ctx, "app1", g); err != nil {
					return err
				}
				if _, err := tx.MarkConversation(ctx, "app1", "bob", chat.UserConversationID("alice", "bob"), chat.ReceiptRead, 2, 10); err != nil {
					return err
				}
				if err := tx.InsertBot(ctx, "app1", &BotRow{Bot: chat.Bot{UID: "helper", WebhookURL: "https://bot.example/hook",
					GroupChatSetting: chat.GroupChatAll, Enabled: true, CreatedAt: 11}, Secret: "whsec_x"}); err != nil {
					return err
				}
				seq, err := tx.NextBotSeq(ctx, "app1", "helper")
				if err != nil {
					return err
				}
				d := &chat.Delivery{AppID: "app1", Bot: "helper", MessageID: g.ID, ConversationID: g.ConversationID, Kind: chat.DeliveryKindMessage,
					Seq: seq, WebhookID: "msg_1", State: chat.DeliveryPending, NextAttemptAt: 12000, CreatedAt: 12000, Payload: json.RawMessage(`{"a":1}`)}
				if err := tx.InsertDelivery(ctx, d); err != nil {
					return err
				}
				_, err = tx.RecordAttempt(ctx, d, AttemptResult{Attempt: chat.Attempt{N: 1, StartedAt: 12001, LatencyMs: 5, StatusCode: 200,
					RequestHeaders: map[string]string{"webhook-id": "msg_1"}, ResponseBody: "ok"}, State: chat.DeliverySucceeded})
				return err
			},
			func() error {
				return tx.InsertRealtimeEvents(ctx, []RealtimeEvent{{AppID: "app1", UIDs: []string{"alice"}, Frame: []byte(`{"type":"message"}`)},
					{AppID: "app1", ToApp: true, Frame: []byte(`{"type":"presence"}`)}})
			},
			func() error { return tx.AddPresence(ctx, "app1", "alice", "node-a", 13000) },
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.RenewNode(ctx, "node-a", 13000, 43000); err != nil {
		t.Fatal(err)
	}
}

// dumpTables renders every row of every copied table as text, sorted, so
// that two databases can be compared whatever their engines.
func dumpTables(t *testing.T, db *DB) map[string][]string {
	t.Helper()
	ctx := context.Background()
	out := map[string][]string{}
	err := db.Read(ctx, func(tx *Tx) error {
		for _, table := range copyTables {
			probe, err := tx.q.QueryContext(ctx, `SELECT * FROM `+table+` LIMIT 0`)
			if err != nil {
				return err
			}
			cols, err := probe.Columns()
			probe.Close()
			if err != nil {
				return err
			}
			slices.Sort(cols) // compare by name: column order may differ between engines
			rows, err := tx.q.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+table)
			if err != nil {
				return err
			}
			for rows.Next() {
				vals, err := scanValues(rows, len(cols))
				if err != nil {
					rows.Close()
					return err
				}
				out[table] = append(out[table], fmt.Sprintf("%q", vals))
			}
			if err := rows.Close(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, rows := range out {
		slices.Sort(rows)
	}
	return out
}

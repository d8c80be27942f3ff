package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"parley/internal/chat"
)

// groupFixture is an app with users alice, bob, carol and dave, a group
// "team" of which alice and bob are members from time 10 and carol from
// time 200, and messages:
//
//	g1  alice -> team  at 100
//	g2  bob   -> team  at 150
//	d1  alice -> bob   at 160 (1:1)
//	g3  alice -> team  at 300
//	g4  carol -> team  at 310
type groupFixture struct {
	db                 *DB
	g1, g2, d1, g3, g4 int64
}

const testApp = "app"

func openGroupFixture(t *testing.T, engine string) *groupFixture {
	t.Helper()
	ctx := t.Context()
	db := openEngine(t, engine)
	fx := &groupFixture{db: db}
	err := db.Write(ctx, func(tx *Tx) error {
		if err := tx.InsertApp(ctx, &chat.App{ID: testApp, Name: "Test", Region: "eu", CreatedAt: 1}); err != nil {
			return err
		}
		for _, uid := range []string{"alice", "bob", "carol", "dave"} {
			if err := tx.InsertUser(ctx, testApp, &chat.User{UID: uid, Name: uid, Role: chat.DefaultRole, CreatedAt: 1}); err != nil {
				return err
			}
		}
		// No exported method creates groups in this branch: raw SQL.
		if _, err := tx.q.ExecContext(ctx, `INSERT INTO chat_groups (app_id, guid, name, type, tags, members_count, created_at)
			VALUES (?, 'team', 'The Team', 'public', '["blue"]', 3, 5)`, testApp); err != nil {
			return err
		}
		for uid, joined := range map[string]int64{"alice": 10, "bob": 10, "carol": 200} {
			if _, err := tx.q.ExecContext(ctx, `INSERT INTO group_members (app_id, guid, uid, scope, joined_at) VALUES (?, 'team', ?, 'participant', ?)`,
				testApp, uid, joined); err != nil {
				return err
			}
		}
		send := func(from, rtype, to string, at int64, text string) (int64, error) {
			conv := chat.GroupConversationID(to)
			if rtype == chat.ReceiverUser {
				conv = chat.UserConversationID(from, to)
			}
			m := &chat.Message{ConversationID: conv, Sender: from, ReceiverType: rtype, Receiver: to, Category: chat.CategoryMessage,
				Type: chat.TypeText, Data: chat.MessageData{Text: text}, SentAt: at, UpdatedAt: at}
			err := tx.InsertMessage(ctx, testApp, m)
			return m.ID, err
		}
		steps := []struct {
			dst             *int64
			from, rtype, to string
			at              int64
		}{
			{&fx.g1, "alice", chat.ReceiverGroup, "team", 100},
			{&fx.g2, "bob", chat.ReceiverGroup, "team", 150},
			{&fx.d1, "alice", chat.ReceiverUser, "bob", 160},
			{&fx.g3, "alice", chat.ReceiverGroup, "team", 300},
			{&fx.g4, "carol", chat.ReceiverGroup, "team", 310},
		}
		for _, s := range steps {
			var err error
			if *s.dst, err = send(s.from, s.rtype, s.to, s.at, "text"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

func (fx *groupFixture) list(t *testing.T, f MessageFilter) []int64 {
	t.Helper()
	var out []int64
	err := fx.db.Read(t.Context(), func(tx *Tx) error {
		msgs, _, err := tx.ListMessages(t.Context(), testApp, f)
		for _, m := range msgs {
			out = append(out, m.ID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (fx *groupFixture) conversations(t *testing.T, uid string, f ConversationFilter) []ConversationRow {
	t.Helper()
	if f.Page.PerPage == 0 {
		f.Page = Page{PerPage: 100, Number: 1}
	}
	var out []ConversationRow
	err := fx.db.Read(t.Context(), func(tx *Tx) error {
		var err error
		out, _, err = tx.ListConversations(t.Context(), testApp, uid, f)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGroupMessagesVisibility(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		fx := openGroupFixture(t, engine)
		all := []int64{fx.g1, fx.g2, fx.d1, fx.g3, fx.g4}
		if got := fx.list(t, MessageFilter{}); !slices.Equal(got, all) {
			t.Fatalf("admin view %v, want %v", got, all)
		}
		// carol joined late: she sees the group's whole history, not the 1:1.
		if got, want := fx.list(t, MessageFilter{Viewer: "carol"}), []int64{fx.g1, fx.g2, fx.g3, fx.g4}; !slices.Equal(got, want) {
			t.Fatalf("carol's view %v, want %v", got, want)
		}
		if got, want := fx.list(t, MessageFilter{Viewer: "bob"}), all; !slices.Equal(got, want) {
			t.Fatalf("bob's view %v, want %v", got, want)
		}
		if got := fx.list(t, MessageFilter{Viewer: "dave"}); len(got) != 0 {
			t.Fatalf("dave is in no conversation: %v", got)
		}
		if got, want := fx.list(t, MessageFilter{ReceiverType: chat.ReceiverUser}), []int64{fx.d1}; !slices.Equal(got, want) {
			t.Fatalf("receiverType user: %v", got)
		}
		// Unread for carol: only what was sent after she joined, not by her.
		conv := chat.GroupConversationID("team")
		if got, want := fx.list(t, MessageFilter{ConversationID: conv, UnreadFor: "carol"}), []int64{fx.g3}; !slices.Equal(got, want) {
			t.Fatalf("carol's unread %v, want %v", got, want)
		}
		if got, want := fx.list(t, MessageFilter{ConversationID: conv, UnreadFor: "bob"}), []int64{fx.g1, fx.g3, fx.g4}; !slices.Equal(got, want) {
			t.Fatalf("bob's unread %v, want %v", got, want)
		}
		// Across conversations: bob's unread 1:1 message from alice too.
		if got, want := fx.list(t, MessageFilter{Viewer: "bob", UnreadFor: "bob"}), []int64{fx.g1, fx.d1, fx.g3, fx.g4}; !slices.Equal(got, want) {
			t.Fatalf("bob's unread everywhere %v, want %v", got, want)
		}
	})
}

func TestGroupConversationsAndReceipts(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		fx := openGroupFixture(t, engine)
		ctx := context.Background()
		conv := chat.GroupConversationID("team")

		rows := fx.conversations(t, "carol", ConversationFilter{})
		if len(rows) != 1 {
			t.Fatalf("carol's conversations: %+v", rows)
		}
		c := rows[0]
		if c.ConversationID != conv || c.Type != chat.ReceiverGroup || c.With != "team" || c.LastMessageID != fx.g4 ||
			c.Unread != 1 || c.Scope != "participant" || c.Side.JoinedAt != 200 || c.CreatedAt != 200 {
			t.Fatalf("carol's group conversation: %+v", c)
		}
		// bob: the 1:1 conversation with alice is older than the group's last message.
		rows = fx.conversations(t, "bob", ConversationFilter{})
		if len(rows) != 2 || rows[0].ConversationID != conv || rows[0].Unread != 3 || rows[1].ConversationID != "alice_user_bob" || rows[1].Unread != 1 {
			t.Fatalf("bob's conversations: %+v", rows)
		}
		if rows := fx.conversations(t, "bob", ConversationFilter{GroupTags: []string{"blue"}}); len(rows) != 1 || rows[0].Type != chat.ReceiverGroup {
			t.Fatalf("groupTags: %+v", rows)
		}
		if rows := fx.conversations(t, "bob", ConversationFilter{Type: chat.ReceiverUser}); len(rows) != 1 || rows[0].Type != chat.ReceiverUser {
			t.Fatalf("type user: %+v", rows)
		}
		if rows := fx.conversations(t, "bob", ConversationFilter{SearchKey: "TEAM"}); len(rows) != 1 || rows[0].With != "team" {
			t.Fatalf("searchKey: %+v", rows)
		}
		if rows := fx.conversations(t, "dave", ConversationFilter{}); len(rows) != 0 {
			t.Fatalf("dave: %+v", rows)
		}

		// bob reads the group up to g3, then tries to go back to g1.
		var moved, back bool
		err := fx.db.Write(ctx, func(tx *Tx) error {
			var err error
			if moved, err = tx.MarkConversation(ctx, testApp, "bob", conv, chat.ReceiptRead, fx.g3, 1000); err != nil {
				return err
			}
			back, err = tx.MarkConversation(ctx, testApp, "bob", conv, chat.ReceiptRead, fx.g1, 1001)
			return err
		})
		if err != nil || !moved || back {
			t.Fatalf("mark read: moved %v, moved back %v, err %v", moved, back, err)
		}
		rows = fx.conversations(t, "bob", ConversationFilter{ConversationID: conv})
		if len(rows) != 1 || rows[0].Unread != 1 || rows[0].Side.ReadID != fx.g3 || rows[0].Side.ReadAt != 1000 ||
			rows[0].Side.DeliveredID != fx.g3 || rows[0].Side.DeliveredAt != 1000 {
			t.Fatalf("after read (read implies delivered): %+v", rows)
		}
		if rows := fx.conversations(t, "bob", ConversationFilter{Unread: true}); len(rows) != 2 {
			t.Fatalf("unread conversations: %+v", rows)
		}
		err = fx.db.Read(ctx, func(tx *Tx) error {
			sides, err := tx.ReadSides(ctx, testApp, "bob", []string{conv, "alice_user_bob"})
			if err != nil {
				return err
			}
			if s := sides[conv]["bob"]; s.ReadID != fx.g3 {
				t.Errorf("bob's group side: %+v", s)
			}
			if len(sides[conv]) != 1 {
				t.Errorf("group sides are the viewer's only: %+v", sides[conv])
			}
			if s := sides["alice_user_bob"]["alice"]; s.ReadID != fx.d1 {
				t.Errorf("alice read what she sent: %+v", s)
			}
			_, err = tx.Conversation(ctx, testApp, "dave", conv)
			if chat.AsError(err) == nil || chat.AsError(err).Code != "ERR_CONVERSATION_NOT_ACCESSIBLE" {
				t.Errorf("dave's view of the group conversation: %v", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestPermanentDeleteInGroup(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		fx := openGroupFixture(t, engine)
		ctx := context.Background()
		conv := chat.GroupConversationID("team")
		err := fx.db.Write(ctx, func(tx *Tx) error {
			m, err := tx.Message(ctx, testApp, fx.g4)
			if err != nil {
				return err
			}
			_, err = tx.DeleteMessagePermanently(ctx, testApp, m)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if rows := fx.conversations(t, "alice", ConversationFilter{ConversationID: conv}); len(rows) != 1 || rows[0].LastMessageID != fx.g3 {
			t.Fatalf("last message after deleting the newest: %+v", rows)
		}
	})
}

// TestThreadQueriesUseTheThreadIndex: messages_parent holds thread replies
// only (parent_id <> 0); the queries that read a thread must say so, or
// neither engine's planner may use a partial index for a bound parent id
// and every thread read would scan the app's messages.
func TestThreadQueriesUseTheThreadIndex(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		db := openTest(t, engine)
		ctx := context.Background()
		where, args := (&MessageFilter{ParentID: 42}).where(db.d, "app1")
		queries := map[string]struct {
			q    string
			args []any
		}{
			"thread list":      {`SELECT m.id FROM messages m WHERE ` + where + ` ORDER BY m.id LIMIT 100`, args},
			"permanent delete": {`SELECT t.id FROM messages t WHERE t.app_id = ? AND (t.id = ? OR (t.parent_id = ? AND t.parent_id <> 0))`, []any{"app1", 42, 42}},
		}
		if db.d.postgres() {
			// PostgreSQL picks the delete's plan by cost: on a table this
			// small, messages_app with a filter, whatever the indexes.
			delete(queries, "permanent delete")
		}
		for name, q := range queries {
			var plan []string
			err := db.Read(ctx, func(tx *Tx) error {
				explain := `EXPLAIN QUERY PLAN `
				if db.d.postgres() {
					// A table this small would be scanned whatever the
					// indexes: ask whether the index can serve at all.
					if _, err := tx.q.ExecContext(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
						return err
					}
					explain = `EXPLAIN `
				}
				rows, err := tx.q.QueryContext(ctx, explain+q.q, q.args...)
				if err != nil {
					return err
				}
				defer rows.Close()
				cols, err := rows.Columns()
				if err != nil {
					return err
				}
				for rows.Next() {
					vals, err := scanValues(rows, len(cols))
					if err != nil {
						return err
					}
					plan = append(plan, fmt.Sprint(vals...))
				}
				return rows.Err()
			})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !strings.Contains(strings.Join(plan, "\n"), "messages_parent") {
				t.Errorf("%s does not use messages_parent:\n%s", name, strings.Join(plan, "\n"))
			}
		}
	})
}

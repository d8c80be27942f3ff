package store

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"
)

// TestNodeLeases: a node's first renewal creates its row, later ones
// extend it; a node whose lease ended is listed as expired, is deleted
// only once expired (or whatever its lease when asked), and its next
// renewal reports that it had to be created again.
func TestNodeLeases(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		ctx := t.Context()
		db := openTest(t, engine)
		for _, c := range []struct {
			node        string
			now, until  int64
			wantCreated bool
		}{{"a", 1000, 4000, true}, {"a", 2000, 5000, false}, {"b", 1000, 3000, true}} {
			created, err := db.RenewNode(ctx, c.node, c.now, c.until)
			if err != nil || created != c.wantCreated {
				t.Fatalf("RenewNode(%s, %d): created %v, %v; want %v", c.node, c.now, created, err, c.wantCreated)
			}
		}
		read := func(fn func(tx *Tx) error) {
			t.Helper()
			if err := db.Read(ctx, fn); err != nil {
				t.Fatal(err)
			}
		}
		read(func(tx *Tx) error {
			for _, c := range []struct {
				now  int64
				want []string
			}{{2999, nil}, {3000, []string{"b"}}, {5000, []string{"a", "b"}}} {
				nodes, err := tx.ExpiredNodes(ctx, c.now)
				if err != nil {
					return err
				}
				var ids []string
				for _, n := range nodes {
					ids = append(ids, n.ID)
				}
				if !slices.Equal(ids, c.want) {
					t.Errorf("expired at %d: %v, want %v", c.now, ids, c.want)
				}
			}
			ok, err := tx.NodeExists(ctx, "a")
			if err != nil || !ok {
				t.Errorf("NodeExists(a) = %v, %v", ok, err)
			}
			ok, err = tx.NodeExists(ctx, "nobody")
			if err != nil || ok {
				t.Errorf("NodeExists(nobody) = %v, %v", ok, err)
			}
			return nil
		})
		if err := db.Write(ctx, func(tx *Tx) error {
			if _, ok, err := tx.DeleteNode(ctx, "a", 3500); err != nil || ok {
				t.Errorf("deleted a live node: %v %v", ok, err)
			}
			n, ok, err := tx.DeleteNode(ctx, "b", 3500)
			if err != nil || !ok || n != (Node{ID: "b", StartedAt: 1000, HeartbeatAt: 1000, LeaseUntil: 3000}) {
				t.Errorf("DeleteNode(b) = %+v %v %v", n, ok, err)
			}
			if _, ok, err := tx.DeleteNode(ctx, "a", math.MaxInt64); err != nil || !ok {
				t.Errorf("DeleteNode(a, whatever its lease) = %v %v", ok, err)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if created, err := db.RenewNode(ctx, "b", 6000, 9000); err != nil || !created {
			t.Fatalf("renewal of an ended node: created %v, %v", created, err)
		}
	})
}

// TestPresenceRows: a user is present while one of its rows belongs to a
// live node or to the node asking; ending a node returns its rows.
func TestPresenceRows(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		ctx := t.Context()
		db := openTest(t, engine)
		if _, err := db.RenewNode(ctx, "a", 1000, 10000); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RenewNode(ctx, "b", 1000, 5000); err != nil {
			t.Fatal(err)
		}
		var many []string
		for i := range presenceLookupMax + 10 {
			many = append(many, fmt.Sprintf("u%04d", i))
		}
		err := db.Write(ctx, func(tx *Tx) error {
			for _, p := range []PresenceRow{{"app1", "alice", "a", 1100}, {"app1", "bob", "b", 1200}, {"app1", "carol", "a", 1300},
				{"app1", "carol", "b", 1400}, {"app2", "alice", "b", 1500}, {"app1", "dave", "gone", 1600}, {"app1", "u0007", "a", 1700}} {
				if err := tx.AddPresence(ctx, p.AppID, p.UID, p.Node, p.Since); err != nil {
					return err
				}
			}
			// A second add keeps the first time; removing one node's row
			// leaves the others.
			if err := tx.AddPresence(ctx, "app1", "alice", "a", 9999); err != nil {
				return err
			}
			return tx.RemovePresence(ctx, "app1", "carol", "a")
		})
		if err != nil {
			t.Fatal(err)
		}
		err = db.Read(ctx, func(tx *Tx) error {
			for _, c := range []struct {
				uid, self string
				now       int64
				want      bool
			}{
				{"alice", "", 2000, true},
				{"bob", "", 2000, true},
				{"bob", "", 5000, false}, // b's lease ended
				{"bob", "b", 5000, true}, // b itself counts its rows
				{"carol", "", 2000, true},
				{"carol", "", 6000, false},
				{"dave", "", 2000, false}, // a node without a row is not live
				{"dave", "gone", 2000, true},
				{"erin", "", 2000, false},
			} {
				got, err := tx.Present(ctx, "app1", c.uid, c.self, c.now)
				if err != nil {
					return err
				}
				if got != c.want {
					t.Errorf("Present(%s, self %q, at %d) = %v, want %v", c.uid, c.self, c.now, got, c.want)
				}
			}
			for _, c := range []struct {
				uids []string
				now  int64
				want []string
			}{
				{[]string{"alice", "bob", "carol", "dave", "erin"}, 2000, []string{"alice", "bob", "carol"}},
				{[]string{"alice", "bob", "carol"}, 6000, []string{"alice"}},
				{nil, 2000, nil},
				{append(slices.Clone(many), "alice", "bob"), 2000, []string{"alice", "bob", "u0007"}}, // past the lookup limit
			} {
				got, err := tx.PresentUIDs(ctx, "app1", c.uids, "", c.now)
				if err != nil {
					return err
				}
				if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, c.want) {
					t.Errorf("PresentUIDs(%d uids, at %d) = %v, want %v", len(c.uids), c.now, keys, c.want)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = db.Write(ctx, func(tx *Tx) error {
			rows, err := tx.DeleteNodePresence(ctx, "b")
			if err != nil {
				return err
			}
			slices.SortFunc(rows, func(x, y PresenceRow) int { return int(x.Since - y.Since) })
			want := []PresenceRow{{"app1", "bob", "b", 1200}, {"app1", "carol", "b", 1400}, {"app2", "alice", "b", 1500}}
			if !slices.Equal(rows, want) {
				t.Errorf("DeleteNodePresence(b) = %+v, want %+v", rows, want)
			}
			if ok, err := tx.Present(ctx, "app1", "bob", "b", 2000); err != nil || ok {
				t.Errorf("bob present after his node ended: %v %v", ok, err)
			}
			if ok, err := tx.Present(ctx, "app1", "alice", "", 2000); err != nil || !ok {
				t.Errorf("alice (node a) gone with node b: %v %v", ok, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestRealtimeEventToApp: an outbox event for a whole app comes back as
// such, beside one for listed users.
func TestRealtimeEventToApp(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := openTest(t, engine)
		err := db.Write(ctx, func(tx *Tx) error {
			return tx.InsertRealtimeEvents(ctx, []RealtimeEvent{{AppID: "app1", UIDs: []string{"a", "b"}, Frame: []byte("one")},
				{AppID: "app1", ToApp: true, Frame: []byte("all")}})
		})
		if err != nil {
			t.Fatal(err)
		}
		evs, err := db.RealtimeEventsAfter(ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || evs[0].ToApp || !slices.Equal(evs[0].UIDs, []string{"a", "b"}) || string(evs[0].Frame) != "one" ||
			!evs[1].ToApp || len(evs[1].UIDs) != 0 || string(evs[1].Frame) != "all" {
			t.Fatalf("events %+v", evs)
		}
	})
}

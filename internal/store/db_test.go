package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"parley/internal/chat"
)

func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "t.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Write(context.Background(), func(tx *Tx) error {
		return tx.InsertApp(context.Background(), &chat.App{ID: "app1", Name: "A", Region: "us", CreatedAt: tx.Unix()})
	}); err != nil {
		t.Fatal(err)
	}
	return db
}

func insertUser(ctx context.Context, tx *Tx, uid string) error {
	return tx.InsertUser(ctx, "app1", &chat.User{UID: uid, Name: uid, Role: chat.DefaultRole, CreatedAt: tx.Unix()})
}

// TestGroupCommitIsolatesFailures runs many concurrent writes, some of
// which fail after writing; the failures leave no trace and the others all
// commit.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make([]error, 300)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.Write(ctx, func(tx *Tx) error {
				if err := insertUser(ctx, tx, fmt.Sprintf("u%03d", i)); err != nil {
					return err
				}
				if i%3 == 0 {
					return errors.New("boom")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (i%3 == 0) != (err != nil) {
			t.Fatalf("write %d: err %v", i, err)
		}
	}
	err := db.Read(ctx, func(tx *Tx) error {
		users, total, err := tx.ListUsers(ctx, "app1", UserFilter{Page: Page{PerPage: 1000, Number: 1}})
		if err != nil {
			return err
		}
		if total != 200 || len(users) != 200 {
			return fmt.Errorf("%d users committed, want 200", total)
		}
		for _, u := range users {
			var n int
			fmt.Sscanf(u.UID, "u%d", &n)
			if n%3 == 0 {
				return fmt.Errorf("user %s of a failed write is stored", u.UID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUniqueViolationIsConflict(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	write := func() error { return db.Write(ctx, func(tx *Tx) error { return insertUser(ctx, tx, "dup") }) }
	if err := write(); err != nil {
		t.Fatal(err)
	}
	err := write()
	if ce := chat.AsError(err); ce == nil || ce.Kind != chat.KindConflict || ce.Code != "ERR_UID_ALREADY_EXISTS" {
		t.Fatalf("second insert: %v", err)
	}
}

func TestPanicInWriteIsAnError(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	err := db.Write(t.Context(), func(tx *Tx) error { panic("bug") })
	if err == nil {
		t.Fatal("a panicking write reported success")
	}
	// The writer survives.
	if err := db.Write(t.Context(), func(tx *Tx) error { return insertUser(t.Context(), tx, "after") }); err != nil {
		t.Fatal(err)
	}
}

func TestMigrationsAreIdempotent(t *testing.T) {
	t.Parallel()
	path := "sqlite:" + filepath.Join(t.TempDir(), "m.db")
	for range 2 {
		db, err := Open(t.Context(), path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		v, err := db.SchemaVersion(t.Context())
		if err != nil || v < 1 {
			t.Fatalf("schema version %d, %v", v, err)
		}
		db.Close()
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{"sqlite:./x.db": "./x.db", "sqlite:///tmp/x.db": "/tmp/x.db", "/tmp/y.db": "/tmp/y.db"} {
		_, loc, err := ParseURL(raw)
		if err != nil || loc != want {
			t.Errorf("%s: %q %v, want %q", raw, loc, err, want)
		}
	}
	for _, raw := range []string{"", "sqlite:", "mysql://x", "postgres://h/db"} {
		if _, _, err := ParseURL(raw); err == nil {
			t.Errorf("%q accepted", raw)
		}
	}
}

// BenchmarkInsertMessage measures a durable message insert (with its
// conversation updates) from many concurrent senders: the group commit
// path every send takes.
func BenchmarkInsertMessage(b *testing.B) {
	db := openTest(b)
	ctx := context.Background()
	if err := db.Write(ctx, func(tx *Tx) error {
		for _, u := range []string{"alice", "bob"} {
			if err := insertUser(ctx, tx, u); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(32) // 32 × GOMAXPROCS concurrent senders
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			err := db.Write(ctx, func(tx *Tx) error {
				m := &chat.Message{ConversationID: chat.UserConversationID("alice", "bob"), Sender: "alice", ReceiverType: chat.ReceiverUser,
					Receiver: "bob", Category: chat.CategoryMessage, Type: chat.TypeText, Data: chat.MessageData{Text: "hello"},
					SentAt: tx.Unix(), UpdatedAt: tx.Unix()}
				return tx.InsertMessage(ctx, "app1", m)
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

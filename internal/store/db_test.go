package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parley/internal/chat"
	"parley/internal/store/storetest"
)

// The store's tests are its conformance suite: each runs on every engine,
// as parallel subtests named sqlite and postgres, each on a fresh database
// (storetest.URL). Without PARLEY_TEST_POSTGRES the postgres subtests are
// skipped; scripts/test always sets it. A store change extends this
// suite, and a behaviour that differs between engines is a bug unless a
// test here names it.

// eachEngine runs test once per engine as parallel subtests.
func eachEngine(t *testing.T, test func(t *testing.T, engine string)) {
	t.Helper()
	for _, e := range storetest.Engines() {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			test(t, e)
		})
	}
}

// openEngine opens a fresh, migrated database of the engine.
func openEngine(t testing.TB, engine string) *DB {
	t.Helper()
	db, err := Open(context.Background(), storetest.URL(t, engine), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openTest opens a fresh database of the engine holding the app "app1".
func openTest(t testing.TB, engine string) *DB {
	t.Helper()
	db := openEngine(t, engine)
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

// TestConcurrentWritesIsolateFailures runs many concurrent writes, some of
// which fail after writing; the failures leave no trace and the others all
// commit (SQLite: group commit with savepoints; PostgreSQL: a transaction
// each, retried on serialization failures).
func TestConcurrentWritesIsolateFailures(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		db := openTest(t, engine)
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
	})
}

// TestNoLostUpdates runs concurrent read-then-write increments of one
// counter: each must count. SQLite's one writer serialises them; on
// PostgreSQL SERIALIZABLE makes the losers fail, and Write runs them
// again.
func TestNoLostUpdates(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		db := openTest(t, engine)
		ctx := t.Context()
		if err := db.Write(ctx, func(tx *Tx) error {
			return tx.InsertGroup(ctx, "app1", &chat.Group{GUID: "g", Name: "G", Type: chat.GroupPublic, CreatedAt: 1})
		}); err != nil {
			t.Fatal(err)
		}
		const n = 40
		var runs atomic.Int64
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = db.Write(ctx, func(tx *Tx) error {
					runs.Add(1)
					var c int
					if err := tx.q.QueryRowContext(ctx, `SELECT members_count FROM chat_groups WHERE app_id = ? AND guid = ?`, "app1", "g").Scan(&c); err != nil {
						return err
					}
					_, err := tx.q.ExecContext(ctx, `UPDATE chat_groups SET members_count = ? WHERE app_id = ? AND guid = ?`, c+1, "app1", "g")
					return err
				})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("increment %d: %v", i, err)
			}
		}
		var got int
		if err := db.Read(ctx, func(tx *Tx) error {
			g, err := tx.Group(ctx, "app1", "g")
			got = g.MembersCount
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got != n {
			t.Fatalf("counter %d after %d increments", got, n)
		}
		t.Logf("%d increments took %d runs", n, runs.Load())
	})
}

// TestBusyConversation: many senders post to one conversation at once;
// every message is stored. On PostgreSQL they all update the same
// conversation rows, so most fail to serialize once; the next run queues
// for the app's message order lock before its snapshot (writePostgres)
// instead of failing again and again.
func TestBusyConversation(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		db := openTest(t, engine)
		ctx := t.Context()
		if err := db.Write(ctx, func(tx *Tx) error {
			for _, u := range []string{"a", "b"} {
				if err := insertUser(ctx, tx, u); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		const n = 64
		var wg sync.WaitGroup
		var runs atomic.Int64
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = db.Write(ctx, func(tx *Tx) error {
					runs.Add(1)
					return tx.InsertMessage(ctx, "app1", textMessage("a", "b", fmt.Sprint(i)))
				})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("sender %d: %v", i, err)
			}
		}
		var last int64
		if err := db.Read(ctx, func(tx *Tx) error {
			c, err := tx.Conversation(ctx, "app1", "a", chat.UserConversationID("a", "b"))
			if err == nil {
				last = c.LastMessageID
			}
			msgs, _, err2 := tx.ListMessages(ctx, "app1", MessageFilter{Limit: 1000})
			if len(msgs) != n {
				t.Errorf("%d messages stored, want %d", len(msgs), n)
			}
			return errors.Join(err, err2)
		}); err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			t.Error("conversation has no last message")
		}
		t.Logf("%d messages took %d runs", n, runs.Load())
	})
}

// TestMessageIDsFollowCommitOrder: while one transaction that inserted a
// message is open, another message of the same app (another
// conversation) cannot commit, so no reader can see the later id before
// the earlier one (docs/decisions/message-cursors.md).
func TestMessageIDsFollowCommitOrder(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		db := openTest(t, engine)
		ctx := t.Context()
		if err := db.Write(ctx, func(tx *Tx) error {
			for _, u := range []string{"a", "b", "c"} {
				if err := insertUser(ctx, tx, u); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		msg := func(to string) *chat.Message {
			return &chat.Message{ConversationID: chat.UserConversationID("a", to), Sender: "a", ReceiverType: chat.ReceiverUser,
				Receiver: to, Category: chat.CategoryMessage, Type: chat.TypeText, SentAt: 1, UpdatedAt: 1}
		}
		first, second := msg("b"), msg("c")
		inserted, release := make(chan struct{}), make(chan struct{})
		firstDone, secondDone := make(chan error, 1), make(chan error, 1)
		go func() {
			firstDone <- db.Write(ctx, func(tx *Tx) error {
				if err := tx.InsertMessage(ctx, "app1", first); err != nil {
					return err
				}
				select {
				case inserted <- struct{}{}:
				default: // a retry: the test already knows
				}
				<-release
				return nil
			})
		}()
		<-inserted
		go func() {
			secondDone <- db.Write(ctx, func(tx *Tx) error { return tx.InsertMessage(ctx, "app1", second) })
		}()
		select {
		case err := <-secondDone:
			t.Fatalf("a later message committed while an earlier one was open (err %v)", err)
		case <-time.After(300 * time.Millisecond): // the negative check needs a bound
		}
		close(release)
		if err := <-firstDone; err != nil {
			t.Fatal(err)
		}
		if err := <-secondDone; err != nil {
			t.Fatal(err)
		}
		if first.ID >= second.ID {
			t.Fatalf("ids %d then %d: not in commit order", first.ID, second.ID)
		}
	})
}

// TestFailedStatementAbortsOnPostgres names an engine difference: on
// PostgreSQL a statement that fails aborts the transaction, so a write
// whose function swallows such an error and returns nil fails as a whole
// instead of committing half of it. On SQLite only the statement is
// undone. Use cases never rely on either: store methods report expected
// conflicts without a failing statement (insertedOne).
func TestFailedStatementAbortsOnPostgres(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		db := openTest(t, engine)
		ctx := t.Context()
		err := db.Write(ctx, func(tx *Tx) error {
			if err := insertUser(ctx, tx, "kept"); err != nil {
				return err
			}
			_, _ = tx.q.ExecContext(ctx, `INSERT INTO apps (id, name, region, created_at) VALUES ('app1', 'dup', 'us', 0)`)
			return nil
		})
		var n int
		if rerr := db.Read(ctx, func(tx *Tx) error {
			_, total, err := tx.ListUsers(ctx, "app1", UserFilter{Page: Page{PerPage: 10, Number: 1}})
			n = total
			return err
		}); rerr != nil {
			t.Fatal(rerr)
		}
		switch engine {
		case storetest.Postgres:
			if err == nil || n != 0 {
				t.Fatalf("write err %v, %d users: want an error and nothing stored", err, n)
			}
		default:
			if err != nil || n != 1 {
				t.Fatalf("write err %v, %d users: want the rest committed", err, n)
			}
		}
	})
}

func TestUniqueViolationIsConflict(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		db := openTest(t, engine)
		ctx := t.Context()
		write := func() error { return db.Write(ctx, func(tx *Tx) error { return insertUser(ctx, tx, "dup") }) }
		if err := write(); err != nil {
			t.Fatal(err)
		}
		err := write()
		if ce := chat.AsError(err); ce == nil || ce.Kind != chat.KindConflict || ce.Code != "ERR_UID_ALREADY_EXISTS" {
			t.Fatalf("second insert: %v", err)
		}
		// A conflict the store does not expect is still a conflict.
		err = db.Write(ctx, func(tx *Tx) error {
			return tx.InsertApp(ctx, &chat.App{ID: "app1", Name: "again", Region: "us", CreatedAt: 1})
		})
		if ce := chat.AsError(err); ce == nil || ce.Kind != chat.KindConflict {
			t.Fatalf("duplicate app: %v", err)
		}
		// A conflict reported inside a use case leaves the transaction
		// usable: the use case may go on.
		err = db.Write(ctx, func(tx *Tx) error {
			if err := insertUser(ctx, tx, "dup"); chat.KindOf(err) != chat.KindConflict {
				return fmt.Errorf("want a conflict, got %v", err)
			}
			return insertUser(ctx, tx, "after-conflict")
		})
		if err != nil {
			t.Fatalf("write going on after a conflict: %v", err)
		}
	})
}

func TestPanicInWriteIsAnError(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		db := openTest(t, engine)
		err := db.Write(t.Context(), func(tx *Tx) error { panic("bug") })
		if err == nil {
			t.Fatal("a panicking write reported success")
		}
		// The writer survives.
		if err := db.Write(t.Context(), func(tx *Tx) error { return insertUser(t.Context(), tx, "after") }); err != nil {
			t.Fatal(err)
		}
	})
}

func TestWriteAfterClose(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		db := openTest(t, engine)
		db.Close()
		if err := db.Write(t.Context(), func(tx *Tx) error { return nil }); !errors.Is(err, ErrClosed) {
			t.Fatalf("write after close: %v", err)
		}
	})
}

// TestSearchIsASCIICaseInsensitive: LIKE searches fold ASCII letters
// only, on both engines (PostgreSQL: ILIKE under the "C" collation).
func TestSearchIsASCIICaseInsensitive(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		db := openTest(t, engine)
		ctx := t.Context()
		if err := db.Write(ctx, func(tx *Tx) error {
			for _, u := range []struct{ uid, name string }{{"alice", "ALICE"}, {"emile", "Émile"}, {"under", "a_b"}, {"bob", "Bob"}} {
				if err := tx.InsertUser(ctx, "app1", &chat.User{UID: u.uid, Name: u.name, Role: chat.DefaultRole, CreatedAt: 1}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		search := func(key string) []string {
			var uids []string
			if err := db.Read(ctx, func(tx *Tx) error {
				users, _, err := tx.ListUsers(ctx, "app1", UserFilter{SearchKey: key, SearchIn: []string{"name"}, Page: Page{PerPage: 10, Number: 1}})
				for _, u := range users {
					uids = append(uids, u.UID)
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return uids
		}
		for key, want := range map[string][]string{"ali": {"alice"}, "BO": {"bob"}, "émile": nil, "Émi": {"emile"}, "a_": {"under"}, "A%": nil} {
			if got := search(key); !slices.Equal(got, want) {
				t.Errorf("search %q: %v, want %v", key, got, want)
			}
		}
		// Names sort by bytes: upper case before lower case, ASCII before
		// the rest.
		var names []string
		if err := db.Read(ctx, func(tx *Tx) error {
			users, _, err := tx.ListUsers(ctx, "app1", UserFilter{Page: Page{PerPage: 10, Number: 1}})
			for _, u := range users {
				names = append(names, u.Name)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if want := []string{"ALICE", "Bob", "a_b", "Émile"}; !slices.Equal(names, want) {
			t.Errorf("order %q, want %q", names, want)
		}
	})
}

// TestMessageSearchSurvivesNUL: a message whose data holds an escaped NUL
// (PostgreSQL's JSON functions refuse it) does not break searching the
// others.
func TestMessageSearchSurvivesNUL(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		db := openTest(t, engine)
		ctx := t.Context()
		if err := db.Write(ctx, func(tx *Tx) error {
			for _, u := range []string{"a", "b"} {
				if err := insertUser(ctx, tx, u); err != nil {
					return err
				}
			}
			for _, text := range []string{"nul\x00inside", "Hello World"} {
				m := &chat.Message{ConversationID: chat.UserConversationID("a", "b"), Sender: "a", ReceiverType: chat.ReceiverUser,
					Receiver: "b", Category: chat.CategoryMessage, Type: chat.TypeText, Data: chat.MessageData{Text: text}, SentAt: 1, UpdatedAt: 1}
				if err := tx.InsertMessage(ctx, "app1", m); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var texts []string
		if err := db.Read(ctx, func(tx *Tx) error {
			msgs, _, err := tx.ListMessages(ctx, "app1", MessageFilter{SearchKey: "hello"})
			for _, m := range msgs {
				texts = append(texts, m.Data.Text)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(texts, []string{"Hello World"}) {
			t.Fatalf("search: %q", texts)
		}
	})
}

func TestMigrationsAreIdempotent(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		url := storetest.URL(t, engine)
		for range 2 {
			db, err := Open(t.Context(), url, Options{})
			if err != nil {
				t.Fatal(err)
			}
			v, err := db.SchemaVersion(t.Context())
			if err != nil || v < 1 {
				t.Fatalf("schema version %d, %v", v, err)
			}
			db.Close()
		}
	})
}

// TestConcurrentMigrations starts several processes' worth of migrations
// at once on one fresh database: every one succeeds and each migration is
// applied exactly once.
func TestConcurrentMigrations(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		url := storetest.URL(t, engine)
		const nodes = 4
		results := make([]MigrateResult, nodes)
		errs := make([]error, nodes)
		var wg sync.WaitGroup
		for i := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = Migrate(t.Context(), url, Options{})
			}()
		}
		wg.Wait()
		ms, err := loadMigrations(newDialect(engine).migrationDir())
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for i := range nodes {
			if errs[i] != nil {
				t.Fatalf("node %d: %v", i, errs[i])
			}
			if results[i].Version != ms[len(ms)-1].version {
				t.Errorf("node %d: version %d", i, results[i].Version)
			}
			for _, name := range results[i].Applied {
				count[name]++
			}
		}
		for _, m := range ms {
			if count[m.name] != 1 {
				t.Errorf("%s applied %d times", m.name, count[m.name])
			}
		}
	})
}

// TestMigrationsArePaired: every migration exists in both dialects, with
// the same number and name.
func TestMigrationsArePaired(t *testing.T) {
	t.Parallel()
	names := func(engine string) []string {
		entries, err := fs.ReadDir(migrationFiles, newDialect(engine).migrationDir())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	if s, p := names(engineSQLite), names(enginePostgres); !slices.Equal(s, p) {
		t.Fatalf("sqlite migrations %v, postgres %v", s, p)
	}
}

// TestSchemasMatch: after migrating, both engines have the same tables and
// columns, and every PostgreSQL text column is in the "C" collation.
func TestSchemasMatch(t *testing.T) {
	t.Parallel()
	lite := openEngine(t, storetest.SQLite)
	pg := openEngine(t, storetest.Postgres)
	ctx := t.Context()
	columns := func(db *DB, q string) []string {
		var out []string
		err := db.Read(ctx, func(tx *Tx) error {
			rows, err := tx.q.QueryContext(ctx, q)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var table, col string
				if err := rows.Scan(&table, &col); err != nil {
					return err
				}
				out = append(out, table+"."+col)
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		return out
	}
	l := columns(lite, `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%'`)
	p := columns(pg, `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()`)
	if !slices.Equal(l, p) {
		t.Fatalf("columns differ:\nsqlite   %v\npostgres %v", l, p)
	}
	if bad := columns(pg, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND data_type = 'text' AND table_name <> 'schema_migrations' AND coalesce(collation_name, '') <> 'C'`); len(bad) > 0 {
		t.Fatalf("text columns without COLLATE \"C\": %v", bad)
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string][2]string{
		"sqlite:./x.db":       {"sqlite", "./x.db"},
		"sqlite:///tmp/x.db":  {"sqlite", "/tmp/x.db"},
		"/tmp/y.db":           {"sqlite", "/tmp/y.db"},
		"postgres://h/db":     {"postgres", "postgres://h/db"},
		"postgresql://u@h/db": {"postgres", "postgresql://u@h/db"},
	} {
		engine, loc, err := ParseURL(raw)
		if err != nil || engine != want[0] || loc != want[1] {
			t.Errorf("%s: %q %q %v, want %q", raw, engine, loc, err, want)
		}
	}
	for _, raw := range []string{"", "sqlite:", "mysql://x", "postgres://h:notaport/db"} {
		if _, _, err := ParseURL(raw); err == nil {
			t.Errorf("%q accepted", raw)
		}
	}
	// A password never appears in an error.
	if _, _, err := ParseURL("postgres://u:s3cret@h:bad/db"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %v", err)
	}
}

func TestRebind(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`SELECT a FROM t WHERE b = ? AND c IN (?, ?)`:           `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)`,
		`name LIKE ? ESCAPE '\' OR uid like ? ESCAPE '\'`:       `name ILIKE $1 ESCAPE '\' OR uid ILIKE $2 ESCAPE '\'`,
		`x = 'it''s ? LIKE' AND y = ?`:                          `x = 'it''s ? LIKE' AND y = $1`,
		`"odd?name" = ? -- trailing ? comment` + "\n" + `AND ?`: `"odd?name" = $1 -- trailing ? comment` + "\n" + `AND $2`,
		`/* ? */ ? unlike likes ILIKE`:                          `/* ? */ $1 unlike likes ILIKE`,
		`'unterminated ?`:                                       `'unterminated ?`,
	} {
		if got := rebind(in); got != want {
			t.Errorf("rebind(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkInsertMessage measures a durable message insert (with its
// conversation updates) from many concurrent senders: on SQLite the group
// commit path every send takes, on PostgreSQL a transaction per send.
func BenchmarkInsertMessage(b *testing.B) {
	for _, engine := range storetest.Engines() {
		b.Run(engine, func(b *testing.B) {
			db := openTest(b, engine)
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
		})
	}
}

// TestOneServerPerSQLiteFile: a second serving process on one SQLite file
// is refused with a clear error (its engine would attempt the deliveries
// the first has in flight); other commands may open it meanwhile, and the
// lock goes with the first server.
func TestOneServerPerSQLiteFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.URL(t, "sqlite")
	first, err := Open(ctx, url, Options{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, url, Options{Serve: true}); err == nil || !strings.Contains(err.Error(), "another parley serve is using") {
		t.Fatalf("second server: %v, want a refusal", err)
	}
	other, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatalf("a command beside the server: %v", err)
	}
	other.Close()
	first.Close()
	again, err := Open(ctx, url, Options{Serve: true})
	if err != nil {
		t.Fatalf("server after the first closed: %v", err)
	}
	again.Close()
}

// TestWriteDeferred: a deferred write commits on its own after a moment,
// or with other writes; one still waiting when the database closes is
// committed before Close returns.
func TestWriteDeferred(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		url := storetest.URL(t, engine)
		db, err := Open(ctx, url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Write(ctx, func(tx *Tx) error {
			return tx.InsertApp(ctx, &chat.App{ID: "app1", Name: "A", Region: "us", CreatedAt: tx.Unix()})
		}); err != nil {
			t.Fatal(err)
		}
		exists := func(db *DB, uid string) bool {
			t.Helper()
			err := db.Read(ctx, func(tx *Tx) error { _, err := tx.User(ctx, "app1", uid); return err })
			if err != nil && chat.KindOf(err) != chat.KindNotFound {
				t.Fatal(err)
			}
			return err == nil
		}
		// Alone: nothing else to commit with.
		if err := db.WriteDeferred(ctx, func(tx *Tx) error { return insertUser(ctx, tx, "lone") }); err != nil {
			t.Fatal(err)
		}
		if !exists(db, "lone") {
			t.Fatal("a deferred write returned before its commit")
		}
		// Mixed with eager writes.
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 40 {
			wg.Go(func() {
				write := db.Write
				if i%2 == 0 {
					write = db.WriteDeferred
				}
				errs <- write(ctx, func(tx *Tx) error { return insertUser(ctx, tx, fmt.Sprintf("u%d", i)) })
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := range 40 {
			if !exists(db, fmt.Sprintf("u%d", i)) {
				t.Fatalf("u%d missing", i)
			}
		}
		// Held when the database closes: committed first.
		var ok []string
		var mu sync.Mutex
		for i := range 10 {
			wg.Go(func() {
				uid := fmt.Sprintf("late%d", i)
				err := db.WriteDeferred(ctx, func(tx *Tx) error { return insertUser(ctx, tx, uid) })
				switch {
				case err == nil:
					mu.Lock()
					ok = append(ok, uid)
					mu.Unlock()
				case !errors.Is(err, ErrClosed):
					t.Error(err)
				}
			})
		}
		time.Sleep(time.Millisecond)
		db.Close()
		wg.Wait()
		again, err := Open(ctx, url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer again.Close()
		for _, uid := range ok {
			if !exists(again, uid) {
				t.Fatalf("%s was reported written but is not there after Close", uid)
			}
		}
	})
}

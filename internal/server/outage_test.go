package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver of the admin connection
)

// pgServer acts on the PostgreSQL server under a test database, through
// its maintenance database (PARLEY_TEST_POSTGRES): it can refuse new
// connections to that one database and end the ones it has, which is
// what a restart looks like to its clients, without disturbing other
// tests' databases on the same server.
type pgServer struct {
	t     *testing.T
	admin *sql.DB
	name  string // the test database
}

func newPGServer(t *testing.T, dbURL string) *pgServer {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p := &pgServer{t: t, admin: adminDB(t), name: strings.TrimPrefix(u.Path, "/")}
	t.Cleanup(func() { p.exec("ALTER DATABASE " + p.name + " ALLOW_CONNECTIONS true") })
	return p
}

func (p *pgServer) exec(q string, args ...any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.admin.ExecContext(ctx, q, args...); err != nil {
		p.t.Fatalf("%s: %v", q, err)
	}
}

// down refuses new connections to the database and ends those of the
// given application ("" for every one).
func (p *pgServer) down(application string) {
	p.t.Helper()
	p.exec("ALTER DATABASE " + p.name + " ALLOW_CONNECTIONS false")
	p.exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND ($2 = '' OR application_name = $2)`, p.name, application)
}

// up accepts connections again.
func (p *pgServer) up() {
	p.t.Helper()
	p.exec("ALTER DATABASE " + p.name + " ALLOW_CONNECTIONS true")
}

// sessions counts the database's connections of an application.
func (p *pgServer) sessions(application string) int {
	p.t.Helper()
	var n int
	if err := p.admin.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2`, p.name, application).Scan(&n); err != nil {
		p.t.Fatal(err)
	}
	return n
}

// waitGone waits until the database has no session of the application
// left (a terminated backend leaves pg_stat_activity shortly after the
// signal), ending again any that started meanwhile.
func (p *pgServer) waitGone(application string) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for p.sessions(application) != 0 {
		if time.Now().After(deadline) {
			p.t.Fatalf("%d sessions of %s left", p.sessions(application), application)
		}
		time.Sleep(10 * time.Millisecond) // polling the server; bounded by the deadline
		p.exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2`, p.name, application)
	}
}

// get answers a plain GET's status and body.
func get(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// waitStatus polls a GET until it answers status.
func waitStatus(t *testing.T, u string, status int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := get(t, u)
		if code == status {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d %s, want %d", u, code, body, status)
		}
		time.Sleep(20 * time.Millisecond) // polling the server; bounded by the deadline
	}
}

// TestPostgresOutage: with a node serving and a WebSocket client
// connected, PostgreSQL stops accepting connections and ends the node's
// (as in a restart). While it is away, /readyz answers 503 and /healthz
// 200, and requests that need it answer clean 503s. Once it is back,
// /readyz answers 200 again, the real-time listener reconnects and the
// client receives every message sent after, and also those sent while
// only the listener was cut off (read from the outbox when it catches
// up).
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	nodes, _, dbURL := startCluster(t, 1, nil, Options{})
	e := nodes[0]
	pg := newPGServer(t, dbURL)
	tokens := e.users("alice", "bob")
	bob := e.dial(tokens["bob"])
	e.say("alice", "bob", "before")
	if f := bob.nextOf("message"); str(f.Data, "data.text") != "before" {
		t.Fatalf("frame %+v", f)
	}

	// PostgreSQL goes away.
	pg.down("")
	body := waitStatus(t, e.base+"/readyz", http.StatusServiceUnavailable)
	if !strings.Contains(body, "database unreachable") {
		t.Errorf("/readyz said %q", body)
	}
	if code, _ := get(t, e.base+"/healthz"); code != 200 {
		t.Errorf("/healthz answered %d while the database is away", code)
	}
	requests := []struct{ method, path, body string }{
		{"POST", "/v3/messages", `{"receiver":"bob","receiverType":"user","data":{"text":"lost"}}`},
		{"GET", "/v3/users/alice", ""},
		{"GET", "/v3/users", ""},
		{"POST", "/v3/users", `{"uid":"erin","name":"Erin"}`},
		{"GET", "/v3/users/bob/messages", ""},
		{"POST", "/v3/groups", `{"guid":"g1","name":"G","type":"public"}`},
	}
	for range 3 {
		for _, r := range requests {
			res := e.call(r.method, r.path, r.body, as("alice"))
			if res.Status != http.StatusServiceUnavailable {
				t.Errorf("%s %s while the database is away: %d %s, want 503", r.method, r.path, res.Status, res.Raw)
				continue
			}
			if res.Code() == "" || strings.Contains(string(res.Raw), "pgx") || strings.Contains(string(res.Raw), "127.0.0.1") {
				t.Errorf("%s %s: 503 body %s", r.method, r.path, res.Raw)
			}
		}
	}
	if code := get503Dashboard(t, e); code >= 500 && code != http.StatusServiceUnavailable {
		t.Errorf("dashboard login page answered %d while the database is away", code)
	}

	// It comes back.
	pg.up()
	waitStatus(t, e.base+"/readyz", http.StatusOK)
	var want []string
	for i := range 5 {
		text := fmt.Sprintf("after-%d", i)
		e.say("alice", "bob", text)
		want = append(want, text)
	}
	bob.expectMessages(want)

	// Only the listener is cut off, and cannot come back: what is sent
	// meanwhile (through the pool's open connections) is in the outbox.
	pg.down("parley-listen")
	pg.waitGone("parley-listen")
	want = nil
	for i := range 5 {
		text := fmt.Sprintf("gap-%d", i)
		deadline := time.Now().Add(10 * time.Second)
		for {
			res := e.call("POST", "/v3/messages", map[string]any{"receiver": "bob", "receiverType": "user", "data": map[string]any{"text": text}}, as("alice"))
			if res.Status == 200 {
				break
			}
			// A request that needed a new connection meets the refusal:
			// a clean 503, and the client tries again.
			if res.Status != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("send during the listener's outage: %d %s", res.Status, res.Raw)
			}
			time.Sleep(20 * time.Millisecond) // a client's retry; bounded by the deadline
		}
		want = append(want, text)
	}
	if n := pg.sessions("parley-listen"); n != 0 {
		t.Fatalf("the listener came back while connections were refused (%d)", n)
	}
	pg.up()
	for i := range 3 {
		text := fmt.Sprintf("late-%d", i)
		e.say("alice", "bob", text)
		want = append(want, text)
	}
	bob.expectMessages(want)
	waitStatus(t, e.base+"/readyz", http.StatusOK)
	// Presence outlived the outage: bob is still connected.
	if st, _ := e.userStatus("bob"); st != "available" {
		t.Errorf("bob is %s after the outage", st)
	}
}

// get503Dashboard fetches the dashboard's login page and returns its
// status.
func get503Dashboard(t *testing.T, e *env) int {
	t.Helper()
	code, _ := get(t, e.base+"/login")
	return code
}

// expectMessages reads message frames until it has seen every text of
// want, in that order; other messages fail the test.
func (w *ws) expectMessages(want []string) {
	w.t.Helper()
	for _, text := range want {
		f := w.nextOf("message")
		if got := str(f.Data, "data.text"); got != text {
			b, _ := json.Marshal(f.Data)
			w.t.Fatalf("message %q, want %q (%s)", got, text, b)
		}
	}
}

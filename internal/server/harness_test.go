package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parley/internal/config"
	"parley/internal/store/storetest"
)

// env is a running server and the first app's credentials.
type env struct {
	t       *testing.T
	srv     *Server
	base    string
	appID   string
	restKey string
	authKey string
}

// start runs a real server on 127.0.0.1:0 with a fresh database of the
// engine under test (SQLite, or PostgreSQL with PARLEY_TEST_ENGINE=postgres:
// see storetest). It stops when the test ends.
func start(t *testing.T) *env {
	t.Helper()
	return startWith(t, nil, Options{})
}

// startWith is start with the configuration changed by edit and options.
func startWith(t *testing.T, edit func(*config.Serve), opt Options) *env {
	t.Helper()
	e, _ := startOn(t, storetest.URL(t, storetest.Engine(t)), edit, opt)
	return e
}

// startOn starts a server on the database db (which several servers may
// share, as the nodes of a cluster). stop shuts it down (once; the test's
// end does it otherwise). A server that is not the first on db has no
// FirstApp: its env has no credentials (copy them from the first).
func startOn(t *testing.T, db string, edit func(*config.Serve), opt Options) (e *env, stop func()) {
	t.Helper()
	cfg := config.Serve{Addr: "127.0.0.1:0", DB: db}
	if edit != nil {
		edit(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv, err := OpenWith(t.Context(), cfg, log, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server shutdown: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	e = &env{t: t, srv: srv, base: "http://" + srv.Addr()}
	if srv.FirstApp != nil {
		e.appID, e.restKey, e.authKey = srv.FirstApp.App.ID, srv.FirstApp.RESTAPIKey, srv.FirstApp.AuthKey
	}
	return e, stop
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// resp is a decoded API answer.
type resp struct {
	Status int
	Body   map[string]any
	Raw    []byte
}

// Data returns body.data as an object.
func (r resp) Data() map[string]any {
	d, _ := r.Body["data"].(map[string]any)
	return d
}

// List returns body.data as a list of objects.
func (r resp) List() []map[string]any {
	raw, _ := r.Body["data"].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, x := range raw {
		m, _ := x.(map[string]any)
		out = append(out, m)
	}
	return out
}

// Code returns body.error.code, or "".
func (r resp) Code() string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// Meta returns body.meta.
func (r resp) Meta() map[string]any {
	m, _ := r.Body["meta"].(map[string]any)
	return m
}

// hdr is a set of request headers.
type hdr map[string]string

// call sends a request with the REST key (unless headers override apiKey)
// and decodes the JSON answer. body may be a string (sent as is) or any
// value (encoded as JSON).
func (e *env) call(method, path string, body any, h hdr) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("appId", e.appID)
	req.Header.Set("apiKey", e.restKey)
	req.Header.Set("Content-Type", "application/json")
	// Deletions first, then sets: two spellings of one header ("apiKey":
	// "" and "apikey": key) must not depend on the map's order.
	for k, v := range h {
		if v == "" && k != "Host" {
			req.Header.Del(k)
		}
	}
	for k, v := range h {
		if k == "Host" {
			req.Host = v
			continue
		}
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	out := resp{Status: res.StatusCode, Raw: raw}
	if err := json.Unmarshal(raw, &out.Body); err != nil {
		e.t.Fatalf("%s %s: answer is not a JSON object: %v: %s", method, path, err, raw)
	}
	return out
}

// must is call that fails the test unless the status is 200.
func (e *env) must(method, path string, body any, h hdr) resp {
	e.t.Helper()
	r := e.call(method, path, body, h)
	if r.Status != http.StatusOK {
		e.t.Fatalf("%s %s: status %d, want 200: %s", method, path, r.Status, r.Raw)
	}
	return r
}

// fails is call that checks an error status and code.
func (e *env) fails(status int, code, method, path string, body any, h hdr) resp {
	e.t.Helper()
	r := e.call(method, path, body, h)
	if r.Status != status || r.Code() != code {
		e.t.Fatalf("%s %s: got %d %q, want %d %q: %s", method, path, r.Status, r.Code(), status, code, r.Raw)
	}
	return r
}

// user creates a user and returns its auth token.
func (e *env) user(uid string) string {
	e.t.Helper()
	r := e.must("POST", "/v3/users", map[string]any{"uid": uid, "name": strings.ToUpper(uid[:1]) + uid[1:], "withAuthToken": true}, nil)
	tok, _ := r.Data()["authToken"].(string)
	if tok == "" {
		e.t.Fatalf("no auth token for %s: %s", uid, r.Raw)
	}
	return tok
}

// users creates users and returns their auth tokens by uid.
func (e *env) users(uids ...string) map[string]string {
	e.t.Helper()
	tokens := make(map[string]string, len(uids))
	for _, uid := range uids {
		tokens[uid] = e.user(uid)
	}
	return tokens
}

// say sends a text message as from to a user.
func (e *env) say(from, to, text string) resp {
	e.t.Helper()
	return e.must("POST", "/v3/messages", map[string]any{"receiver": to, "receiverType": "user", "data": map[string]any{"text": text}}, as(from))
}

// poll GETs path until cond holds of the answer's data, and returns that
// data; it fails the test after within. It is for state the server reaches
// asynchronously (presence, deliveries), which no frame announces.
func (e *env) poll(path string, within time.Duration, cond func(map[string]any) bool) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := e.must("GET", path, nil, nil)
		if cond(r.Data()) {
			return r.Data()
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("GET %s never reached the expected state within %v: %s", path, within, r.Raw)
		}
		time.Sleep(20 * time.Millisecond) // polling asynchronous progress; bounded by the deadline
	}
}

// as returns headers acting on behalf of uid.
func as(uid string) hdr { return hdr{"onBehalfOf": uid} }

// ws is a test WebSocket client.
type ws struct {
	t    *testing.T
	conn *websocket.Conn
}

// dial opens the real-time connection of a user.
func (e *env) dial(token string) *ws {
	e.t.Helper()
	return e.dialQuery(token, "")
}

// dialPresence opens a real-time connection subscribed to the presence of
// the app's users.
func (e *env) dialPresence(token string) *ws {
	e.t.Helper()
	return e.dialQuery(token, "&presence=all")
}

// dialQuery is dial with more query parameters.
func (e *env) dialQuery(token, query string) *ws {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(e.base, "http") + "/v3/ws?appId=" + e.appID + "&authToken=" + token + query
	c, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(1 << 20)
	w := &ws{t: e.t, conn: c}
	e.t.Cleanup(func() { c.Close(websocket.StatusNormalClosure, "") })
	if f := w.next(); f.Type != "connected" {
		e.t.Fatalf("first frame %q, want connected", f.Type)
	}
	return w
}

// frame is a decoded server frame.
type frame struct {
	Type string         `json:"type"`
	ID   string         `json:"id"`
	Data map[string]any `json:"data"`
	Err  map[string]any `json:"error"`
}

// next reads one frame, failing after 5 s.
func (w *ws) next() frame {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := w.conn.Read(ctx)
	if err != nil {
		w.t.Fatalf("websocket read: %v", err)
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		w.t.Fatalf("frame %s: %v", b, err)
	}
	return f
}

// nextOf reads frames until one of type typ arrives.
func (w *ws) nextOf(typ string) frame {
	w.t.Helper()
	for {
		if f := w.next(); f.Type == typ {
			return f
		}
	}
}

// noneBefore reads frames up to the "message" frame whose text is marker and
// fails if a frame of type typ comes first. It checks that an action told
// w's user nothing of that type: after the action, have someone send the
// user the marker. Use cases publish before they answer and a connection
// gets its frames in the order they were published, so a frame the action
// published would arrive before the marker.
func (w *ws) noneBefore(typ, marker string) {
	w.t.Helper()
	for {
		f := w.next()
		if f.Type == "message" && str(f.Data, "data.text") == marker {
			return
		}
		if f.Type == typ {
			w.t.Fatalf("unexpected %q frame before the marker: %v", typ, f.Data)
		}
	}
}

// send writes a client frame.
func (w *ws) send(v any) {
	w.t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.conn.Write(ctx, websocket.MessageText, b); err != nil {
		w.t.Fatalf("websocket write: %v", err)
	}
}

// str reads a string at a dotted path of a decoded JSON object.
func str(m map[string]any, path string) string {
	v := dig(m, path)
	s, _ := v.(string)
	return s
}

// dig follows a dotted path through nested objects.
func dig(m map[string]any, path string) any {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[k]
	}
	return cur
}

package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"parley/internal/config"
	"parley/internal/dispatch"
	"parley/internal/webhook"

	"parley/internal/chat"
)

// botReq is one request a fake bot received, with the status it got.
type botReq struct {
	Header  http.Header
	Body    []byte
	Payload map[string]any
	At      time.Time
	Status  int
}

// answer is how a fake bot answers one request.
type answer struct {
	Status int
	Body   string
	Header map[string]string
	Delay  time.Duration // wait before answering (bounded by the test's end)
}

// fakeBot is a recording bot endpoint on loopback that can be told to
// fail, stall or answer slowly.
type fakeBot struct {
	t    *testing.T
	srv  *httptest.Server
	got  chan botReq
	done chan struct{}

	mu          sync.Mutex
	reqs        []botReq
	answer      func(r botReq, n int) answer
	inFlight    int // requests being answered now
	maxInFlight int // the most requests ever answered at once
}

func newFakeBot(t *testing.T) *fakeBot {
	t.Helper()
	b := &fakeBot{t: t, got: make(chan botReq, 10000), done: make(chan struct{}),
		answer: func(botReq, int) answer { return answer{Status: 200} }}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(func() { close(b.done); b.srv.CloseClientConnections(); b.srv.Close() })
	return b
}

func (b *fakeBot) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := botReq{Header: r.Header.Clone(), Body: body, At: time.Now()}
	_ = json.Unmarshal(body, &req.Payload)
	b.mu.Lock()
	b.reqs = append(b.reqs, req)
	n := len(b.reqs)
	fn := b.answer
	b.inFlight++
	b.maxInFlight = max(b.maxInFlight, b.inFlight)
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.inFlight--
		b.mu.Unlock()
	}()
	a := fn(req, n)
	if a.Delay > 0 {
		select {
		case <-time.After(a.Delay):
		case <-b.done:
		case <-r.Context().Done():
		}
	}
	for k, v := range a.Header {
		w.Header().Set(k, v)
	}
	if a.Status == 0 {
		a.Status = 200
	}
	w.WriteHeader(a.Status)
	io.WriteString(w, a.Body) //nolint:errcheck
	req.Status = a.Status
	b.got <- req
}

// set changes how the bot answers from now on; n counts every request.
func (b *fakeBot) set(fn func(r botReq, n int) answer) {
	b.mu.Lock()
	b.answer = fn
	b.mu.Unlock()
}

func (b *fakeBot) url() string { return b.srv.URL + "/hook" }

// next waits for the next answered request.
func (b *fakeBot) next() botReq {
	b.t.Helper()
	select {
	case r := <-b.got:
		return r
	case <-time.After(10 * time.Second):
		b.t.Fatal("the bot endpoint received nothing within 10 s")
		return botReq{}
	}
}

// none checks that no request is answered within d.
func (b *fakeBot) none(d time.Duration) {
	b.t.Helper()
	select {
	case r := <-b.got:
		b.t.Fatalf("unexpected callback: %s", r.Body)
	case <-time.After(d):
	}
}

// peak is the most requests the bot was answering at once.
func (b *fakeBot) peak() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.maxInFlight
}

func (b *fakeBot) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.reqs)
}

// fastDelivery shortens the engine's timings so that retry, failing and
// probe tests run in seconds.
func fastDelivery() Options {
	return Options{Dispatch: dispatch.Config{
		Timeout: 2 * time.Second,
		Retry:   webhook.Policy{Base: 50 * time.Millisecond, Cap: 200 * time.Millisecond, MaxAge: time.Minute},
		Health:  chat.HealthPolicy{FailingAfter: 4, ProbeMin: 300 * time.Millisecond, ProbeMax: time.Second},
		Poll:    50 * time.Millisecond,
	}}
}

// startBots starts a server whose bots may call loopback endpoints.
func startBots(t *testing.T) *env {
	t.Helper()
	return startWith(t, func(c *config.Serve) { c.WebhookAllow = "127.0.0.0/8" }, fastDelivery())
}

// startBotsWithoutPoll is startBots with an engine that never polls: a
// delivery the engine is not woken for never goes out.
func startBotsWithoutPoll(t *testing.T) *env {
	t.Helper()
	opt := fastDelivery()
	opt.Dispatch.Poll = time.Hour
	return startWith(t, func(c *config.Serve) { c.WebhookAllow = "127.0.0.0/8" }, opt)
}

// bot creates a user and an enabled bot for it pointing at fb, and
// returns the signing secret.
func (e *env) bot(uid string, fb *fakeBot, extra map[string]any) string {
	e.t.Helper()
	e.must("POST", "/v3/users", map[string]any{"uid": uid, "name": "Bot " + uid}, nil)
	body := map[string]any{"uid": uid, "webhookURL": fb.url(), "enabled": true}
	for k, v := range extra {
		body[k] = v
	}
	r := e.must("POST", "/v3/bots", body, nil)
	secret := str(r.Data(), "signingSecret")
	if secret == "" {
		e.t.Fatalf("no signing secret at creation: %s", r.Raw)
	}
	return secret
}

// waitDelivery polls a bot's delivery until cond holds, for up to 10 s.
func (e *env) waitDelivery(bot string, id string, cond func(map[string]any) bool) map[string]any {
	e.t.Helper()
	return e.poll("/v3/bots/"+bot+"/deliveries/"+id, 10*time.Second, cond)
}

// waitBot polls GET /v3/bots/{uid} until cond holds, for up to 10 s.
func (e *env) waitBot(uid string, cond func(map[string]any) bool) map[string]any {
	e.t.Helper()
	return e.poll("/v3/bots/"+uid, 10*time.Second, cond)
}

// deliveries lists a bot's deliveries, newest first.
func (e *env) deliveries(bot, query string) []map[string]any {
	e.t.Helper()
	return e.must("GET", "/v3/bots/"+bot+"/deliveries"+query, nil, nil).List()
}

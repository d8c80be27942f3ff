package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// waitTimeout bounds every wait in these tests. It is generous because the
// race detector on a loaded machine is slow; passing tests never wait it out.
const waitTimeout = 10 * time.Second

// harness is a hub behind an httptest server whose handler takes the app and
// user from the query string, as the API layer would after authenticating.
type harness struct {
	t        *testing.T
	hub      *Hub
	srv      *httptest.Server
	returned chan struct{} // one value each time an Accept call's connection has ended (or it did not upgrade)
}

func newHarness(t *testing.T, cfg Config, sender Sender, presence Presence) *harness {
	t.Helper()
	if cfg.PingInterval == 0 {
		cfg.PingInterval = time.Hour // tests that do not test pings keep them out of the way
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := &harness{
		t:        t,
		hub:      New(cfg, sender, presence, logger),
		returned: make(chan struct{}, 1000),
	}
	h.hub.afterLeave = func() { h.returned <- struct{}{} }
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		// A value the API layer might attach (a request id); the hub must
		// pass request values on to the Sender.
		r = r.WithContext(context.WithValue(r.Context(), requestKey{}, "req-"+q.Get("uid")))
		if q.Has("presence") {
			h.hub.AcceptWith(w, r, q.Get("app"), q.Get("uid"), true)
		} else {
			h.hub.Accept(w, r, q.Get("app"), q.Get("uid"))
		}
	}))
	// Cleanups run last-registered first: clients close (dial registers
	// theirs later), then the hub shuts down, then the server closes.
	t.Cleanup(h.srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := h.hub.Shutdown(ctx); err != nil {
			t.Errorf("cleanup: Shutdown: %v", err)
		}
	})
	return h
}

func (h *harness) url(app, uid string) string {
	q := url.Values{"app": {app}, "uid": {uid}}
	return "ws" + strings.TrimPrefix(h.srv.URL, "http") + "/?" + q.Encode()
}

// dialPresence is dial for a client subscribed to the app's presence.
func (h *harness) dialPresence(app, uid string) *client {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), waitTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, h.url(app, uid)+"&presence", nil)
	if err != nil {
		h.t.Fatalf("dial %s/%s: %v", app, uid, err)
	}
	ws.SetReadLimit(-1)
	h.t.Cleanup(func() { _ = ws.CloseNow() })
	c := &client{t: h.t, ws: ws}
	if f := c.next(); f.Type != "connected" {
		h.t.Fatalf("first frame type = %q, want connected", f.Type)
	}
	return c
}

// dial connects as app/uid and consumes the connected frame.
func (h *harness) dial(app, uid string) *client {
	h.t.Helper()
	c := h.dialNoHello(app, uid, nil)
	f := c.next()
	if f.Type != "connected" {
		h.t.Fatalf("first frame type = %q, want connected", f.Type)
	}
	return c
}

func (h *harness) dialNoHello(app, uid string, opts *websocket.DialOptions) *client {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), waitTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, h.url(app, uid), opts)
	if err != nil {
		h.t.Fatalf("dial %s/%s: %v", app, uid, err)
	}
	ws.SetReadLimit(-1)
	h.t.Cleanup(func() { _ = ws.CloseNow() })
	return &client{t: h.t, ws: ws}
}

// waitReturned waits until the connections of n more Accept calls have
// ended (an Accept call that did not upgrade counts at once).
func (h *harness) waitReturned(n int) {
	h.t.Helper()
	deadline := time.After(waitTimeout)
	for range n {
		select {
		case <-h.returned:
		case <-deadline:
			h.t.Fatalf("connection did not end within %v", waitTimeout)
		}
	}
}

// queued returns how many frames wait in the queues of app/uid's
// connections.
func (h *harness) queued(app, uid string) int {
	h.hub.mu.RLock()
	defer h.hub.mu.RUnlock()
	n := 0
	if u := h.hub.apps[app][uid]; u != nil {
		for _, c := range u.conns {
			c.mu.Lock()
			n += len(c.queue)
			c.mu.Unlock()
		}
	}
	return n
}

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

type requestKey struct{}

type client struct {
	t  *testing.T
	ws *websocket.Conn
}

// testFrame is any frame the server sends, decoded loosely.
type testFrame struct {
	Type  string          `json:"type"`
	ID    string          `json:"id"`
	Data  json.RawMessage `json:"data"`
	Error *frameError     `json:"error"`
	raw   []byte
}

// next reads one frame. A read that fails or times out fails the test.
func (c *client) next() testFrame {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), waitTimeout)
	defer cancel()
	typ, b, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageText {
		c.t.Fatalf("frame type = %v, want text", typ)
	}
	var f testFrame
	if err := json.Unmarshal(b, &f); err != nil {
		c.t.Fatalf("server frame %q is not JSON: %v", b, err)
	}
	f.raw = b
	return f
}

// send writes a text frame.
func (c *client) send(frame string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), waitTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// closeError reads until the connection ends and returns the close frame the
// server sent; it fails the test when the connection ended without one. It
// also returns how many data frames came before.
func (c *client) closeError() (websocket.CloseError, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), waitTimeout)
	defer cancel()
	n := 0
	for {
		_, _, err := c.ws.Read(ctx)
		if err == nil {
			n++
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("connection ended without a close frame after %d frames: %v", n, err)
		}
		return ce, n
	}
}

// senderFunc adapts a function to Sender.
type senderFunc func(ctx context.Context, appID, uid string, body json.RawMessage) (any, error)

func (f senderFunc) SendFromSocket(ctx context.Context, appID, uid string, body json.RawMessage) (any, error) {
	return f(ctx, appID, uid, body)
}

type presenceEvent struct {
	appID, uid string
	online     bool
	at         time.Time
}

// presenceRecorder records presence reports in order. While failing is
// set, it records nothing and answers an error (an unreachable store).
type presenceRecorder struct {
	mu      sync.Mutex
	events  []presenceEvent
	ch      chan presenceEvent
	failing bool
	failed  int // reports answered with an error
}

func newPresenceRecorder() *presenceRecorder {
	return &presenceRecorder{ch: make(chan presenceEvent, 10000)}
}

func (p *presenceRecorder) SetPresence(ctx context.Context, appID, uid string, online bool, at time.Time) error {
	e := presenceEvent{appID, uid, online, at}
	p.mu.Lock()
	if p.failing {
		p.failed++
		p.mu.Unlock()
		return errors.New("store unreachable")
	}
	p.events = append(p.events, e)
	p.mu.Unlock()
	p.ch <- e
	return nil
}

func (p *presenceRecorder) setFailing(f bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failing = f
}

func (p *presenceRecorder) failures() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}

func (p *presenceRecorder) all() []presenceEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]presenceEvent(nil), p.events...)
}

func (p *presenceRecorder) next(t *testing.T) presenceEvent {
	t.Helper()
	select {
	case e := <-p.ch:
		return e
	case <-time.After(waitTimeout):
		t.Fatalf("no presence report within %v", waitTimeout)
		return presenceEvent{}
	}
}

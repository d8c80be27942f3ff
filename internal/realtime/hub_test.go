package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parley/internal/chat"
)

func TestConnectedFrameFirst(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, nil, nil)

	c := h.dialNoHello("app1", "alice", nil)
	f := c.next()
	if got, want := string(f.raw), `{"type":"connected","data":{"uid":"alice","appId":"app1"}}`; got != want {
		t.Fatalf("first frame = %s, want %s", got, want)
	}
	if conns, users := h.hub.Stats(); conns != 1 || users != 1 {
		t.Errorf("Stats = %d conns, %d users; want 1, 1", conns, users)
	}
	if !h.hub.Online("app1", "alice") {
		t.Error("Online(app1, alice) = false, want true")
	}
	if h.hub.Online("app2", "alice") {
		t.Error("Online(app2, alice) = true for another app")
	}
}

func TestPublishRouting(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, nil, nil)

	alice := []*client{h.dial("app1", "alice"), h.dial("app1", "alice"), h.dial("app1", "alice")}
	bob := h.dial("app1", "bob")
	otherApp := h.dial("app2", "alice")
	if conns, users := h.hub.Stats(); conns != 5 || users != 3 {
		t.Fatalf("Stats = %d conns, %d users; want 5, 3", conns, users)
	}

	forAlice := mustEncode(t, "message", map[string]string{"text": "for alice"})
	h.hub.Publish("app1", []string{"alice"}, forAlice)
	for i, c := range alice {
		if f := c.next(); !bytes.Equal(f.raw, forAlice) {
			t.Errorf("alice conn %d got %s, want %s", i, f.raw, forAlice)
		}
	}

	// Frames reach a connection in publish order, so if bob or alice of app2
	// had wrongly got forAlice, it would arrive before these markers.
	forBob := mustEncode(t, "message", map[string]string{"text": "for bob"})
	forOtherApp := mustEncode(t, "message", map[string]string{"text": "for app2 alice"})
	h.hub.Publish("app1", []string{"bob"}, forBob)
	h.hub.Publish("app2", []string{"alice"}, forOtherApp)
	if f := bob.next(); !bytes.Equal(f.raw, forBob) {
		t.Errorf("bob got %s, want %s", f.raw, forBob)
	}
	if f := otherApp.next(); !bytes.Equal(f.raw, forOtherApp) {
		t.Errorf("app2 alice got %s, want %s", f.raw, forOtherApp)
	}

	// One publish to several users, including one without connections.
	group := mustEncode(t, "group_member_action", map[string]string{"action": "joined"})
	h.hub.Publish("app1", []string{"alice", "nobody", "bob"}, group)
	for i, c := range append(alice, bob) {
		if f := c.next(); !bytes.Equal(f.raw, group) {
			t.Errorf("conn %d got %s, want %s", i, f.raw, group)
		}
	}
}

func TestClientMessageAck(t *testing.T) {
	t.Parallel()
	type call struct {
		appID, uid, body string
		requestValue     any
	}
	calls := make(chan call, 1)
	sender := senderFunc(func(ctx context.Context, appID, uid string, body json.RawMessage) (any, error) {
		calls <- call{appID, uid, string(body), ctx.Value(requestKey{})}
		return map[string]any{"id": "m1", "text": "hi"}, nil
	})
	h := newHarness(t, Config{}, sender, nil)
	c := h.dial("app1", "alice")

	c.send(`{"type":"message","id":"c-17","data":{"receiver":"bob","receiverType":"user","data":{"text":"hi"}}}`)
	f := c.next()
	if f.Type != "ack" || f.ID != "c-17" {
		t.Fatalf("reply = %s, want an ack with id c-17", f.raw)
	}
	if got, want := string(f.Data), `{"id":"m1","text":"hi"}`; got != want {
		t.Errorf("ack data = %s, want %s", got, want)
	}
	got := <-calls
	want := call{"app1", "alice", `{"receiver":"bob","receiverType":"user","data":{"text":"hi"}}`, "req-alice"}
	if got != want {
		t.Errorf("Sender called with %+v, want %+v", got, want)
	}
}

func TestSenderErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		err         error
		wantCode    string
		wantMessage string
	}{
		{
			name:        "chat error",
			err:         fmt.Errorf("app: send: %w", chat.Errorf(chat.KindForbidden, "ERR_NOT_A_MEMBER", "You are not a member of the group.")),
			wantCode:    "ERR_NOT_A_MEMBER",
			wantMessage: "You are not a member of the group.",
		},
		{
			name:        "internal error",
			err:         errors.New("store: insert message: connection refused to 10.0.0.7"),
			wantCode:    "ERR_MISSION_FAILED",
			wantMessage: "internal error",
		},
		{
			name:        "chat error of kind internal",
			err:         &chat.Error{Kind: chat.KindInternal, Code: "ERR_DB", Message: "database is locked at 10.0.0.7"},
			wantCode:    "ERR_MISSION_FAILED",
			wantMessage: "internal error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sender := senderFunc(func(context.Context, string, string, json.RawMessage) (any, error) {
				return nil, tt.err
			})
			h := newHarness(t, Config{}, sender, nil)
			c := h.dial("app1", "alice")

			c.send(`{"type":"message","id":"c1","data":{"text":"hi"}}`)
			f := c.next()
			if f.Type != "error" || f.ID != "c1" || f.Error == nil {
				t.Fatalf("reply = %s, want an error frame with id c1", f.raw)
			}
			if f.Error.Code != tt.wantCode || f.Error.Message != tt.wantMessage {
				t.Errorf("error = %q %q, want %q %q", f.Error.Code, f.Error.Message, tt.wantCode, tt.wantMessage)
			}
			if bytes.Contains(f.raw, []byte("10.0.0.7")) {
				t.Errorf("error frame leaks internal text: %s", f.raw)
			}
		})
	}
}

func TestSenderValidationDetails(t *testing.T) {
	t.Parallel()
	sender := senderFunc(func(context.Context, string, string, json.RawMessage) (any, error) {
		return nil, chat.Invalid("receiver", "The receiver field is required.")
	})
	h := newHarness(t, Config{}, sender, nil)
	c := h.dial("app1", "alice")

	c.send(`{"type":"message","id":"c1","data":{}}`)
	f := c.next()
	want := `{"type":"error","id":"c1","error":{"code":"ERR_BAD_REQUEST","message":"Failed to validate the data sent with the request.","details":{"receiver":["The receiver field is required."]}}}`
	if string(f.raw) != want {
		t.Errorf("reply = %s, want %s", f.raw, want)
	}
}

func TestMalformedFramesKeepConnection(t *testing.T) {
	t.Parallel()
	var sent atomic.Int32
	sender := senderFunc(func(context.Context, string, string, json.RawMessage) (any, error) {
		sent.Add(1)
		return "ok", nil
	})
	h := newHarness(t, Config{}, sender, nil)
	c := h.dial("app1", "alice")

	tests := []struct {
		frame  string
		wantID string
	}{
		{frame: `not json`},
		{frame: `{"type":"message","id":"x1"`},
		{frame: `[1,2]`},
		{frame: `null`},
		{frame: `{"type":7}`},
		{frame: `{"id":"x2"}`, wantID: "x2"},
		{frame: `{"type":"subscribe","id":"x3"}`, wantID: "x3"},
		{frame: `{"type":"message","id":"x4"}`, wantID: "x4"},
		{frame: `{"type":"message","id":"x5","data":"hi"}`, wantID: "x5"},
		{frame: `{"type":"message","id":"x6","data":null}`, wantID: "x6"},
	}
	for i, tt := range tests {
		c.send(tt.frame)
		f := c.next()
		if f.Type != "error" || f.Error == nil || f.Error.Code != "ERR_BAD_REQUEST" || f.ID != tt.wantID {
			t.Errorf("frame %q: reply = %s, want an ERR_BAD_REQUEST error with id %q", tt.frame, f.raw, tt.wantID)
		}
		// The connection is still usable.
		id := fmt.Sprintf("p%d", i)
		c.send(`{"type":"ping","id":"` + id + `"}`)
		if f := c.next(); string(f.raw) != `{"type":"pong","id":"`+id+`"}` {
			t.Fatalf("after %q: ping reply = %s, want pong %s", tt.frame, f.raw, id)
		}
	}
	if n := sent.Load(); n != 0 {
		t.Errorf("Sender called %d times for malformed frames", n)
	}
}

func TestAppPing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, nil, nil)
	c := h.dial("app1", "alice")

	c.send(`{"type":"ping","id":"42"}`)
	if f := c.next(); string(f.raw) != `{"type":"pong","id":"42"}` {
		t.Errorf("reply = %s, want {\"type\":\"pong\",\"id\":\"42\"}", f.raw)
	}
	c.send(`{"type":"ping"}`)
	if f := c.next(); string(f.raw) != `{"type":"pong"}` {
		t.Errorf("reply = %s, want {\"type\":\"pong\"}", f.raw)
	}
}

func TestSlowConsumerClosed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{SendBuffer: 4}, nil, nil)
	slow := h.dial("app1", "slow")
	healthy := h.dial("app1", "healthy")

	big := mustEncode(t, "message", strings.Repeat("x", 256<<10))
	// The slow client reads nothing from here on. Its socket buffers fill,
	// its writer blocks, its queue fills, and then it must be dropped. The
	// healthy client gets a frame for every round meanwhile.
	published := 0
	for round := 0; h.hub.Online("app1", "slow"); round++ {
		if round > 2000 {
			t.Fatalf("slow consumer still online after %d frames of %d bytes", round, len(big))
		}
		h.hub.Publish("app1", []string{"slow"}, big)
		published++
		small := mustEncode(t, "message", round)
		h.hub.Publish("app1", []string{"healthy"}, small)
		if f := healthy.next(); !bytes.Equal(f.raw, small) {
			t.Fatalf("round %d: healthy client got %.80s, want %s", round, f.raw, small)
		}
	}
	if conns, users := h.hub.Stats(); conns != 1 || users != 1 {
		t.Errorf("after dropping the slow consumer: Stats = %d conns, %d users; want 1, 1", conns, users)
	}

	after := mustEncode(t, "message", "after")
	h.hub.Publish("app1", []string{"healthy", "slow"}, after)
	if f := healthy.next(); !bytes.Equal(f.raw, after) {
		t.Errorf("healthy client got %s after the drop, want %s", f.raw, after)
	}

	// The slow client now reads: what was already written, then the close.
	ce, n := slow.closeError()
	if ce.Code != websocket.StatusPolicyViolation || ce.Reason != "slow consumer" {
		t.Errorf("slow client closed with %v %q, want 1008 \"slow consumer\"", ce.Code, ce.Reason)
	}
	if n >= published {
		t.Errorf("slow client got %d of %d frames; the queue should have been dropped", n, published)
	}
	t.Logf("slow consumer dropped after %d frames of %d bytes; it had received %d", published, len(big), n)
	h.waitReturned(1)
}

func TestPresence(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := newPresenceRecorder()
	h := newHarness(t, Config{Now: func() time.Time { return at }}, nil, p)

	first := h.dial("app1", "alice")
	if e := p.next(t); e != (presenceEvent{"app1", "alice", true, at}) {
		t.Fatalf("presence = %+v, want alice online at %v", e, at)
	}
	second := h.dial("app1", "alice")

	if err := first.ws.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("close first: %v", err)
	}
	h.waitReturned(1)
	if !h.hub.Online("app1", "alice") {
		t.Error("alice offline while her second connection is open")
	}

	if err := second.ws.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("close second: %v", err)
	}
	if e := p.next(t); e != (presenceEvent{"app1", "alice", false, at}) {
		t.Fatalf("presence = %+v, want alice offline", e)
	}
	h.waitReturned(1)
	if h.hub.Online("app1", "alice") {
		t.Error("Online(alice) = true after her last connection closed")
	}
	// Both connections have ended, so every report has been made.
	if got := p.all(); len(got) != 2 {
		t.Errorf("presence reports = %+v, want exactly online then offline", got)
	}
	if conns, users := h.hub.Stats(); conns != 0 || users != 0 {
		t.Errorf("Stats = %d, %d; want 0, 0", conns, users)
	}
}

// TestPublishApp: a frame for an app reaches every connection of that
// app subscribed to presence, and none of another app or unsubscribed.
func TestPublishApp(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, nil, nil)
	a1, a2 := h.dialPresence("app1", "alice"), h.dialPresence("app1", "alice")
	b := h.dialPresence("app1", "bob")
	quiet := h.dial("app1", "bob")
	other := h.dialPresence("app2", "alice")
	h.hub.PublishApp("app1", []byte(`{"type":"presence","data":1}`))
	h.hub.Publish("app2", []string{"alice"}, []byte(`{"type":"marker","data":null}`))
	h.hub.Publish("app1", []string{"bob"}, []byte(`{"type":"marker","data":null}`))
	for name, c := range map[string]*client{"alice 1": a1, "alice 2": a2, "bob": b} {
		if f := c.next(); f.Type != "presence" {
			t.Errorf("%s got %q, want the app's frame", name, f.Type)
		}
	}
	if f := other.next(); f.Type != "marker" {
		t.Errorf("a user of another app got %q before the marker", f.Type)
	}
	if f := quiet.next(); f.Type != "marker" {
		t.Errorf("a connection not subscribed to presence got %q before the marker", f.Type)
	}
}

// TestPresenceRetry: reports that fail (the store is unreachable) are made
// again by RetryPresence with the state at that time, and a user whose
// offline report failed stays pending until one succeeds.
func TestPresenceRetry(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := newPresenceRecorder()
	h := newHarness(t, Config{Now: func() time.Time { return at }}, nil, p)

	p.setFailing(true)
	alice := h.dial("app1", "alice")
	if p.failures() != 1 || len(p.all()) != 0 {
		t.Fatalf("failures %d, reports %v; want one failed report", p.failures(), p.all())
	}
	if n := h.hub.RetryPresence(); n != 1 {
		t.Fatalf("pending after a failed retry = %d, want 1", n)
	}
	p.setFailing(false)
	if n := h.hub.RetryPresence(); n != 0 {
		t.Fatalf("pending after a retry = %d, want 0", n)
	}
	if e := p.next(t); e != (presenceEvent{"app1", "alice", true, at}) {
		t.Fatalf("retried report %+v", e)
	}
	// Nothing left to retry: no second report.
	h.hub.RetryPresence()

	// The offline report fails: the entry stays until a retry succeeds.
	p.setFailing(true)
	alice.ws.Close(websocket.StatusNormalClosure, "")
	h.waitReturned(1)
	if h.hub.Online("app1", "alice") {
		t.Error("alice online after her connection closed")
	}
	p.setFailing(false)
	if n := h.hub.RetryPresence(); n != 0 {
		t.Fatalf("pending = %d after the offline retry", n)
	}
	if e := p.next(t); e != (presenceEvent{"app1", "alice", false, at}) {
		t.Fatalf("retried offline report %+v", e)
	}
	if got := p.all(); len(got) != 2 {
		t.Fatalf("reports %+v, want online then offline", got)
	}
	h.hub.mu.RLock()
	left := len(h.hub.apps) + len(h.hub.pending)
	h.hub.mu.RUnlock()
	if left != 0 {
		t.Errorf("%d registry entries left", left)
	}

	// A user who comes back before the failed offline report is retried
	// is reported nothing: the state told is the state now.
	p.setFailing(true)
	bob := h.dial("app1", "bob")
	p.setFailing(false)
	h.hub.RetryPresence()
	p.next(t) // bob online
	p.setFailing(true)
	bob.ws.Close(websocket.StatusNormalClosure, "")
	h.waitReturned(1)
	p.setFailing(false)
	h.dial("app1", "bob")
	if n := h.hub.RetryPresence(); n != 0 {
		t.Fatalf("pending = %d", n)
	}
	if got := p.all(); len(got) != 3 {
		t.Fatalf("reports %+v: bob's failed offline report was made although he is back", got)
	}
}

// TestReannounce: every user with a live connection is reported online
// again, whatever was reported before; users gone are not.
func TestReannounce(t *testing.T) {
	t.Parallel()
	p := newPresenceRecorder()
	h := newHarness(t, Config{}, nil, p)
	h.dial("app1", "alice")
	h.dial("app1", "alice")
	h.dial("app2", "bob")
	carol := h.dial("app1", "carol")
	for range 3 {
		p.next(t)
	}
	carol.ws.Close(websocket.StatusNormalClosure, "")
	if e := p.next(t); e.uid != "carol" || e.online {
		t.Fatalf("report %+v, want carol offline", e)
	}
	h.waitReturned(1)
	before := len(p.all())
	h.hub.Reannounce(t.Context())
	got := p.all()[before:]
	seen := map[string]bool{}
	for _, e := range got {
		if !e.online {
			t.Errorf("reannounce reported %+v", e)
		}
		seen[e.appID+"/"+e.uid] = true
	}
	if len(got) != 2 || !seen["app1/alice"] || !seen["app2/bob"] {
		t.Fatalf("reannounced %+v, want alice and bob once each", got)
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	p := newPresenceRecorder()
	h := newHarness(t, Config{}, nil, p)
	a := h.dial("app1", "alice")
	b := h.dial("app1", "bob")
	p.next(t)
	p.next(t)

	type result struct {
		ce  websocket.CloseError
		err error
	}
	results := make(chan result, 2)
	var wg sync.WaitGroup
	for _, c := range []*client{a, b} {
		wg.Go(func() {
			// Read so that the close handshake can complete.
			_, _, err := c.ws.Read(context.Background())
			var ce websocket.CloseError
			errors.As(err, &ce)
			results <- result{ce, err}
		})
	}
	defer wg.Wait()

	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	if err := h.hub.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Shutdown has waited for both connections.
	h.hub.mu.RLock()
	active := h.hub.active
	h.hub.mu.RUnlock()
	if active != 0 {
		t.Errorf("%d connections still running after Shutdown returned", active)
	}
	for range 2 {
		r := <-results
		if r.ce.Code != websocket.StatusGoingAway {
			t.Errorf("client closed with %v, want 1001 going away", r.err)
		}
	}
	if conns, users := h.hub.Stats(); conns != 0 || users != 0 {
		t.Errorf("Stats after Shutdown = %d, %d; want 0, 0", conns, users)
	}
	offline := map[string]bool{}
	for range 2 {
		e := p.next(t)
		offline[e.uid] = !e.online
	}
	if !offline["alice"] || !offline["bob"] {
		t.Errorf("offline reports after Shutdown = %v, want alice and bob", offline)
	}

	// New connections are refused.
	dctx, dcancel := context.WithTimeout(t.Context(), waitTimeout)
	defer dcancel()
	_, resp, err := websocket.Dial(dctx, h.url("app1", "carol"), nil)
	if err == nil {
		t.Fatal("dial after Shutdown succeeded")
	}
	if resp == nil || resp.StatusCode != 503 {
		t.Errorf("dial after Shutdown: %v, want a 503 response", err)
	}
}

func TestShutdownDeadlineCancelsSender(t *testing.T) {
	t.Parallel()
	called := make(chan struct{})
	cancelled := make(chan error, 1)
	sender := senderFunc(func(ctx context.Context, _, _ string, _ json.RawMessage) (any, error) {
		close(called)
		<-ctx.Done() // a Sender stuck until its context ends
		cancelled <- ctx.Err()
		return nil, ctx.Err()
	})
	h := newHarness(t, Config{}, sender, nil)
	c := h.dial("app1", "alice")
	frames := readInBackground(t, c)

	c.send(`{"type":"message","id":"m1","data":{}}`)
	select {
	case <-called:
	case <-time.After(waitTimeout):
		t.Fatal("Sender not called")
	}

	// The close handshake completes, but the connection cannot end while
	// the Sender blocks; when the deadline passes Shutdown cancels it.
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := h.hub.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want a deadline error", err)
	}
	select {
	case err := <-cancelled:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Sender context ended with %v, want Canceled", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Sender context not cancelled by the Shutdown deadline")
	}
	h.waitReturned(1)
	for f := range frames {
		if f.Type == "ack" || f.Type == "error" {
			t.Errorf("got a reply %s after the close", f.raw)
		}
	}
}

// TestFailedSocketCancelsSender has the client vanish while its Sender call
// blocks: the next ping fails on the dead socket, and the call's context
// must be cancelled.
func TestFailedSocketCancelsSender(t *testing.T) {
	t.Parallel()
	called := make(chan struct{})
	cancelled := make(chan error, 1)
	sender := senderFunc(func(ctx context.Context, _, _ string, _ json.RawMessage) (any, error) {
		close(called)
		<-ctx.Done()
		cancelled <- ctx.Err()
		return nil, ctx.Err()
	})
	h := newHarness(t, Config{PingInterval: 10 * time.Millisecond, PongTimeout: 50 * time.Millisecond}, sender, nil)
	c := h.dial("app1", "alice")
	c.send(`{"type":"message","id":"m1","data":{}}`)
	select {
	case <-called:
	case <-time.After(waitTimeout):
		t.Fatal("Sender not called")
	}
	_ = c.ws.CloseNow()
	select {
	case err := <-cancelled:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Sender context ended with %v, want Canceled", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Sender context not cancelled after the socket failed")
	}
	h.waitReturned(1)
}

func TestPlainHTTPRequestRejected(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, nil, nil)
	resp, err := h.srv.Client().Get(h.srv.URL + "/?app=app1&uid=alice")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("status = %d, want 426", resp.StatusCode)
	}
	h.waitReturned(1)
	if conns, users := h.hub.Stats(); conns != 0 || users != 0 {
		t.Errorf("Stats = %d, %d; want 0, 0", conns, users)
	}
}

func TestOversizeFrameCloses(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{ReadLimit: 1024}, nil, nil)
	c := h.dial("app1", "alice")

	// At the limit is fine.
	fits := `{"type":"ping","id":"` + strings.Repeat("a", 1024-len(`{"type":"ping","id":""}`)) + `"}`
	c.send(fits)
	if f := c.next(); f.Type != "pong" {
		t.Fatalf("reply to a frame at the limit = %.80s, want pong", f.raw)
	}

	c.send(`{"type":"ping","id":"` + strings.Repeat("a", 2048) + `"}`)
	ce, _ := c.closeError()
	if ce.Code != websocket.StatusMessageTooBig {
		t.Errorf("closed with %v, want 1009 message too big", ce.Code)
	}
	h.waitReturned(1)
	if conns, _ := h.hub.Stats(); conns != 0 {
		t.Errorf("Stats conns = %d after close, want 0", conns)
	}
}

func TestBinaryFrameCloses(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, nil, nil)
	c := h.dial("app1", "alice")

	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3}); err != nil {
		t.Fatalf("write: %v", err)
	}
	ce, _ := c.closeError()
	if ce.Code != websocket.StatusUnsupportedData {
		t.Errorf("closed with %v, want 1003 unsupported data", ce.Code)
	}
	h.waitReturned(1)
}

func TestMaxConnsPerUserClosesOldest(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{MaxConnsPerUser: 2}, nil, nil)
	oldest := h.dial("app1", "alice")
	mid := h.dial("app1", "alice")
	newest := h.dial("app1", "alice")

	ce, _ := oldest.closeError()
	if ce.Code != websocket.StatusPolicyViolation || ce.Reason != "too many connections" {
		t.Errorf("oldest closed with %v %q, want 1008 \"too many connections\"", ce.Code, ce.Reason)
	}
	if conns, users := h.hub.Stats(); conns != 2 || users != 1 {
		t.Errorf("Stats = %d, %d; want 2, 1", conns, users)
	}
	frame := mustEncode(t, "message", "hi")
	h.hub.Publish("app1", []string{"alice"}, frame)
	for _, c := range []*client{mid, newest} {
		if f := c.next(); !bytes.Equal(f.raw, frame) {
			t.Errorf("got %s, want %s", f.raw, frame)
		}
	}
	h.waitReturned(1)
}

func TestPingKeepsResponsiveAndDropsDeadPeer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{PingInterval: 20 * time.Millisecond, PongTimeout: 500 * time.Millisecond}, nil, nil)

	var pings atomic.Int32
	live := h.dialNoHello("app1", "live", &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool { pings.Add(1); return true },
	})
	frames := readInBackground(t, live)

	// dead never reads, so it never answers a ping.
	dead := h.dialNoHello("app1", "dead", nil)
	_ = dead

	waitFor(t, "the dead peer to be dropped", func() bool { return !h.hub.Online("app1", "dead") })
	h.waitReturned(1)
	waitFor(t, "three pings to the live client", func() bool { return pings.Load() >= 3 })
	if !h.hub.Online("app1", "live") {
		t.Fatal("the responsive client was dropped")
	}
	frame := mustEncode(t, "message", "still here")
	h.hub.Publish("app1", []string{"live"}, frame)
	if got := recv(t, frames); got.Type != "connected" {
		t.Errorf("first frame = %s, want connected", got.raw)
	}
	if got := recv(t, frames); !bytes.Equal(got.raw, frame) {
		t.Errorf("got %s, want %s", got.raw, frame)
	}
}

// TestStuckWriteTimesOut has a client that stops reading while its queue
// stays short: the writer blocks on the full socket, and WriteTimeout must
// end the connection (no slow-consumer close: the queue never fills).
func TestStuckWriteTimesOut(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{WriteTimeout: 100 * time.Millisecond, SendBuffer: 1000}, nil, nil)
	h.dial("app1", "stuck") // reads the connected frame, then nothing

	big := mustEncode(t, "message", strings.Repeat("x", 1<<20))
	for i := 0; h.hub.Online("app1", "stuck"); i++ {
		if i == 500 {
			t.Fatal("still online after 500 MiB: the write never timed out")
		}
		h.hub.Publish("app1", []string{"stuck"}, big)
		waitFor(t, "the writer to take the frame", func() bool { return h.queued("app1", "stuck") == 0 })
	}
	h.waitReturned(1)
}

// TestLibraryWritesAfterOurs checks that the write deadline of the hub's
// writes does not outlive them: the library's own answer to a client ping,
// written after the deadline of the last frame has passed, still goes out.
func TestLibraryWritesAfterOurs(t *testing.T) {
	t.Parallel()
	const timeout = 50 * time.Millisecond
	h := newHarness(t, Config{WriteTimeout: timeout}, nil, nil)
	c := h.dialNoHello("app1", "alice", nil)
	frames := readInBackground(t, c)
	if f := recv(t, frames); f.Type != "connected" {
		t.Fatalf("first frame = %s", f.raw)
	}
	written := time.Now()
	waitFor(t, "the deadline of the last write to pass", func() bool { return time.Since(written) > 3*timeout })
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	if err := c.ws.Ping(ctx); err != nil {
		t.Fatalf("ping the server: %v", err)
	}
	if !h.hub.Online("app1", "alice") {
		t.Error("connection dropped")
	}
}

func TestSlowSenderDoesNotFailPings(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	sender := senderFunc(func(ctx context.Context, _, _ string, _ json.RawMessage) (any, error) {
		select {
		case <-release:
			return "sent", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	h := newHarness(t, Config{PingInterval: 10 * time.Millisecond, PongTimeout: 200 * time.Millisecond}, sender, nil)

	var pings atomic.Int32
	c := h.dialNoHello("app1", "alice", &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool { pings.Add(1); return true },
	})
	frames := readInBackground(t, c)
	if f := recv(t, frames); f.Type != "connected" {
		t.Fatalf("first frame = %s", f.raw)
	}
	c.send(`{"type":"message","id":"m1","data":{}}`)

	// While the Sender blocks, the server's reader cannot read pongs. A ping
	// is sent only after the previous one was answered or timed out, so four
	// more pings mean at least two timeouts that must not close the
	// connection.
	start := pings.Load()
	waitFor(t, "pings while the sender blocks", func() bool { return pings.Load() >= start+4 })
	close(release)
	if f := recv(t, frames); f.Type != "ack" || f.ID != "m1" || string(f.Data) != `"sent"` {
		t.Fatalf("reply = %s, want ack m1", f.raw)
	}
}

// recv takes the next frame from readInBackground, failing the test when the
// connection ended or nothing came within waitTimeout.
func recv(t *testing.T, frames <-chan testFrame) testFrame {
	t.Helper()
	select {
	case f, ok := <-frames:
		if !ok {
			t.Fatal("connection ended")
		}
		return f
	case <-time.After(waitTimeout):
		t.Fatalf("no frame within %v", waitTimeout)
		return testFrame{}
	}
}

// TestChurn publishes from several goroutines while connections of one user
// open and close, then checks the registry counts and that presence reports
// alternate and end offline.
func TestChurn(t *testing.T) {
	t.Parallel()
	p := newPresenceRecorder()
	h := newHarness(t, Config{SendBuffer: 8}, nil, p)

	stop := make(chan struct{})
	var publishers sync.WaitGroup
	for i := range 4 {
		publishers.Go(func() {
			frame := []byte(fmt.Sprintf(`{"type":"message","data":%d}`, i))
			for {
				select {
				case <-stop:
					return
				default:
					h.hub.Publish("app1", []string{"alice", "bob"}, frame)
				}
			}
		})
	}
	const rounds = 20
	for range rounds {
		a := h.dialNoHello("app1", "alice", nil)
		b := h.dialNoHello("app1", "alice", nil)
		_ = a.ws.CloseNow()
		_ = b.ws.Close(websocket.StatusNormalClosure, "")
	}
	close(stop)
	publishers.Wait()
	h.waitReturned(2 * rounds)

	if conns, users := h.hub.Stats(); conns != 0 || users != 0 {
		t.Errorf("Stats = %d, %d; want 0, 0", conns, users)
	}
	events := p.all()
	if len(events) == 0 || len(events)%2 != 0 {
		t.Fatalf("presence reports = %d, want a positive even number", len(events))
	}
	for i, e := range events {
		if want := i%2 == 0; e.online != want || e.uid != "alice" {
			t.Fatalf("report %d = %+v, want alice online=%v", i, e, want)
		}
	}
	h.hub.mu.RLock()
	left := len(h.hub.apps) + len(h.hub.pending)
	h.hub.mu.RUnlock()
	if left != 0 {
		t.Errorf("%d registry entries left", left)
	}
}

// readInBackground reads frames into a channel until the connection ends;
// the test's cleanup closes the connection and waits for the goroutine.
func readInBackground(t *testing.T, c *client) <-chan testFrame {
	out := make(chan testFrame, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		for {
			_, b, err := c.ws.Read(context.Background())
			if err != nil {
				return
			}
			var f testFrame
			_ = json.Unmarshal(b, &f)
			f.raw = b
			select {
			case out <- f:
			default: // the test stopped caring
			}
		}
	}()
	t.Cleanup(func() {
		_ = c.ws.CloseNow()
		<-done
	})
	return out
}

func mustEncode(t *testing.T, typ string, data any) []byte {
	t.Helper()
	b, err := Encode(typ, data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestWebSocketDeliversMessagesToBothParties(t *testing.T) {
	t.Parallel()
	e := start(t)
	aliceTok, bobTok := e.user("alice"), e.user("bob")
	carolTok := e.user("carol")
	bob1, bob2 := e.dial(bobTok), e.dial(bobTok) // several connections per user
	alice := e.dial(aliceTok)
	carol := e.dial(carolTok)

	sent := e.must("POST", "/v3/messages", map[string]any{"receiver": "bob", "receiverType": "user", "data": map[string]any{"text": "hi bob"}}, as("alice"))
	id := str(sent.Data(), "id")
	for name, w := range map[string]*ws{"bob1": bob1, "bob2": bob2, "alice": alice} {
		f := w.nextOf("message")
		if str(f.Data, "id") != id || str(f.Data, "data.text") != "hi bob" || str(f.Data, "data.entities.sender.entity.uid") != "alice" {
			t.Fatalf("%s got %+v", name, f)
		}
	}
	// Carol is not part of the conversation: the next frame she gets is the
	// one sent to her later, not Alice's message to Bob.
	e.must("POST", "/v3/messages", map[string]any{"receiver": "carol", "receiverType": "user", "data": map[string]any{"text": "for carol"}}, as("alice"))
	if f := carol.nextOf("message"); str(f.Data, "data.text") != "for carol" {
		t.Fatalf("carol received %+v", f)
	}
}

func TestWebSocketPresence(t *testing.T) {
	t.Parallel()
	e := start(t)
	tok := e.user("alice")
	if r := e.must("GET", "/v3/users/alice", nil, nil); str(r.Data(), "status") != "offline" {
		t.Fatalf("before connecting: %s", r.Raw)
	}
	w := e.dial(tok)
	if r := e.must("GET", "/v3/users/alice", nil, nil); str(r.Data(), "status") != "available" {
		t.Fatalf("while connected: %s", r.Raw)
	}
	// lastActiveAt is recorded by the hub's presence report.
	e.waitUser("alice", func(u map[string]any) bool { return u["lastActiveAt"] != nil })
	w.conn.Close(websocket.StatusNormalClosure, "bye")
	e.waitUser("alice", func(u map[string]any) bool { return u["status"] == "offline" })
}

// TestWebSocketPresenceEvents: a user's first connection and the close of
// its last one are published as presence frames to every connection of
// the app, once each, with the lastActiveAt that REST then shows.
func TestWebSocketPresenceEvents(t *testing.T) {
	t.Parallel()
	e := start(t)
	tokens := e.users("alice", "carol")
	e.user("sys")
	carol := e.dialPresence(tokens["carol"])
	if f := carol.presenceOf("carol"); f.status != "available" {
		t.Fatalf("carol's own presence: %+v", f)
	}
	quiet := e.dial(tokens["carol"]) // not subscribed to presence
	a1 := e.dial(tokens["alice"])
	on := carol.presenceOf("alice")
	if on.status != "available" || on.lastActiveAt == 0 {
		t.Fatalf("presence frame %+v", on)
	}
	a2 := e.dial(tokens["alice"])
	a1.conn.Close(websocket.StatusNormalClosure, "")
	a2.conn.Close(websocket.StatusNormalClosure, "")
	off := carol.presenceOf("alice")
	if off.status != "offline" || off.lastActiveAt < on.lastActiveAt {
		t.Fatalf("presence frame %+v after %+v", off, on)
	}
	e.say("sys", "carol", "marker")
	if got := carol.presenceUntil("alice", "marker"); len(got) != 0 {
		t.Fatalf("more presence frames for alice: %v", got)
	}
	quiet.noneBefore("presence", "marker")
	// Only "all" is a presence subscription; anything else is refused
	// before the upgrade.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.base, "http")+"/v3/ws?appId="+e.appID+"&authToken="+tokens["alice"]+"&presence=friends", nil)
	if err == nil || res == nil || res.StatusCode != http.StatusBadRequest {
		t.Fatalf("presence=friends: %v %v", res, err)
	}
	u := e.must("GET", "/v3/users/alice", nil, nil).Data()
	if u["status"] != "offline" || int64(u["lastActiveAt"].(float64)) != off.lastActiveAt {
		t.Fatalf("user %v, want offline with lastActiveAt %d", u, off.lastActiveAt)
	}
}

// presenceFrame is the data of a presence frame.
type presenceFrame struct {
	status       string
	lastActiveAt int64
}

// presenceOf reads frames until a presence frame for uid arrives.
func (w *ws) presenceOf(uid string) presenceFrame {
	w.t.Helper()
	for {
		f := w.next()
		if f.Type == "presence" && str(f.Data, "uid") == uid {
			at, _ := f.Data["lastActiveAt"].(float64)
			return presenceFrame{str(f.Data, "status"), int64(at)}
		}
	}
}

// presenceUntil reads frames up to the message whose text is marker and
// returns the statuses of the presence frames for uid on the way.
func (w *ws) presenceUntil(uid, marker string) []string {
	w.t.Helper()
	var out []string
	for {
		f := w.next()
		if f.Type == "message" && str(f.Data, "data.text") == marker {
			return out
		}
		if f.Type == "presence" && str(f.Data, "uid") == uid {
			out = append(out, str(f.Data, "status"))
		}
	}
}

// waitUser polls GET /v3/users/{uid} until cond holds, for up to 5 s.
func (e *env) waitUser(uid string, cond func(map[string]any) bool) {
	e.t.Helper()
	e.poll("/v3/users/"+uid, 5*time.Second, cond)
}

func TestWebSocketClientSend(t *testing.T) {
	t.Parallel()
	e := start(t)
	aliceTok, bobTok := e.user("alice"), e.user("bob")
	alice, bob := e.dial(aliceTok), e.dial(bobTok)
	alice.send(map[string]any{"type": "message", "id": "c1", "data": map[string]any{"receiver": "bob", "receiverType": "user", "data": map[string]any{"text": "over the socket"}}})
	ack := alice.nextOf("ack")
	if ack.ID != "c1" || str(ack.Data, "data.text") != "over the socket" || str(ack.Data, "sender") != "alice" {
		t.Fatalf("ack %+v", ack)
	}
	if f := bob.nextOf("message"); str(f.Data, "id") != str(ack.Data, "id") {
		t.Fatalf("bob got %+v", f)
	}
	alice.send(map[string]any{"type": "message", "id": "c2", "data": map[string]any{"receiver": "nobody", "receiverType": "user", "data": map[string]any{"text": "x"}}})
	if f := alice.nextOf("error"); f.ID != "c2" || f.Err["code"] != "ERR_UID_NOT_FOUND" {
		t.Fatalf("error frame %+v", f)
	}
	// The message sent over the socket is stored like any other.
	stored := e.must("GET", "/v3/messages/"+str(ack.Data, "id"), nil, nil)
	if str(stored.Data(), "data.text") != "over the socket" || str(stored.Data(), "sender") != "alice" {
		t.Fatalf("stored message: %s", stored.Raw)
	}
}

func TestWebSocketAuthBeforeUpgrade(t *testing.T) {
	t.Parallel()
	e := start(t)
	tok := e.user("alice")
	wsBase := "ws" + strings.TrimPrefix(e.base, "http") + "/v3/ws"
	cases := []struct {
		name   string
		url    string
		header http.Header
		status int
	}{
		{"no app", wsBase + "?authToken=" + tok, nil, 401},
		{"unknown app", wsBase + "?appId=nope&authToken=" + tok, nil, 401},
		{"no token", wsBase + "?appId=" + e.appID, nil, 401},
		{"bad token", wsBase + "?appId=" + e.appID + "&authToken=alice_123", nil, 401},
	}
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, res, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{HTTPHeader: c.header})
		cancel()
		if err == nil || res == nil || res.StatusCode != c.status {
			code := 0
			if res != nil {
				code = res.StatusCode
			}
			t.Errorf("%s: err %v, status %d, want %d", c.name, err, code, c.status)
		}
	}
	// Headers work as well as query parameters.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsBase, &websocket.DialOptions{HTTPHeader: http.Header{"appId": {e.appID}, "authToken": {tok}}})
	if err != nil {
		t.Fatalf("header auth: %v", err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	// A deactivated user cannot connect.
	e.must("DELETE", "/v3/users/alice", nil, nil)
	if _, res, err := websocket.Dial(ctx, wsBase+"?appId="+e.appID+"&authToken="+tok, nil); err == nil || res == nil || res.StatusCode != 401 {
		t.Fatalf("deactivated user connected: %v", err)
	}
}

func TestWebSocketAppIsolation(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.user("alice")
	bobTok := e.user("bob")
	bob := e.dial(bobTok)
	other, err := e.srv.App.CreateApp(t.Context(), "Other", "us")
	if err != nil {
		t.Fatal(err)
	}
	o := hdr{"appId": other.App.ID, "apiKey": other.RESTAPIKey}
	for _, uid := range []string{"alice", "bob"} {
		e.must("POST", "/v3/users", map[string]any{"uid": uid, "name": uid}, o)
	}
	// Other app's alice writes to other app's bob: our bob sees nothing of it.
	e.must("POST", "/v3/messages", map[string]any{"receiver": "bob", "receiverType": "user", "data": map[string]any{"text": "other app"}}, hdr{"appId": other.App.ID, "apiKey": other.RESTAPIKey, "onBehalfOf": "alice"})
	e.must("POST", "/v3/messages", map[string]any{"receiver": "bob", "receiverType": "user", "data": map[string]any{"text": "this app"}}, as("alice"))
	if f := bob.nextOf("message"); str(f.Data, "data.text") != "this app" {
		t.Fatalf("bob received another app's message: %+v", f)
	}
}

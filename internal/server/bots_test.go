package server

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parley/internal/webhook"
)

func TestBotsAPI(t *testing.T) {
	t.Parallel()
	e := startWith(t, nil, fastDelivery())
	e.user("helper")
	e.fails(http.StatusNotFound, "ERR_UID_NOT_FOUND", "POST", "/v3/bots", map[string]any{"uid": "ghost", "webhookURL": "https://bots.example.org/h"}, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/bots", map[string]any{"uid": "helper", "webhookURL": "http://bots.example.org/h"}, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/bots", map[string]any{"uid": "helper", "webhookURL": "https://bots.example.org/" + strings.Repeat("a", 250)}, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/bots", map[string]any{"uid": "helper", "webhookURL": "not a url"}, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/bots", map[string]any{"uid": "helper", "webhookURL": "https://b.example.org/h", "groupChatSetting": "sometimes"}, nil)
	e.fails(http.StatusForbidden, "AUTH_ERR_NO_ACCESS", "POST", "/v3/bots", map[string]any{"uid": "helper", "webhookURL": "https://b.example.org/h"}, hdr{"apiKey": e.authKey})
	r := e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/bots", map[string]any{"uid": "helper", "webhookURL": "http://b.example.org/h"}, nil)
	if !strings.Contains(string(r.Raw), "webhookURL") {
		t.Fatalf("the error does not name the field: %s", r.Raw)
	}

	r = e.must("POST", "/v3/bots", map[string]any{"uid": "Helper", "webhookURL": "https://bots.example.org/h", "useBasicAuth": true, "username": "cc", "password": "s3cret"}, nil)
	d := r.Data()
	if d["uid"] != "helper" || d["groupChatSetting"] != "none" || d["enabled"] != nil || d["useBasicAuth"] != true || d["username"] != "cc" {
		t.Fatalf("created: %s", r.Raw)
	}
	if _, has := d["password"]; has || !strings.HasPrefix(str(d, "signingSecret"), "whsec_") {
		t.Fatalf("password must be write-only and the secret shown once: %s", r.Raw)
	}
	e.fails(http.StatusConflict, "ERR_BOT_ALREADY_EXISTS", "POST", "/v3/bots", map[string]any{"uid": "helper", "webhookURL": "https://bots.example.org/h"}, nil)
	r = e.must("GET", "/v3/bots/helper", nil, nil)
	if _, has := r.Data()["signingSecret"]; has || strings.Contains(string(r.Raw), "s3cret") {
		t.Fatalf("secret or password readable after creation: %s", r.Raw)
	}
	if str(r.Data(), "health.state") != "healthy" {
		t.Fatalf("health: %s", r.Raw)
	}
	r = e.must("PUT", "/v3/bots/helper", map[string]any{"groupChatSetting": "MENTIONEDMESSAGES", "enabled": true}, nil)
	if r.Data()["groupChatSetting"] != "mentionedMessages" || r.Data()["enabled"] != true || r.Data()["updatedAt"] == nil {
		t.Fatalf("updated: %s", r.Raw)
	}
	rot := e.must("POST", "/v3/bots/helper/secret", nil, nil)
	if s := str(rot.Data(), "signingSecret"); s == "" || s == str(d, "signingSecret") {
		t.Fatalf("rotation: %s", rot.Raw)
	}

	for _, uid := range []string{"bot-b", "bot-c"} {
		e.user(uid)
		e.must("POST", "/v3/bots", map[string]any{"uid": uid, "webhookURL": "https://bots.example.org/" + uid}, nil)
	}
	r = e.must("GET", "/v3/bots?searchKey=bot-&perPage=1", nil, nil)
	if len(r.List()) != 1 || r.List()[0]["uid"] != "bot-b" || dig(r.Meta(), "pagination.total") != 2.0 {
		t.Fatalf("list: %s", r.Raw)
	}
	e.must("DELETE", "/v3/bots/helper", nil, nil)
	e.fails(http.StatusNotFound, "ERR_BOT_NOT_FOUND", "GET", "/v3/bots/helper", nil, nil)
	e.must("GET", "/v3/users/helper", nil, nil) // the user stays
	e.fails(http.StatusNotFound, "ERR_BOT_NOT_FOUND", "POST", "/v3/bots/alice/messages", map[string]any{"receiver": "bot-b", "receiverType": "user", "data": map[string]any{"text": "x"}}, nil)
}

// TestBotSeedFlow is the headline flow: a human writes to a bot, the bot's
// endpoint gets a signed callback with Basic auth, answers 200 and replies
// through the API; the human sees the reply on the WebSocket.
func TestBotSeedFlow(t *testing.T) {
	t.Parallel()
	e := startBots(t)
	fb := newFakeBot(t)
	secret := e.bot("helpdesk", fb, map[string]any{"useBasicAuth": true, "username": "cc", "password": "s3cret"})
	aliceTok := e.user("alice")
	alice := e.dial(aliceTok)

	sent := e.say("alice", "helpdesk", "where is my order?")
	msgID := str(sent.Data(), "id")
	req := fb.next()

	p := req.Payload
	if p["trigger"] != "after_message" || p["appId"] != e.appID || p["region"] != "us" || p["chatAPIVersion"] != "3.0" || p["bot"] != "helpdesk" {
		t.Fatalf("payload top level: %s", req.Body)
	}
	if str(p, "data.id") != msgID || str(p, "data.data.text") != "where is my order?" || str(p, "data.sender") != "alice" ||
		str(p, "data.receiver") != "helpdesk" || str(p, "data.receiverType") != "user" || str(p, "data.conversationId") != "alice_user_helpdesk" {
		t.Fatalf("payload message: %s", req.Body)
	}
	if str(p, "data.data.entities.sender.entity.uid") != "alice" || str(p, "data.data.entities.receiver.entity.uid") != "helpdesk" ||
		str(p, "data.data.entities.receiver.entityType") != "user" || str(p, "origin.platform") != "API" {
		t.Fatalf("payload entities: %s", req.Body)
	}
	h := req.Header
	if h.Get("Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte("cc:s3cret")) {
		t.Fatalf("basic auth %q", h.Get("Authorization"))
	}
	if h.Get("Content-Type") != "application/json" || !strings.HasPrefix(h.Get("User-Agent"), "parley/") {
		t.Fatalf("headers %v", h)
	}
	ts, _ := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if !webhook.Verify([]string{secret}, h.Get("webhook-signature"), h.Get("webhook-id"), ts, req.Body) {
		t.Fatalf("signature %q does not verify", h.Get("webhook-signature"))
	}
	if h.Get("Parley-Attempt") != "1" || h.Get("Parley-Sequence") != "1" || h.Get("Parley-Bot") != "helpdesk" {
		t.Fatalf("parley headers %v", h)
	}

	// The bot answers through the REST API, as the bot (no onBehalfOf).
	e.must("POST", "/v3/bots/helpdesk/messages", map[string]any{"receiver": "alice", "receiverType": "USER", "category": "message", "type": "text", "data": map[string]any{"text": "on its way"}}, nil)
	for {
		f := alice.nextOf("message")
		if str(f.Data, "sender") == "helpdesk" {
			if str(f.Data, "data.text") != "on its way" {
				t.Fatalf("reply frame %+v", f)
			}
			break
		}
	}
	// The bot's own reply is not relayed back to it.
	fb.none(300 * time.Millisecond)

	ds := e.deliveries("helpdesk", "")
	if len(ds) != 1 || ds[0]["state"] != "succeeded" || ds[0]["attempts"] != 1.0 || ds[0]["webhookId"] != h.Get("webhook-id") {
		t.Fatalf("delivery log: %v", ds)
	}
	one := e.must("GET", fmt.Sprintf("/v3/bots/helpdesk/deliveries/%v", ds[0]["id"]), nil, nil).Data()
	log, _ := one["attemptLog"].([]any)
	if len(log) != 1 {
		t.Fatalf("attempts: %v", one)
	}
	a := log[0].(map[string]any)
	if a["statusCode"] != 200.0 || a["latencyMs"] == nil || dig(a, "requestHeaders.Authorization") == "Basic "+base64.StdEncoding.EncodeToString([]byte("cc:s3cret")) {
		t.Fatalf("attempt record (password must be masked): %v", a)
	}

	// One can also act as the bot user with an auth token.
	botTok := e.must("POST", "/v3/users/helpdesk/auth_tokens", nil, nil)
	w := e.dial(str(botTok.Data(), "authToken"))
	e.say("alice", "helpdesk", "anyone there?")
	if f := w.nextOf("message"); str(f.Data, "data.text") != "anyone there?" {
		t.Fatalf("bot's websocket: %+v", f)
	}
}

func TestDisabledBotReceivesNothing(t *testing.T) {
	t.Parallel()
	e := startBots(t)
	fb := newFakeBot(t)
	e.bot("quiet", fb, map[string]any{"enabled": false})
	e.user("alice")
	e.say("alice", "quiet", "hello?")
	fb.none(300 * time.Millisecond)
	if n := len(e.deliveries("quiet", "")); n != 0 {
		t.Fatalf("%d deliveries queued for a disabled bot", n)
	}
	e.must("PUT", "/v3/bots/quiet", map[string]any{"enabled": true}, nil)
	e.say("alice", "quiet", "now?")
	if r := fb.next(); str(r.Payload, "data.data.text") != "now?" {
		t.Fatalf("got %s", r.Body)
	}
	fb.none(200 * time.Millisecond) // the message sent while disabled is not sent later
}

func TestBotRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	e := startBots(t)
	fb := newFakeBot(t)
	fb.set(func(_ botReq, n int) answer {
		if n <= 2 {
			return answer{Status: 503, Body: "busy"}
		}
		return answer{Status: 200}
	})
	e.bot("flaky", fb, nil)
	e.user("alice")
	e.say("alice", "flaky", "hi")
	r1, r2, r3 := fb.next(), fb.next(), fb.next()
	id := r1.Header.Get("webhook-id")
	if r2.Header.Get("webhook-id") != id || r3.Header.Get("webhook-id") != id {
		t.Fatal("webhook-id changed between retries")
	}
	for i, r := range []botReq{r1, r2, r3} {
		if r.Header.Get("Parley-Attempt") != strconv.Itoa(i+1) {
			t.Fatalf("attempt header %q on attempt %d", r.Header.Get("Parley-Attempt"), i+1)
		}
	}
	if got := r2.Header.Get("Parley-Last-Failure"); got != "http_5xx (503)" {
		t.Fatalf("last failure header %q", got)
	}
	ds := e.deliveries("flaky", "")
	d := e.waitDelivery("flaky", fmt.Sprint(ds[0]["id"]), func(d map[string]any) bool { return d["state"] == "succeeded" })
	log := d["attemptLog"].([]any)
	if len(log) != 3 {
		t.Fatalf("%d attempts recorded", len(log))
	}
	first := log[0].(map[string]any)
	if first["statusCode"] != 503.0 || first["errorClass"] != "http_5xx" || first["responseBody"] != "busy" || first["nextAttemptAt"] == nil {
		t.Fatalf("first attempt %v", first)
	}
}

func TestBotPermanentFailuresAndGone(t *testing.T) {
	t.Parallel()
	e := startBots(t)
	fb := newFakeBot(t)
	fb.set(func(botReq, int) answer { return answer{Status: 400, Body: `{"error":"bad"}`} })
	e.bot("strict", fb, nil)
	e.user("alice")
	e.say("alice", "strict", "hi")
	fb.next()
	ds := e.deliveries("strict", "")
	d := e.waitDelivery("strict", fmt.Sprint(ds[0]["id"]), func(d map[string]any) bool { return d["state"] == "failed" })
	if d["attempts"] != 1.0 || d["lastErrorClass"] != "http_4xx" {
		t.Fatalf("a 400 is not retried: %v", d)
	}

	gone := newFakeBot(t)
	gone.set(func(botReq, int) answer { return answer{Status: 410} })
	e.bot("retired", gone, nil)
	e.say("alice", "retired", "hi")
	gone.next()
	b := e.waitBot("retired", func(b map[string]any) bool { return str(b, "health.state") == "disabled" })
	if b["enabled"] != nil {
		t.Fatalf("410 must disable the bot: %v", b)
	}
	e.say("alice", "retired", "again")
	gone.none(300 * time.Millisecond)
}

// TestBotFailingStateAndResume: a dead endpoint puts the bot in the
// failing state; when it comes back, the probe succeeds and every held
// message is delivered, in order.
func TestBotFailingStateAndResume(t *testing.T) {
	t.Parallel()
	e := startBots(t)
	fb := newFakeBot(t)
	fb.set(func(botReq, int) answer { return answer{Status: 500} })
	e.bot("sick", fb, nil)
	e.user("alice")
	e.say("alice", "sick", "m1")
	b := e.waitBot("sick", func(b map[string]any) bool { return str(b, "health.state") == "failing" })
	if !strings.Contains(str(b, "health.reason"), "http_5xx") || dig(b, "health.nextProbeAt") == nil {
		t.Fatalf("failing state: %v", b)
	}
	e.say("alice", "sick", "m2")
	e.say("alice", "sick", "m3")
	fb.set(func(botReq, int) answer { return answer{Status: 200} })
	e.waitBot("sick", func(b map[string]any) bool {
		return str(b, "health.state") == "healthy" && dig(b, "health.pendingDeliveries") == 0.0
	})
	// What the endpoint answered with 200, in order.
	var texts []string
	fb.mu.Lock()
	for _, r := range fb.reqs {
		texts = append(texts, str(r.Payload, "data.data.text"))
	}
	fb.mu.Unlock()
	last := texts[len(texts)-3:]
	if strings.Join(last, ",") != "m1,m2,m3" {
		t.Fatalf("delivered after resume: %v", texts)
	}
}

func TestBotReplayAndRetryOne(t *testing.T) {
	t.Parallel()
	e := startBots(t)
	fb := newFakeBot(t)
	fb.set(func(botReq, int) answer { return answer{Status: 422} })
	e.bot("picky", fb, nil)
	e.user("alice")
	since := time.Now().Unix() - 1
	e.say("alice", "picky", "one")
	e.say("alice", "picky", "two")
	fb.next()
	fb.next()
	for _, d := range e.deliveries("picky", "") {
		e.waitDelivery("picky", fmt.Sprint(d["id"]), func(d map[string]any) bool { return d["state"] == "failed" })
	}
	if n := len(e.deliveries("picky", "?state=failed")); n != 2 {
		t.Fatalf("%d failed deliveries", n)
	}
	fb.set(func(botReq, int) answer { return answer{Status: 200} })
	r := e.must("POST", "/v3/bots/picky/deliveries/replay", map[string]any{"state": "failed", "since": since}, nil)
	if r.Data()["requeued"] != 2.0 {
		t.Fatalf("replay: %s", r.Raw)
	}
	a, b := fb.next(), fb.next()
	if str(a.Payload, "data.data.text") != "one" || str(b.Payload, "data.data.text") != "two" {
		t.Fatalf("replayed %s then %s", a.Body, b.Body)
	}
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/bots/picky/deliveries/replay", map[string]any{"state": "failed"}, nil)

	// Retry one delivery that succeeded: sent again with the same webhook-id.
	ds := e.deliveries("picky", "")
	id := fmt.Sprint(ds[0]["id"])
	e.waitDelivery("picky", id, func(d map[string]any) bool { return d["state"] == "succeeded" })
	e.must("POST", "/v3/bots/picky/deliveries/"+id+"/retry", nil, nil)
	if again := fb.next(); again.Header.Get("webhook-id") != ds[0]["webhookId"] {
		t.Fatalf("retry changed the webhook-id")
	}
	e.fails(http.StatusNotFound, "ERR_DELIVERY_NOT_FOUND", "POST", "/v3/bots/picky/deliveries/999999/retry", nil, nil)
}

// TestBotOrderingPerConversation: while one conversation's delivery is
// retried, later messages of that conversation wait; another conversation
// proceeds. Alice's first message fails until Bob's message has arrived,
// so the test only ends if Bob's lane does not wait for Alice's.
func TestBotOrderingPerConversation(t *testing.T) {
	t.Parallel()
	e := startBots(t)
	fb := newFakeBot(t)
	var bobArrived atomic.Bool
	fb.set(func(r botReq, n int) answer {
		switch {
		case str(r.Payload, "data.sender") == "bob":
			bobArrived.Store(true)
		case str(r.Payload, "data.data.text") == "a1" && !bobArrived.Load():
			return answer{Status: 503}
		}
		return answer{Status: 200}
	})
	e.bot("orderly", fb, map[string]any{"maxInFlight": 4})
	e.user("alice")
	e.user("bob")
	for i := 1; i <= 5; i++ {
		e.say("alice", "orderly", fmt.Sprintf("a%d", i))
	}
	e.say("bob", "orderly", "b1")
	var alice []string // alice's texts in the order they were answered 200
	for len(alice) < 5 {
		r := fb.next()
		text := str(r.Payload, "data.data.text")
		if str(r.Payload, "data.sender") != "alice" {
			continue
		}
		if text == "a1" && r.Header.Get("Parley-Attempt") == "1" && len(alice) > 0 {
			t.Fatal("a1 first attempted after later messages")
		}
		if text != "a1" && len(alice) == 0 {
			t.Fatalf("%s delivered before a1 succeeded", text)
		}
		if text == "a1" && len(alice) == 0 && r.Status != http.StatusOK {
			continue
		}
		alice = append(alice, text)
	}
	if strings.Join(alice, ",") != "a1,a2,a3,a4,a5" {
		t.Fatalf("alice's lane out of order: %v", alice)
	}
}

// TestStalledBotDoesNotSlowOthers: one bot's endpoint never answers in
// time; a healthy bot's deliveries go on at full speed.
func TestStalledBotDoesNotSlowOthers(t *testing.T) {
	t.Parallel()
	e := startBots(t)
	stalled, healthy := newFakeBot(t), newFakeBot(t)
	stalled.set(func(botReq, int) answer { return answer{Delay: time.Minute} })
	e.bot("stuck", stalled, nil)
	e.bot("fast", healthy, nil)
	for i := range 20 {
		e.user(fmt.Sprintf("u%d", i))
	}
	// Fill the stalled bot's slots first.
	for i := range 20 {
		e.say(fmt.Sprintf("u%d", i), "stuck", "hello")
	}
	start := time.Now()
	for i := range 20 {
		e.say(fmt.Sprintf("u%d", i), "fast", "hello")
	}
	for range 20 {
		healthy.next()
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the healthy bot needed %v for 20 deliveries while another bot stalled", took)
	}
	if n := stalled.peak(); n > 16 || n == 0 {
		t.Fatalf("the stalled bot had at most %d requests in flight at once, want 1 to 16 (its cap)", n)
	}
}

// TestInlineReplyExactlyOnce: a bot answering {"reply": …} gets its reply
// posted once, even when the delivery is sent again.
func TestInlineReplyExactlyOnce(t *testing.T) {
	t.Parallel()
	e := startBots(t)
	fb := newFakeBot(t)
	fb.set(func(botReq, int) answer { return answer{Status: 200, Body: `{"reply": {"text": "pong"}}`} })
	e.bot("pinger", fb, nil)
	aliceTok := e.user("alice")
	alice := e.dial(aliceTok)
	e.say("alice", "pinger", "ping")
	alice.nextOf("message") // her own message
	if f := alice.nextOf("message"); str(f.Data, "sender") != "pinger" || str(f.Data, "data.text") != "pong" {
		t.Fatalf("inline reply: %+v", f)
	}
	d := e.deliveries("pinger", "")[0]
	id := fmt.Sprint(d["id"])
	first := e.waitDelivery("pinger", id, func(d map[string]any) bool { return d["replyMessageId"] != nil })
	e.must("POST", "/v3/bots/pinger/deliveries/"+id+"/retry", nil, nil)
	fb.next()
	fb.next()
	again := e.waitDelivery("pinger", id, func(d map[string]any) bool { return d["state"] == "succeeded" && d["attempts"] == 2.0 })
	if again["replyMessageId"] != first["replyMessageId"] {
		t.Fatalf("reply changed: %v then %v", first["replyMessageId"], again["replyMessageId"])
	}
	// The next message Alice sees is her marker, not a second "pong".
	e.user("bob")
	e.say("bob", "alice", "marker")
	if f := alice.nextOf("message"); str(f.Data, "data.text") != "marker" {
		t.Fatalf("a second reply was posted: %+v", f)
	}
}

// TestHopLimitStopsBotLoop: two bots that always answer each other stop
// after the hop limit.
func TestHopLimitStopsBotLoop(t *testing.T) {
	t.Parallel()
	e := startBots(t)
	a, b := newFakeBot(t), newFakeBot(t)
	echo := func(botReq, int) answer { return answer{Status: 200, Body: `{"reply": {"text": "again"}}`} }
	a.set(echo)
	b.set(echo)
	e.bot("bot-a", a, nil)
	e.bot("bot-b", b, nil)
	// bot-a starts (hop 1); bot-b answers (hop 2); bot-a answers (hop 3,
	// not relayed with the default limit of 3).
	e.must("POST", "/v3/bots/bot-a/messages", map[string]any{"receiver": "bot-b", "receiverType": "user", "data": map[string]any{"text": "hello"}}, nil)
	b.next()
	a.next()
	e.waitBot("bot-a", func(m map[string]any) bool { return dig(m, "health.pendingDeliveries") == 0.0 })
	e.waitBot("bot-b", func(m map[string]any) bool { return dig(m, "health.pendingDeliveries") == 0.0 })
	a.none(300 * time.Millisecond)
	b.none(0)
	if a.count() != 1 || b.count() != 1 {
		t.Fatalf("bot-a got %d callbacks, bot-b %d; want 1 each", a.count(), b.count())
	}
}

// TestSSRFRefusals: without an allow list, callbacks to loopback, private,
// link-local and metadata addresses are refused at connection time.
func TestSSRFRefusals(t *testing.T) {
	t.Parallel()
	e := startWith(t, nil, fastDelivery())
	fb := newFakeBot(t)
	port := fb.srv.URL[strings.LastIndex(fb.srv.URL, ":")+1:]
	e.user("alice")
	// Plain http to loopback is refused at creation without an allow list.
	e.user("b0")
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/bots", map[string]any{"uid": "b0", "webhookURL": fb.srv.URL}, nil)
	targets := map[string]string{
		"b1": "https://127.0.0.1:" + port + "/hook",
		"b2": "https://10.0.0.1/hook",
		"b3": "https://169.254.169.254/latest/meta-data",
		"b4": "https://[::1]:" + port + "/hook",
		"b5": "https://localhost:" + port + "/hook",
	}
	for uid, u := range targets {
		e.user(uid)
		e.must("POST", "/v3/bots", map[string]any{"uid": uid, "webhookURL": u, "enabled": true}, nil)
		e.say("alice", uid, "hi")
	}
	for uid := range targets {
		ds := e.deliveries(uid, "")
		d := e.waitDelivery(uid, fmt.Sprint(ds[0]["id"]), func(d map[string]any) bool { return d["state"] == "failed" })
		if d["lastErrorClass"] != "blocked_address" || d["attempts"] != 1.0 {
			t.Errorf("%s (%s): %v", uid, targets[uid], d)
		}
	}
	if n := fb.count(); n != 0 {
		t.Fatalf("the loopback endpoint received %d requests", n)
	}
}

func TestBotTestEvent(t *testing.T) {
	t.Parallel()
	e := startBots(t)
	fb := newFakeBot(t)
	secret := e.bot("tester", fb, map[string]any{"enabled": false})
	d := e.must("POST", "/v3/bots/tester/test", nil, nil)
	r := fb.next()
	if r.Payload["trigger"] != "test" || r.Payload["bot"] != "tester" {
		t.Fatalf("test event %s", r.Body)
	}
	ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
	if !webhook.Verify([]string{secret}, r.Header.Get("webhook-signature"), r.Header.Get("webhook-id"), ts, r.Body) {
		t.Fatal("test event not signed")
	}
	e.waitDelivery("tester", fmt.Sprint(d.Data()["id"]), func(d map[string]any) bool { return d["state"] == "succeeded" })
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := startBots(t)
	fb := newFakeBot(t)
	e.bot("counted", fb, nil)
	e.user("alice")
	e.say("alice", "counted", "hi")
	fb.next()
	e.waitBot("counted", func(b map[string]any) bool { return dig(b, "health.lastSuccessAt") != nil })
	res, err := http.Get(e.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, want := range []string{
		`parley_delivery_attempts_total{bot="counted",outcome="success"} 1`,
		`parley_delivery_attempt_duration_seconds_count{outcome="success"} 1`,
		`parley_deliveries_total{bot="counted",state="succeeded"} 1`,
		"parley_delivery_queue_depth 0",
		"parley_delivery_oldest_due_seconds 0",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestBotGroupSettings: in a group, each member bot receives what its
// groupChatSetting selects; a bot that is not a member receives nothing.
func TestBotGroupSettings(t *testing.T) {
	t.Parallel()
	e := startBots(t)
	bots := map[string]*fakeBot{}
	for uid, setting := range map[string]string{"b-all": "allMessages", "b-slash": "slashedMessages", "b-mention": "mentionedMessages", "b-none": "none", "b-outside": "allMessages"} {
		bots[uid] = newFakeBot(t)
		e.bot(uid, bots[uid], map[string]any{"groupChatSetting": setting})
	}
	e.user("alice")
	e.must("POST", "/v3/groups", map[string]any{"guid": "team", "name": "Team", "type": "private",
		"members": map[string]any{"participants": []string{"alice", "b-all", "b-slash", "b-mention", "b-none"}}}, nil)
	post := func(text string) {
		e.must("POST", "/v3/messages", map[string]any{"receiver": "team", "receiverType": "group", "data": map[string]any{"text": text}}, as("alice"))
	}
	post("hello everyone")
	post("  /deploy now")
	post("thanks <@uid:b-mention>")
	want := map[string][]string{
		"b-all":     {"hello everyone", "  /deploy now", "thanks <@uid:b-mention>"},
		"b-slash":   {"  /deploy now"},
		"b-mention": {"thanks <@uid:b-mention>"},
	}
	for uid, texts := range want {
		for _, text := range texts {
			r := bots[uid].next()
			if got := str(r.Payload, "data.data.text"); got != text {
				t.Fatalf("%s got %q, want %q", uid, got, text)
			}
			if str(r.Payload, "data.receiverType") != "group" || str(r.Payload, "data.receiver") != "team" ||
				str(r.Payload, "data.conversationId") != "group_team" || str(r.Payload, "data.data.entities.receiver.entityType") != "group" {
				t.Fatalf("group payload: %s", r.Body)
			}
		}
	}
	for _, uid := range []string{"b-all", "b-slash", "b-mention", "b-none", "b-outside"} {
		bots[uid].none(0)
	}
	bots["b-none"].none(200 * time.Millisecond)
	if bots["b-outside"].count() != 0 {
		t.Fatal("a bot outside the group received a group message")
	}
	// Membership actions are not relayed, and a bot's inline reply in the
	// group reaches the members.
	bots["b-all"].set(func(botReq, int) answer { return answer{Status: 200, Body: `{"reply": {"text": "on it"}}`} })
	aliceTok := e.must("POST", "/v3/users/alice/auth_tokens", nil, nil)
	w := e.dial(str(aliceTok.Data(), "authToken"))
	post("status?")
	bots["b-all"].next()
	for {
		f := w.nextOf("message")
		if str(f.Data, "sender") == "b-all" {
			if str(f.Data, "data.text") != "on it" || str(f.Data, "receiver") != "team" {
				t.Fatalf("group inline reply: %+v", f)
			}
			break
		}
	}
}

// TestMultipleReceiversFanOutToBots: one send to several receivers relays
// one message per receiver, each to its own bot.
func TestMultipleReceiversFanOutToBots(t *testing.T) {
	t.Parallel()
	e := startBots(t)
	one, two := newFakeBot(t), newFakeBot(t)
	e.bot("bot-one", one, nil)
	e.bot("bot-two", two, nil)
	e.user("alice")
	r := e.must("POST", "/v3/messages", map[string]any{"multipleReceivers": map[string]any{"uids": []string{"bot-one", "bot-two", "ghost"}},
		"data": map[string]any{"text": "to both"}}, as("alice"))
	if dig(r.Data(), "uids.bot-one.success") != true || dig(r.Data(), "uids.ghost.success") != false || str(r.Data(), "uids.ghost.error.code") != "ERR_UID_NOT_FOUND" {
		t.Fatalf("multiple receivers answer: %s", r.Raw)
	}
	a, b := one.next(), two.next()
	if str(a.Payload, "data.receiver") != "bot-one" || str(b.Payload, "data.receiver") != "bot-two" ||
		str(a.Payload, "data.id") == str(b.Payload, "data.id") {
		t.Fatalf("fan-out: %s / %s", a.Body, b.Body)
	}
}

// TestNoDeliveryWaitsForThePoll: with the engine's safety poll an hour
// away, every delivery still goes out as soon as it may: deliveries held
// back by the bot's cap of 2, by their lane's earlier delivery and by a
// retry go out when the slot, the lane or the retry time frees them, after
// the senders have stopped. A wake-up the engine misses shows as a
// delivery that never arrives.
func TestNoDeliveryWaitsForThePoll(t *testing.T) {
	t.Parallel()
	e := startBotsWithoutPoll(t)
	fb := newFakeBot(t)
	fb.set(func(r botReq, n int) answer {
		if str(r.Payload, "data.data.text") == "retry me" && r.Header.Get("Parley-Attempt") == "1" {
			return answer{Status: 503}
		}
		return answer{Status: 200, Delay: 20 * time.Millisecond}
	})
	e.bot("capped", fb, map[string]any{"maxInFlight": 2})
	const users, each = 8, 3
	for i := range users {
		e.user(fmt.Sprintf("u%d", i))
	}
	for i := range users {
		for j := range each {
			e.say(fmt.Sprintf("u%d", i), "capped", fmt.Sprintf("m%d", j))
		}
	}
	e.say("u0", "capped", "retry me")
	want := users*each + 2 // the retried message twice
	got := map[string]int{}
	for range want {
		r := fb.next() // fails after 10 s without a request
		got[str(r.Payload, "data.sender")+"/"+str(r.Payload, "data.data.text")]++
	}
	for i := range users {
		for j := range each {
			if key := fmt.Sprintf("u%d/m%d", i, j); got[key] != 1 {
				t.Fatalf("%s delivered %d times, want once: %v", key, got[key], got)
			}
		}
	}
	if got["u0/retry me"] != 2 {
		t.Fatalf("the retried message delivered %d times, want twice: %v", got["u0/retry me"], got)
	}
	if n := fb.peak(); n > 2 {
		t.Fatalf("%d requests in flight at once, the cap is 2", n)
	}
}

// TestBotChangesTakeEffectAtOnce: a change of a bot's endpoint, secret or
// state applies to the very next message (the engine caches bots'
// targets on a single node until a bot changes).
func TestBotChangesTakeEffectAtOnce(t *testing.T) {
	t.Parallel()
	e := startBots(t)
	first, second := newFakeBot(t), newFakeBot(t)
	secret := e.bot("switch", first, nil)
	e.user("alice")
	verifies := func(r botReq, secret string) bool {
		ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		return webhook.Verify([]string{secret}, r.Header.Get("webhook-signature"), r.Header.Get("webhook-id"), ts, r.Body)
	}

	e.say("alice", "switch", "one")
	if r := first.next(); str(r.Payload, "data.data.text") != "one" || !verifies(r, secret) {
		t.Fatalf("first callback: %s", r.Body)
	}
	e.must("PUT", "/v3/bots/switch", map[string]any{"webhookURL": second.url()}, nil)
	e.say("alice", "switch", "two")
	if r := second.next(); str(r.Payload, "data.data.text") != "two" {
		t.Fatalf("after the URL change: %s", r.Body)
	}
	first.none(100 * time.Millisecond)

	rotated := str(e.must("POST", "/v3/bots/switch/secret", nil, nil).Data(), "signingSecret")
	e.say("alice", "switch", "three")
	if r := second.next(); str(r.Payload, "data.data.text") != "three" || !verifies(r, rotated) {
		t.Fatalf("after the rotation, the callback is not signed with the new secret: %s %v", r.Body, r.Header)
	}

	e.must("PUT", "/v3/bots/switch", map[string]any{"enabled": false}, nil)
	e.say("alice", "switch", "four")
	second.none(300 * time.Millisecond)
	first.none(0)
}

// TestDeliveryUnderContention: bots with small caps, answers of varying
// speed and some retries, many conversations sending at once, and no poll
// to fall back on. Every message reaches its bot with exactly one success,
// in order per conversation, and no bot ever has more requests in flight
// than its cap. It drives every way the engine starts an attempt: the
// hand-over at commit, a bot's waiting list when it is at its cap, a lane
// passing to its next delivery, and rounds.
func TestDeliveryUnderContention(t *testing.T) {
	t.Parallel()
	e := startBotsWithoutPoll(t)
	const users, each = 12, 5
	caps := []int{1, 2, 3}
	bots := make([]*fakeBot, len(caps))
	for i, c := range caps {
		fb := newFakeBot(t)
		fb.set(func(r botReq, n int) answer {
			text := str(r.Payload, "data.data.text")
			if r.Header.Get("Parley-Attempt") == "1" && strings.HasSuffix(text, "/2") && n%2 == 0 {
				return answer{Status: 503} // retried
			}
			return answer{Status: 200, Delay: time.Duration(n%4) * time.Millisecond}
		})
		e.bot(fmt.Sprintf("busy%d", i), fb, map[string]any{"maxInFlight": c})
		bots[i] = fb
	}
	for u := range users {
		e.user(fmt.Sprintf("u%d", u))
	}
	var wg sync.WaitGroup
	for u := range users {
		wg.Go(func() {
			for m := range each {
				for b := range bots {
					r := e.call("POST", "/v3/messages", map[string]any{"receiver": fmt.Sprintf("busy%d", b), "receiverType": "user",
						"data": map[string]any{"text": fmt.Sprintf("u%d/%d", u, m)}}, as(fmt.Sprintf("u%d", u)))
					if r.Status != http.StatusOK {
						t.Errorf("send: %d %s", r.Status, r.Raw)
					}
				}
			}
		})
	}
	wg.Wait()
	for b, fb := range bots {
		succeeded := map[string]int{} // text → successes
		next := map[string]int{}      // user → next message expected to succeed
		for len(succeeded) < users*each {
			r := fb.next()
			if r.Status != http.StatusOK {
				continue
			}
			text := str(r.Payload, "data.data.text")
			succeeded[text]++
			if succeeded[text] > 1 {
				t.Fatalf("bot %d: %s succeeded twice", b, text)
			}
			var u, m int
			if _, err := fmt.Sscanf(text, "u%d/%d", &u, &m); err != nil {
				t.Fatalf("bot %d: unexpected text %q", b, text)
			}
			user := fmt.Sprintf("u%d", u)
			if m != next[user] {
				t.Fatalf("bot %d: %s succeeded while message %d of %s was next: out of order", b, text, next[user], user)
			}
			next[user]++
		}
		if peak := fb.peak(); peak > caps[b] {
			t.Fatalf("bot %d had %d requests in flight at once, its cap is %d", b, peak, caps[b])
		}
	}
}

// TestBotAtItsCapStartsTheNextAsASlotFrees: a bot with one slot and ten
// conversations; nothing but the bot's own freed slot can start the next
// delivery (no retries, no poll), so each must start as the one before it
// is answered.
func TestBotAtItsCapStartsTheNextAsASlotFrees(t *testing.T) {
	t.Parallel()
	e := startBotsWithoutPoll(t)
	fb := newFakeBot(t)
	fb.set(func(botReq, int) answer { return answer{Status: 200, Delay: 5 * time.Millisecond} })
	e.bot("single", fb, map[string]any{"maxInFlight": 1})
	const users = 10
	for u := range users {
		e.user(fmt.Sprintf("u%d", u))
	}
	for u := range users {
		e.say(fmt.Sprintf("u%d", u), "single", "hello")
	}
	seen := map[string]bool{}
	for range users {
		seen[str(fb.next().Payload, "data.sender")] = true
	}
	if len(seen) != users {
		t.Fatalf("%d conversations delivered, want %d: %v", len(seen), users, seen)
	}
	if n := fb.peak(); n != 1 {
		t.Fatalf("%d requests in flight at once, the cap is 1", n)
	}
}

// TestBotTimeoutLongerThanTheDefault: a bot's own timeoutSeconds holds
// above the server's default of 10 s (the delivery client once cut every
// attempt at 10 s, whatever the bot's setting).
func TestBotTimeoutLongerThanTheDefault(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits 10.5 s for a slow bot")
	}
	e := startBots(t)
	fb := newFakeBot(t)
	fb.set(func(botReq, int) answer { return answer{Status: 200, Delay: 10500 * time.Millisecond} })
	e.bot("patient", fb, map[string]any{"timeoutSeconds": 12})
	e.user("alice")
	e.say("alice", "patient", "take your time")
	deadline := time.Now().Add(20 * time.Second)
	for {
		ds := e.deliveries("patient", "")
		if len(ds) == 1 && ds[0]["state"] == "succeeded" && ds[0]["attempts"] == 1.0 {
			return
		}
		if len(ds) == 1 && ds[0]["attempts"] != 0.0 && ds[0]["state"] != "succeeded" {
			t.Fatalf("the slow answer within the bot's timeout failed: %v", ds[0])
		}
		if time.Now().After(deadline) {
			t.Fatalf("no success within 20 s: %v", ds)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

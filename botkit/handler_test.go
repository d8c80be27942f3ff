package botkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/internal/webhook"
)

// botServer serves a Handler whose function records callbacks and, when
// gate is not nil, waits for it to be closed (or for its context to end).
type botServer struct {
	srv     *httptest.Server
	h       *Handler
	secret  string
	gate    chan struct{}
	started chan string // message id of each call, as it starts

	mu      sync.Mutex
	calls   []string // message ids, in order of completion
	errs    []error
	ctxErrs []error
}

func newBotServer(t *testing.T, gated bool, fn func(ctx context.Context, cb *Callback) error) *botServer {
	t.Helper()
	b := &botServer{secret: webhook.NewSecret(), started: make(chan string, 100)}
	if gated {
		b.gate = make(chan struct{})
	}
	v := &Verifier{Secrets: []string{b.secret}}
	b.h = v.Handler(func(ctx context.Context, cb *Callback) error {
		b.started <- cb.Data.ID
		if b.gate != nil {
			select {
			case <-b.gate:
			case <-ctx.Done():
			}
		}
		b.mu.Lock()
		b.calls = append(b.calls, cb.Data.ID)
		b.ctxErrs = append(b.ctxErrs, ctx.Err())
		b.mu.Unlock()
		if fn != nil {
			return fn(ctx, cb)
		}
		return nil
	})
	b.h.OnError = func(cb *Callback, err error) {
		b.mu.Lock()
		b.errs = append(b.errs, err)
		b.mu.Unlock()
	}
	b.srv = httptest.NewServer(b.h)
	t.Cleanup(b.srv.Close)
	return b
}

// post sends a callback for message msgID with webhook-id whID, signed with
// the bot's secret, and returns the status and body of the answer.
func (b *botServer) post(t *testing.T, whID, msgID string) (int, string) {
	t.Helper()
	body := []byte(fmt.Sprintf(`{"trigger":"after_message","data":{"id":%q,"sender":"alice","receiverType":"user","receiver":"bot"},"bot":"bot"}`, msgID))
	ts := testNowReal()
	sig, err := webhook.Sign(b.secret, whID, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, b.srv.URL, strings.NewReader(string(body)))
	req.Header.Set("webhook-id", whID)
	req.Header.Set("webhook-timestamp", fmt.Sprint(ts))
	req.Header.Set("webhook-signature", sig)
	return do(t, req)
}

// testNowReal is the webhook-timestamp of requests to handlers that use the
// real clock.
func testNowReal() int64 { return time.Now().Unix() }

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(text))
}

func (b *botServer) snapshot() (calls []string, errs, ctxErrs []error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.calls...), append([]error(nil), b.errs...), append([]error(nil), b.ctxErrs...)
}

func TestHandlerAnswersBeforeTheFunctionRuns(t *testing.T) {
	t.Parallel()
	b := newBotServer(t, true, nil)
	// The function is blocked on the gate, yet the answer arrives.
	if status, text := b.post(t, "msg_a", "1"); status != http.StatusOK || text != "ok" {
		t.Fatalf("answer = %d %q, want 200 ok", status, text)
	}
	if id := <-b.started; id != "1" {
		t.Fatalf("started %q", id)
	}
	if calls, _, _ := b.snapshot(); len(calls) != 0 {
		t.Fatalf("the function finished before the gate opened: %v", calls)
	}
	close(b.gate)
	b.h.Wait()
	if calls, errs, _ := b.snapshot(); len(calls) != 1 || calls[0] != "1" || len(errs) != 0 {
		t.Errorf("calls %v, errors %v; want [1], none", calls, errs)
	}
}

func TestHandlerDropsDuplicates(t *testing.T) {
	t.Parallel()
	b := newBotServer(t, false, nil)
	for i, tc := range []struct{ whID, msgID, want string }{
		{"msg_a", "1", "ok"},
		{"msg_a", "1", "duplicate"}, // parley's retry after a lost 200
		{"msg_b", "2", "ok"},
		{"msg_a", "1", "duplicate"},
	} {
		if status, text := b.post(t, tc.whID, tc.msgID); status != http.StatusOK || text != tc.want {
			t.Errorf("post %d: %d %q, want 200 %q", i, status, text, tc.want)
		}
	}
	b.h.Wait()
	calls, _, _ := b.snapshot()
	if strings.Join(calls, ",") != "1,2" && strings.Join(calls, ",") != "2,1" {
		t.Errorf("calls = %v, want message 1 and 2 once each", calls)
	}
}

func TestRecentSetBound(t *testing.T) {
	t.Parallel()
	s := newRecentSet(3)
	for _, id := range []string{"a", "b", "c"} {
		if !s.add(id) {
			t.Fatalf("%s reported as duplicate", id)
		}
	}
	if s.add("a") || s.add("c") {
		t.Fatal("a remembered id is new")
	}
	if !s.add("d") { // evicts a, the oldest
		t.Fatal("d reported as duplicate")
	}
	if !s.add("a") { // a was forgotten; adding it evicts b
		t.Error("a is still remembered after 3 newer ids")
	}
	if s.add("c") || s.add("d") {
		t.Error("c or d forgotten too early")
	}
	if !s.add("b") {
		t.Error("b is still remembered")
	}
	if len(s.ids) != 3 || len(s.ring) != 3 {
		t.Errorf("set holds %d ids in a ring of %d, want 3 and 3", len(s.ids), len(s.ring))
	}
	long := strings.Repeat("x", maxIDBytes+1)
	if !s.add(long) || !s.add(long) || !s.add("") || !s.add("") {
		t.Error("empty or over-long ids are remembered")
	}
	zero := newRecentSet(0)
	if !zero.add("a") || !zero.add("a") {
		t.Error("a zero-size set remembers")
	}
}

func TestHandlerRejects(t *testing.T) {
	t.Parallel()
	secret := webhook.NewSecret()
	v := &Verifier{Secrets: []string{secret}, Username: "parley", Password: "pw"}
	called := make(chan struct{}, 10)
	h := v.Handler(func(context.Context, *Callback) error { called <- struct{}{}; return nil })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	misconfigured := httptest.NewServer((&Verifier{}).Handler(func(context.Context, *Callback) error { return nil }))
	t.Cleanup(misconfigured.Close)

	good := []byte(`{"trigger":"after_message","data":{"id":"9"}}`)
	request := func(url, method string, body []byte, user, pass, signWith string, tsOffset int64) *http.Request {
		req, _ := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(string(body)))
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		ts := testNowReal() + tsOffset
		sig, _ := webhook.Sign(signWith, "msg_x", ts, body)
		req.Header.Set("webhook-id", "msg_x")
		req.Header.Set("webhook-timestamp", fmt.Sprint(ts))
		req.Header.Set("webhook-signature", sig)
		return req
	}
	tests := []struct {
		name       string
		req        *http.Request
		wantStatus int
		wantText   string
	}{
		{"wrong password", request(srv.URL, "POST", good, "parley", "nope", secret, 0), 401, "unauthorized"},
		{"bad signature", request(srv.URL, "POST", good, "parley", "pw", webhook.NewSecret(), 0), 401, "bad signature"},
		{"stale", request(srv.URL, "POST", good, "parley", "pw", secret, -3600), 401, "stale timestamp"},
		{"bad payload", request(srv.URL, "POST", []byte(`{"data":[]}`), "parley", "pw", secret, 0), 400, "bad payload"},
		{"GET", request(srv.URL, "GET", nil, "parley", "pw", secret, 0), 405, "use POST"},
		{"misconfigured bot", request(misconfigured.URL, "POST", good, "", "", secret, 0), 500, "bot misconfigured"},
	}
	for _, tt := range tests {
		status, text := do(t, tt.req)
		if status != tt.wantStatus || text != tt.wantText {
			t.Errorf("%s: %d %q, want %d %q", tt.name, status, text, tt.wantStatus, tt.wantText)
		}
	}
	// A rejected request leaves no trace: the same webhook-id, now genuine,
	// is processed.
	if status, _ := do(t, request(srv.URL, "POST", good, "parley", "pw", secret, 0)); status != 200 {
		t.Fatalf("genuine request after rejections: %d", status)
	}
	h.Wait()
	if n := len(called); n != 1 {
		t.Errorf("function called %d times, want 1", n)
	}
}

func TestHandlerReportsErrorsAndPanics(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	b := newBotServer(t, false, func(_ context.Context, cb *Callback) error {
		if cb.Data.ID == "2" {
			panic("bad bot")
		}
		return boom
	})
	b.post(t, "msg_1", "1")
	b.post(t, "msg_2", "2")
	b.h.Wait()
	_, errs, _ := b.snapshot()
	if len(errs) != 2 {
		t.Fatalf("errors = %v, want 2", errs)
	}
	var sawBoom, sawPanic bool
	for _, err := range errs {
		sawBoom = sawBoom || errors.Is(err, boom)
		sawPanic = sawPanic || strings.Contains(err.Error(), "panicked: bad bot")
	}
	if !sawBoom || !sawPanic {
		t.Errorf("errors = %v, want boom and the panic", errs)
	}
}

func TestHandlerShutdownWaits(t *testing.T) {
	t.Parallel()
	b := newBotServer(t, true, nil)
	b.post(t, "msg_1", "1")
	<-b.started
	done := make(chan error, 1)
	go func() { done <- b.h.Shutdown(t.Context()) }()
	// New callbacks are refused once Shutdown has begun. Shutdown sets the
	// flag before it waits, so poll the answer, not the clock.
	for i := 2; ; i++ {
		status, text := b.post(t, fmt.Sprintf("msg_%d", i), fmt.Sprint(i))
		if status == http.StatusServiceUnavailable {
			break
		}
		if status != http.StatusOK || text != "ok" {
			t.Fatalf("during shutdown: %d %q", status, text)
		}
		<-b.started // accepted before the flag was set; it waits on the gate too
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a callback was running", err)
	default:
	}
	close(b.gate)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	_, _, ctxErrs := b.snapshot()
	for _, err := range ctxErrs {
		if err != nil {
			t.Errorf("a callback's context was cancelled (%v) although Shutdown had time", err)
		}
	}
}

func TestHandlerShutdownCancelsWhenOutOfTime(t *testing.T) {
	t.Parallel()
	b := newBotServer(t, true, nil) // the gate never opens
	b.post(t, "msg_1", "1")
	<-b.started
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := b.h.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want context.Canceled", err)
	}
	b.h.Wait() // returns because the callback's context was cancelled
	calls, _, ctxErrs := b.snapshot()
	if len(calls) != 1 || !errors.Is(ctxErrs[0], context.Canceled) {
		t.Errorf("calls %v, context errors %v; want one call that saw its context cancelled", calls, ctxErrs)
	}
	if status, _ := b.post(t, "msg_2", "2"); status != http.StatusServiceUnavailable {
		t.Errorf("after Shutdown: %d, want 503", status)
	}
}

func TestHandlerShutdownIdle(t *testing.T) {
	t.Parallel()
	h := (&Verifier{Insecure: true}).Handler(func(context.Context, *Callback) error { return nil })
	if err := h.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown of an idle handler = %v", err)
	}
	h.Wait() // returns at once
}

package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/internal/app"
	"parley/internal/chat"
	"parley/internal/config"
	"parley/internal/dispatch"
	"parley/internal/server"
	"parley/internal/store/storetest"
	"parley/internal/webhook"
)

// adminPassword is the dashboard password the tests set.
const adminPassword = "test-password-123"

// env is a running parley with its first app.
type env struct {
	t     *testing.T
	srv   *server.Server
	base  string
	appID string
	key   string
}

// start runs the real server on 127.0.0.1:0, bots allowed on loopback,
// with fast retries; it stops when the test ends.
func start(t *testing.T) *env {
	t.Helper()
	cfg := config.Serve{Addr: "127.0.0.1:0", DB: storetest.URL(t, storetest.Engine(t)), WebhookAllow: "127.0.0.0/8"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opt := server.Options{Dispatch: dispatch.Config{
		Timeout: 2 * time.Second,
		Retry:   webhook.Policy{Base: 50 * time.Millisecond, Cap: 200 * time.Millisecond, MaxAge: time.Minute},
		Health:  chat.HealthPolicy{FailingAfter: 4, ProbeMin: 300 * time.Millisecond, ProbeMax: time.Second},
		Poll:    50 * time.Millisecond,
	}, Admin: app.AdminConfig{HashMemoryKiB: 1024, HashPasses: 1}} // cheap hashes: these tests are about the flows
	srv, err := server.OpenWith(t.Context(), cfg, log, opt)
	if err != nil {
		t.Fatal(err)
	}
	if srv.FirstAdminPassword == "" {
		t.Fatal("the first start did not create the admin account")
	}
	if err := srv.Admins.SetAdminPassword(t.Context(), "admin", adminPassword); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server shutdown: %v", err)
		}
	})
	return &env{t: t, srv: srv, base: "http://" + srv.Addr(), appID: srv.FirstApp.App.ID, key: srv.FirstApp.RESTAPIKey}
}

// api calls the REST API with the first app's fullAccess key.
func (e *env) api(method, path, body string) map[string]any {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("appId", e.appID)
	req.Header.Set("apiKey", e.key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &out); err != nil || res.StatusCode != http.StatusOK {
		e.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	return out
}

// browserless is a cookie-keeping HTTP client that does not follow
// redirects, so tests see each answer.
type browserless struct {
	t    *testing.T
	e    *env
	c    *http.Client
	csrf string // the session's token, read from the last page
}

func (e *env) client() *browserless {
	jar, _ := cookiejar.New(nil)
	return &browserless{t: e.t, e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// page is one answer.
type page struct {
	Status   int
	Location string
	Body     string
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browserless) do(req *http.Request) page {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	p := page{Status: res.StatusCode, Location: res.Header.Get("Location"), Body: string(raw)}
	if m := csrfRe.FindStringSubmatch(p.Body); m != nil {
		b.csrf = m[1]
	}
	return p
}

func (b *browserless) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.e.base+path, nil)
	return b.do(req)
}

// post sends a form; origin "" sends no Origin header.
func (b *browserless) post(path string, form url.Values, origin string) page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.e.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return b.do(req)
}

// login logs in through the form, as a browser would.
func (b *browserless) login(password string) page {
	b.t.Helper()
	b.get("/login")
	return b.post("/login", url.Values{"csrf": {b.csrf}, "username": {"admin"}, "password": {password}}, b.e.base)
}

// recorder is a bot endpoint on loopback that records what it receives
// and answers with the status it is told.
type recorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	status int
	got    []recorded
	ch     chan recorded
}

type recorded struct {
	Header http.Header
	Body   map[string]any
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{status: http.StatusOK, ch: make(chan recorded, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body map[string]any
		json.NewDecoder(req.Body).Decode(&body) //nolint:errcheck // recorded as is
		rec := recorded{Header: req.Header.Clone(), Body: body}
		r.mu.Lock()
		r.got = append(r.got, rec)
		status := r.status
		r.mu.Unlock()
		r.ch <- rec
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) setStatus(s int) { r.mu.Lock(); r.status = s; r.mu.Unlock() }

// next waits for the next request.
func (r *recorder) next(t *testing.T) recorded {
	t.Helper()
	select {
	case rec := <-r.ch:
		return rec
	case <-time.After(15 * time.Second):
		t.Fatal("the bot endpoint received nothing within 15 s")
		return recorded{}
	}
}

// text is data.data.text of a callback.
func (rec recorded) text() string {
	d, _ := rec.Body["data"].(map[string]any)
	dd, _ := d["data"].(map[string]any)
	s, _ := dd["text"].(string)
	return s
}

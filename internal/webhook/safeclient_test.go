package webhook

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// These tests send traffic to loopback only. Every client is built with a
// hook that runs after the guard allowed an address and before connect(2):
// it refuses (and fails the test for) any address that is not loopback, so
// even a broken guard cannot make a test send a packet elsewhere.

var loopbackPrefix = netip.MustParsePrefix("127.0.0.0/8")

// dialRecorder is the after-guard hook; it counts the connections the guard
// let through.
type dialRecorder struct {
	t     *testing.T
	dials atomic.Int32
}

func (d *dialRecorder) hook(ap netip.AddrPort) error {
	if !ap.Addr().Unmap().IsLoopback() {
		d.t.Errorf("the guard let %v through to connect", ap)
		return errors.New("test: refusing a non-loopback address")
	}
	d.dials.Add(1)
	return nil
}

func testClient(t *testing.T, allow []netip.Prefix, cfg ClientConfig) (*http.Client, *dialRecorder) {
	t.Helper()
	rec := &dialRecorder{t: t}
	c := newClient(NewGuard(allow), cfg, rec.hook)
	t.Cleanup(c.CloseIdleConnections)
	return c, rec
}

// countingServer answers 200 "ok" and counts requests.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func wantBlocked(t *testing.T, err error, addr string) {
	t.Helper()
	var blocked *BlockedAddressError
	if !errors.As(err, &blocked) {
		t.Fatalf("error = %v, want a *BlockedAddressError", err)
	}
	if blocked.Addr != netip.MustParseAddr(addr) {
		t.Errorf("blocked address = %v, want %s", blocked.Addr, addr)
	}
	if o, c := Classify(0, err); o != Fail || c != ClassBlockedAddress {
		t.Errorf("Classify = %v, %q; want fail, blocked_address", o, c)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("the refusal took a timeout, want an immediate refusal: %v", err)
	}
}

func TestClientRefusesLoopbackByDefault(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t)
	c, rec := testClient(t, nil, ClientConfig{Timeout: 5 * time.Second})
	resp, err := c.Post(srv.URL, "application/json", strings.NewReader(`{}`))
	if err == nil {
		_ = resp.Body.Close()
		t.Fatalf("request to %s succeeded (status %d), want a refusal", srv.URL, resp.StatusCode)
	}
	wantBlocked(t, err, "127.0.0.1")
	if hits.Load() != 0 || rec.dials.Load() != 0 {
		t.Errorf("server saw %d requests and the guard passed %d dials, want 0 and 0", hits.Load(), rec.dials.Load())
	}
}

func TestClientRefusesNameResolvingToLoopback(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t)
	c, _ := testClient(t, nil, ClientConfig{Timeout: 5 * time.Second})
	u := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	resp, err := c.Get(u)
	if err == nil {
		_ = resp.Body.Close()
		t.Fatalf("request to %s succeeded, want a refusal", u)
	}
	var blocked *BlockedAddressError
	if !errors.As(err, &blocked) || !blocked.Addr.IsLoopback() {
		t.Fatalf("error = %v, want a *BlockedAddressError for a loopback address", err)
	}
	if hits.Load() != 0 {
		t.Errorf("server saw %d requests", hits.Load())
	}
}

func TestClientAllowedRangeAndEveryDialChecked(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t)
	c, rec := testClient(t, []netip.Prefix{loopbackPrefix}, ClientConfig{Timeout: 5 * time.Second})
	get := func() {
		t.Helper()
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, truncated, err := ReadCapped(resp.Body, 1024)
		_ = resp.Body.Close()
		if err != nil || truncated || string(body) != "ok" || resp.StatusCode != 200 {
			t.Fatalf("got %d %q (truncated %v, %v), want 200 ok", resp.StatusCode, body, truncated, err)
		}
		if o, _ := Classify(resp.StatusCode, nil); o != Success {
			t.Fatalf("Classify(200) = %v", o)
		}
	}
	for range 3 {
		get()
	}
	if rec.dials.Load() != 1 {
		t.Errorf("3 requests dialed %d times, want 1 (keep-alive)", rec.dials.Load())
	}
	// A re-dial after the idle connection is gone passes the guard again.
	c.CloseIdleConnections()
	get()
	if rec.dials.Load() != 2 || hits.Load() != 4 {
		t.Errorf("after a re-dial: %d dials, %d requests; want 2 and 4", rec.dials.Load(), hits.Load())
	}
}

// TestClientRefusesBeforeConnecting dials reserved, non-loopback addresses.
// The guard refuses them in the dialer's Control function, which runs
// before connect(2), so no packet leaves; the after-guard hook would fail
// the test (and still not connect) if the guard let one through.
func TestClientRefusesBeforeConnecting(t *testing.T) {
	t.Parallel()
	c, rec := testClient(t, nil, ClientConfig{Timeout: 2 * time.Second})
	tests := []struct{ host, addr string }{
		{"10.0.0.1", "10.0.0.1"},
		{"169.254.169.254", "169.254.169.254"},
		{"192.168.1.1", "192.168.1.1"},
		{"100.64.0.1", "100.64.0.1"},
		{"0.0.0.0", "0.0.0.0"},
		{"[::1]", "::1"},
		{"[fd00:ec2::254]", "fd00:ec2::254"},
		{"[::ffff:169.254.169.254]", "169.254.169.254"},
		{"[64:ff9b::a9fe:a9fe]", "64:ff9b::a9fe:a9fe"},
		{"[2002:a9fe:a9fe::1]", "2002:a9fe:a9fe::1"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			resp, err := c.Get("http://" + tt.host + ":80/latest/meta-data/")
			if err == nil {
				_ = resp.Body.Close()
				t.Fatalf("request succeeded, want a refusal")
			}
			if errors.Is(err, syscall.EAFNOSUPPORT) {
				t.Skipf("no IPv6 sockets here: %v", err)
			}
			wantBlocked(t, err, tt.addr)
		})
	}
	if rec.dials.Load() != 0 {
		t.Errorf("%d dials passed the guard", rec.dials.Load())
	}
}

func TestGuardCheckNetwork(t *testing.T) {
	t.Parallel()
	g := NewGuard(nil)
	tests := []struct {
		network, address string
		wantErr          bool
		blocked          string
	}{
		{"tcp4", "8.8.8.8:443", false, ""},
		{"tcp6", "[2606:4700::1111]:443", false, ""},
		{"udp4", "8.8.8.8:53", true, ""},
		{"unix", "/run/x.sock", true, ""},
		{"tcp4", "not-an-address", true, ""},
		{"tcp4", "127.0.0.1:80", true, "127.0.0.1"},
		{"tcp6", "[fe80::1%eth0]:80", true, "fe80::1"},
	}
	for _, tt := range tests {
		_, err := g.check(tt.network, tt.address)
		if (err != nil) != tt.wantErr {
			t.Errorf("check(%s, %s) = %v, want error %v", tt.network, tt.address, err, tt.wantErr)
			continue
		}
		var blocked *BlockedAddressError
		if tt.blocked != "" && (!errors.As(err, &blocked) || blocked.Addr.String() != tt.blocked) {
			t.Errorf("check(%s, %s) = %v, want blocked %s", tt.network, tt.address, err, tt.blocked)
		}
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	target, targetHits := countingServer(t)
	redirector := httptest.NewServer(http.RedirectHandler(target.URL+"/elsewhere", http.StatusFound))
	t.Cleanup(redirector.Close)
	c, _ := testClient(t, []netip.Prefix{loopbackPrefix}, ClientConfig{Timeout: 5 * time.Second})
	resp, err := c.Post(redirector.URL, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != target.URL+"/elsewhere" {
		t.Errorf("got %d Location %q, want the 302 itself", resp.StatusCode, resp.Header.Get("Location"))
	}
	if targetHits.Load() != 0 {
		t.Errorf("the redirect target saw %d requests, want 0", targetHits.Load())
	}
	if o, cl := Classify(resp.StatusCode, nil); o != Fail || cl != ClassRedirect {
		t.Errorf("Classify(302) = %v, %q; want fail, redirect", o, cl)
	}
}

func TestClientCapsResponseBody(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 100<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, big)
	}))
	t.Cleanup(srv.Close)
	c, _ := testClient(t, []netip.Prefix{loopbackPrefix}, ClientConfig{})
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, truncated, err := ReadCapped(resp.Body, DefaultMaxResponseBytes)
	_ = resp.Body.Close()
	if err != nil || !truncated || len(body) != DefaultMaxResponseBytes {
		t.Errorf("ReadCapped = %d bytes, truncated %v, %v; want %d, true", len(body), truncated, err, DefaultMaxResponseBytes)
	}
	// Even a caller that reads everything gets at most the cap plus one.
	resp, err = c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || len(all) != DefaultMaxResponseBytes+1 {
		t.Errorf("ReadAll = %d bytes, %v; want %d", len(all), err, DefaultMaxResponseBytes+1)
	}
}

func TestClientTimeoutClassifies(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	c, _ := testClient(t, []netip.Prefix{loopbackPrefix}, ClientConfig{Timeout: 200 * time.Millisecond})
	resp, err := c.Get(srv.URL)
	if err == nil {
		_ = resp.Body.Close()
		t.Fatal("a stalled bot answered")
	}
	if o, cl := Classify(0, err); o != Retry || cl != ClassTimeout {
		t.Errorf("Classify(%v) = %v, %q; want retry, timeout", err, o, cl)
	}
}

func TestClientConnectionRefusedClassifies(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	c, _ := testClient(t, []netip.Prefix{loopbackPrefix}, ClientConfig{Timeout: 2 * time.Second})
	resp, err := c.Get("http://" + addr + "/")
	if err == nil {
		_ = resp.Body.Close()
		t.Fatal("request to a closed port succeeded")
	}
	if o, cl := Classify(0, err); o != Retry || cl != ClassConnection {
		t.Errorf("Classify(%v) = %v, %q; want retry, connection", err, o, cl)
	}
}

func TestClientRefusesOtherSchemes(t *testing.T) {
	t.Parallel()
	c, rec := testClient(t, []netip.Prefix{loopbackPrefix}, ClientConfig{})
	for _, u := range []string{"ftp://127.0.0.1/", "file:///etc/passwd", "gopher://127.0.0.1:70/"} {
		body := &closeRecorder{Reader: strings.NewReader("{}")}
		req, err := http.NewRequest(http.MethodPost, u, body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			t.Fatalf("%s: request succeeded", u)
		}
		if o, cl := Classify(0, err); o != Fail || cl != ClassInvalidURL {
			t.Errorf("%s: Classify(%v) = %v, %q; want fail, invalid_url", u, err, o, cl)
		}
		if !body.closed {
			t.Errorf("%s: request body not closed", u)
		}
	}
	if rec.dials.Load() != 0 {
		t.Errorf("%d dials", rec.dials.Load())
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestClientIgnoresProxyEnvironment(t *testing.T) {
	t.Parallel()
	c := NewClient(NewGuard(nil), ClientConfig{})
	gt, ok := c.Transport.(*guardedTransport)
	if !ok {
		t.Fatalf("transport is %T", c.Transport)
	}
	if gt.base.Proxy != nil {
		t.Error("the transport uses a proxy function")
	}
	// No overall client timeout (it would cut bots' own timeouts), and no
	// per-phase limit shorter than the longest a bot may set.
	if gt.base.MaxIdleConnsPerHost != maxIdleConnsPerHost || gt.base.ResponseHeaderTimeout != MaxTimeout || c.Timeout != 0 {
		t.Errorf("transport limits: %d idle per host, header timeout %v, client timeout %v",
			gt.base.MaxIdleConnsPerHost, gt.base.ResponseHeaderTimeout, c.Timeout)
	}
}

// errAfter yields its data, then err.
type errAfter struct {
	data string
	err  error
}

func (e *errAfter) Read(p []byte) (int, error) {
	if e.data == "" {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

func TestReadCapped(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name          string
		r             io.Reader
		limit         int64
		want          string
		wantTruncated bool
		wantErr       error
	}{
		{"under", strings.NewReader("hello"), 10, "hello", false, nil},
		{"exact", strings.NewReader("hello"), 5, "hello", false, nil},
		{"over by one", strings.NewReader("hello"), 4, "hell", true, nil},
		{"empty", strings.NewReader(""), 0, "", false, nil},
		{"zero limit, data", strings.NewReader("x"), 0, "", true, nil},
		{"negative limit", strings.NewReader("x"), -1, "", true, nil},
		{"huge limit", strings.NewReader("abc"), 1<<63 - 1, "abc", false, nil},
		{"error after data", &errAfter{"ab", boom}, 10, "ab", false, boom},
	}
	for _, tt := range tests {
		got, truncated, err := ReadCapped(tt.r, tt.limit)
		if string(got) != tt.want || truncated != tt.wantTruncated || !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: ReadCapped = %q, %v, %v; want %q, %v, %v", tt.name, got, truncated, err, tt.want, tt.wantTruncated, tt.wantErr)
		}
	}
}

func ExampleReadCapped() {
	body, truncated, _ := ReadCapped(strings.NewReader("a long answer"), 6)
	fmt.Printf("%q %v\n", body, truncated)
	// Output: "a long" true
}

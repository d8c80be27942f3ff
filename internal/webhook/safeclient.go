package webhook

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrInvalidURL is wrapped by CheckURL and by the client when a callback URL
// cannot be requested (not http or https, no host). It classifies as
// "invalid_url", a permanent failure.
var ErrInvalidURL = errors.New("webhook: invalid callback URL")

// BlockedAddressError is the error of a connection the Guard refused. It is
// returned from the dialer's Control function, which runs after the socket
// is created and before connect(2): no packet has been sent to Addr. It
// classifies as "blocked_address", a permanent failure.
type BlockedAddressError struct {
	Addr   netip.Addr
	Reason string // why the address is reserved, e.g. "loopback"
}

func (e *BlockedAddressError) Error() string {
	return fmt.Sprintf("webhook: refused to connect to %s (%s): not a public address and not in the allowed ranges", e.Addr, e.Reason)
}

// ClientConfig configures NewClient. Zero fields take the defaults.
type ClientConfig struct {
	// Timeout bounds each phase of a request on its own: the dial, the TLS
	// handshake (at most 10 s), the wait for the response headers. The
	// whole attempt is bounded by the caller's context (the engine: the
	// bot's timeoutSeconds), so Timeout is only a backstop. Default
	// MaxTimeout, so that no bot's own timeout is cut short.
	Timeout time.Duration
	// MaxResponseBytes bounds how much of a response body can be read: the
	// client's response bodies end after MaxResponseBytes+1 bytes, one more
	// than ReadCapped needs to see that a body was truncated. Default
	// DefaultMaxResponseBytes (64 KiB).
	MaxResponseBytes int64
}

// WithDefaults returns c with zero or negative fields set to their defaults.
func (c ClientConfig) WithDefaults() ClientConfig {
	if c.Timeout <= 0 {
		c.Timeout = MaxTimeout
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	return c
}

// NewClient returns the HTTP client that delivers to bots. Every connection
// it opens (the first to a host, and every later one: keep-alive
// connections are re-dialed through the same path) has its resolved IP
// checked by g after DNS and before connecting; a refused address fails the
// request with *BlockedAddressError. Only TCP is dialed. Redirects are not
// followed (the 3xx response is returned, and classifies as "redirect"),
// proxies from the environment are not used, only http and https URLs are
// requested (else ErrInvalidURL), and no response body yields more than
// cfg.MaxResponseBytes+1 bytes. The client has no overall timeout: each
// request must carry a context with a deadline (the engine's attempt
// timeout), see ClientConfig.Timeout.
func NewClient(g *Guard, cfg ClientConfig) *http.Client {
	return newClient(g, cfg, nil)
}

// newClient is NewClient with a hook run after the guard allowed an
// address, still before connecting. Tests use it to make sure no address
// but loopback is ever connected to, whatever the guard decides.
func newClient(g *Guard, cfg ClientConfig, afterGuard func(netip.AddrPort) error) *http.Client {
	cfg = cfg.WithDefaults()
	dialer := &net.Dialer{
		Timeout:   cfg.Timeout,
		KeepAlive: dialKeepAlive,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := g.check(network, address)
			if err == nil && afterGuard != nil {
				err = afterGuard(ap)
			}
			return err
		},
	}
	transport := &http.Transport{
		Proxy:                  nil, // never the environment's proxy: it would connect on our behalf, past the guard
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           maxIdleConns,
		MaxIdleConnsPerHost:    maxIdleConnsPerHost,
		IdleConnTimeout:        idleConnTimeout,
		TLSHandshakeTimeout:    min(tlsHandshakeTimeout, cfg.Timeout),
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		// Without Accept-Encoding the bot answers uncompressed, so the
		// recorded body is what it sent and no decompression bomb is read.
		DisableCompression: true,
		TLSClientConfig:    &tls.Config{MinVersion: tls.VersionTLS12},
	}
	// No http.Client.Timeout: it would cut every bot's timeout to one
	// value, and with a RoundTripper that is not an *http.Transport
	// net/http enforces it with two more goroutines and a timer per
	// request. Callers bound each request with their context.
	return &http.Client{
		Transport: &guardedTransport{base: transport, maxBody: cfg.MaxResponseBytes},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// check is the dial-time test: network must be TCP and the address one the
// guard allows.
func (g *Guard) check(network, address string) (netip.AddrPort, error) {
	if network != "tcp4" && network != "tcp6" {
		return netip.AddrPort{}, fmt.Errorf("webhook: refused to dial network %q", network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return ap, fmt.Errorf("webhook: refused to dial %q: %w", address, err)
	}
	if why, refused := g.refusal(ap.Addr()); refused {
		return ap, &BlockedAddressError{Addr: ap.Addr().WithZone(""), Reason: why}
	}
	return ap, nil
}

// guardedTransport refuses URLs that are not http or https before the
// transport sees them (the transport's own error would classify as a
// retryable connection error), and caps response bodies.
type guardedTransport struct {
	base    *http.Transport
	maxBody int64
}

func (t *guardedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if (req.URL.Scheme != "http" && req.URL.Scheme != "https") || req.URL.Host == "" {
		if req.Body != nil {
			_ = req.Body.Close() // a RoundTripper closes the body, even on error
		}
		return nil, fmt.Errorf("%w: want an http or https URL with a host", ErrInvalidURL)
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &cappedBody{r: io.LimitReader(resp.Body, t.maxBody+1), c: resp.Body}
	return resp, nil
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport.
func (t *guardedTransport) CloseIdleConnections() { t.base.CloseIdleConnections() }

type cappedBody struct {
	r io.Reader
	c io.Closer
}

func (b *cappedBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *cappedBody) Close() error               { return b.c.Close() }

// ReadCapped reads r up to limit bytes. truncated is true when r had more;
// the rest is left unread (close the response body rather than drain it).
// A read error is returned with the bytes read before it. A negative limit
// counts as zero.
func ReadCapped(r io.Reader, limit int64) (body []byte, truncated bool, err error) {
	limit = min(max(limit, 0), math.MaxInt64-1)
	body, err = io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(body)) > limit {
		return body[:limit], true, err
	}
	return body, false, err
}

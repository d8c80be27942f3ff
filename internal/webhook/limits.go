package webhook

import "time"

// Operational constants of the delivery building blocks. Each says what it
// bounds and which way it fails when the limit is reached.
const (
	// DefaultTimeout bounds one delivery attempt: dialing, the TLS handshake,
	// waiting for the response headers and reading the capped body. An
	// attempt that takes longer fails with ErrorClass "timeout" and is
	// retried. Ten seconds is generous for a callback that is expected to
	// answer 200 at once and do its work afterwards.
	DefaultTimeout = 10 * time.Second

	// MaxTimeout is the longest attempt timeout a bot may set
	// (timeoutSeconds). The delivery client's own limits are no shorter,
	// so a bot's timeout is never cut short (ClientConfig.Timeout).
	MaxTimeout = 60 * time.Second

	// DefaultMaxResponseBytes is how much of a bot's response body is read
	// and kept with the attempt record. The rest is not read: the body is
	// marked truncated and the connection is closed instead of reused. The
	// body only helps a developer see what their endpoint said.
	DefaultMaxResponseBytes = 64 << 10

	// maxIdleConnsPerHost is how many idle keep-alive connections are kept
	// per bot host. Deliveries to one host beyond it open (and later close)
	// extra connections; it does not limit concurrency, the dispatcher's
	// per-bot cap does.
	maxIdleConnsPerHost = 32

	// maxIdleConns bounds idle connections over all hosts, so thousands of
	// bots cannot pin thousands of sockets. The least recently used idle
	// connection is closed first.
	maxIdleConns = 1024

	// idleConnTimeout closes a keep-alive connection that has been idle this
	// long. A later delivery dials again (and is checked by the guard again).
	idleConnTimeout = 90 * time.Second

	// tlsHandshakeTimeout bounds the TLS handshake; it is further capped by
	// the per-attempt timeout. A handshake that takes longer is a "timeout".
	tlsHandshakeTimeout = 10 * time.Second

	// dialKeepAlive is the TCP keep-alive period of outbound connections, so
	// a peer that vanished is noticed on idle connections.
	dialKeepAlive = 30 * time.Second

	// maxResponseHeaderBytes bounds the response headers of a bot. A bigger
	// header block fails the attempt as a "connection" error.
	maxResponseHeaderBytes = 32 << 10

	// Defaults of Policy: the first retry waits up to DefaultBase, each
	// further retry up to twice as long, never more than DefaultCap, and a
	// delivery is given up when its next attempt would be more than
	// DefaultMaxAge after its first.
	DefaultBase   = 2 * time.Second
	DefaultCap    = time.Hour
	DefaultMaxAge = 24 * time.Hour

	// maxRetryAfter clamps a parsed Retry-After so that absurd values do not
	// overflow time.Duration. Policy.Next caps it further at Policy.Cap.
	maxRetryAfter = 7 * 24 * time.Hour
)

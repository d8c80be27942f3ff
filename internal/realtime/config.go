package realtime

import "time"

// Config holds the hub's limits. The zero value of a field means "use the
// default"; call WithDefaults (New does) to fill them in.
type Config struct {
	// ReadLimit is the largest client frame, in bytes. A bigger frame closes
	// the connection with status 1009 (message too big). Default 64 KiB.
	ReadLimit int64

	// PingInterval is how often the server pings each connection: a ping
	// is due PingInterval after the previous one ended, and the hub's one
	// ticker finds it due within an eighth of the interval. It bounds how
	// long a silently dead connection (no FIN, no RST) stays registered.
	// Default 25s (pings 25 to 28s apart), under the 30s idle timeout of
	// common proxies.
	PingInterval time.Duration

	// PongTimeout is how long a ping may wait for its pong before the
	// connection is closed without a handshake. Default 10s.
	PongTimeout time.Duration

	// WriteTimeout bounds the write of one frame. A write that does not finish
	// in time closes the connection without a handshake. Default 10s.
	WriteTimeout time.Duration

	// SendBuffer is how many frames may wait for one connection's writer. A
	// connection whose queue is full when a frame arrives is a slow consumer:
	// its queue is dropped and it is closed with 1008 "slow consumer"; the
	// client catches up over REST. Default 256.
	SendBuffer int

	// MaxConnsPerUser bounds the live connections of one user (per app). A
	// new connection beyond it closes the oldest with 1008 "too many
	// connections". Default 20.
	MaxConnsPerUser int

	// Now is the clock used for presence timestamps. Default time.Now.
	Now func() time.Time
}

// Defaults, and operational constants that are not configurable. Each says
// what it bounds and what happens at the limit.
const (
	DefaultReadLimit       = 64 << 10
	DefaultPingInterval    = 25 * time.Second
	DefaultPongTimeout     = 10 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
	DefaultSendBuffer      = 256
	DefaultMaxConnsPerUser = 20

	// presenceTimeout bounds one Presence.SetPresence call. The callback runs
	// on the connection's own goroutine (before it starts reading, or after it
	// stopped), so a slow presence store delays that connection only; when the
	// timeout passes the callback's context is cancelled and the hub moves on.
	presenceTimeout = 5 * time.Second

	// pingTicks is how many times per PingInterval the hub's pinger looks
	// for due pings. A ping is found due up to PingInterval/pingTicks late;
	// more ticks keep pings closer to PingInterval at the cost of more
	// scans of the registry (each tick reads every connection's due time).
	pingTicks = 8

	// sockBufSize is the size of the pooled buffers that data passes
	// through (see sock). A read takes at most this much from the socket
	// per read(2); a read of at least this much goes straight to the
	// caller's buffer. Pooled buffers that grew for a larger frame are not
	// kept.
	sockBufSize = 4 << 10

	// libBufSize is the size of the bufio.Reader and Writer the WebSocket
	// library keeps for the connection's life (16 is bufio.Reader's
	// minimum). Smaller buffers cost no extra syscalls, since sock buffers
	// and coalesces behind them.
	libBufSize = 16

	// presenceRetry is how often presence reports that failed (the store
	// was unreachable) are made again: a user's status may be wrong for
	// that long after the store is back.
	presenceRetry = 2 * time.Second
)

// Close reasons sent to clients. Fixed strings: the reason is limited to 123
// bytes and must not carry internal detail.
const (
	reasonSlowConsumer = "slow consumer"
	reasonTooManyConns = "too many connections"
	reasonShutdown     = "server shutting down"
	reasonBinary       = "binary frames are not supported"
	reasonTooBig       = "message too big"
)

// WithDefaults returns c with every zero or negative field replaced by its
// default.
func (c Config) WithDefaults() Config {
	if c.ReadLimit <= 0 {
		c.ReadLimit = DefaultReadLimit
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PongTimeout <= 0 {
		c.PongTimeout = DefaultPongTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.SendBuffer <= 0 {
		c.SendBuffer = DefaultSendBuffer
	}
	if c.MaxConnsPerUser <= 0 {
		c.MaxConnsPerUser = DefaultMaxConnsPerUser
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

package realtime

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// conn is one live WebSocket connection. Its reader runs on a goroutine
// that Accept starts (serve). A writer goroutine runs only while frames
// wait in its queue or a close is to be performed, and a ping goroutine
// only while a ping waits for its pong; the reader waits for both before it
// ends.
type conn struct {
	hub   *Hub
	ws    *websocket.Conn
	sock  *sock // ws's connection
	appID string
	uid   string
	id    uint64 // for logs
	// presence: the client asked for the app's presence frames
	// (AcceptWith); PublishApp writes to such connections only.
	presence bool

	// values carries the upgrade request's values (not its cancellation)
	// to Sender calls. Each call gets a context of its own, derived from
	// values and cancelled by abort (see sendCancel), so that an idle
	// connection holds no cancellable context. Socket operations do not use
	// values: reads use no context (they end when the socket closes; a
	// cancellable read costs a context.AfterFunc registration per blocking
	// Read), writes are bounded by the socket's write deadline (see write)
	// and pings by a timeout from the background.
	values context.Context

	// handling is true while the reader is busy with a client frame (a
	// Sender call may take a while). Pongs are only read between frames, so
	// a ping timing out meanwhile does not mean the peer is dead.
	handling atomic.Bool

	// pingDue is when the next ping is due, in Hub.clock time.
	pingDue atomic.Int64

	// Guarded by Hub.mu.
	user       *user
	registered bool

	mu          sync.Mutex
	queue       [][]byte             // frames waiting for the writer; at most Config.SendBuffer
	writing     bool                 // a writer goroutine runs (or, before registration, is reserved); it alone writes
	pinging     bool                 // a ping goroutine runs
	closing     bool                 // a close was requested; queue is dropped and stays empty
	closeCode   websocket.StatusCode // 0 closes without a handshake
	closeReason string
	sendCancel  context.CancelFunc // cancels the Sender call in flight, if any
	aborted     bool               // abort was called: Sender calls get a cancelled context

	// work counts the writer and ping goroutines. They are started only
	// under mu while closing is false (the writer that performs the close
	// is started in the same critical section that sets it), so once
	// closing is set no Add can follow and the reader may Wait.
	work sync.WaitGroup
}

// Accept upgrades the request, already authenticated as appID/uid, hands
// the connection to a reader goroutine of the hub's and returns. It does
// not wait for the connection to end: the goroutine that called it (the
// net/http handler goroutine, whose stack has grown with the
// authentication and holds net/http's request state) ends, and an idle
// connection costs only its reader's small stack. Shutdown waits for the
// connections.
//
// Any Origin is accepted (InsecureSkipVerify). The library's origin check
// exists to stop a foreign page from riding on the browser's cookies
// (cross-site WebSocket hijacking); parley's upgrade is authenticated by a
// token the client sends explicitly, which a foreign page does not have, and
// the browser SDKs of customer apps legitimately connect from any origin.
// This holds only while the caller never authenticates the upgrade by a
// cookie or other ambient credential.
//
// After Shutdown has begun it answers 503 without upgrading.
func (h *Hub) Accept(w http.ResponseWriter, r *http.Request, appID, uid string) {
	h.AcceptWith(w, r, appID, uid, false)
}

// AcceptWith is Accept for a client that chose whether to receive the
// presence frames of every user of the app (PublishApp).
func (h *Hub) AcceptWith(w http.ResponseWriter, r *http.Request, appID, uid string, presence bool) {
	if !h.enter() {
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return
	}
	served := false
	defer func() {
		if !served {
			h.leave()
		}
	}()

	hw := &hijackWriter{ResponseWriter: w, pool: &h.bufs}
	ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // see the doc comment: auth is by token, not cookie
		// Compression stays off: per-connection flate state costs tens of KB.
	})
	if err != nil {
		// Accept has written the HTTP error response already.
		h.log.Debug("realtime: upgrade failed", "app", appID, "uid", uid, "err", err)
		return
	}
	if hw.sock == nil { // the library upgraded without hijacking through hw
		h.log.Error("realtime: upgrade did not hijack the connection")
		_ = ws.CloseNow()
		return
	}
	ws.SetReadLimit(h.cfg.ReadLimit)

	// The caller's strings may be slices of larger ones (an app id taken
	// from the query string is a slice of the request line), which would
	// stay alive as long as the connection.
	appID, uid = strings.Clone(appID), strings.Clone(uid)
	id := h.nextID.Add(1)
	c := &conn{
		hub:      h,
		ws:       ws,
		sock:     hw.sock,
		appID:    appID,
		uid:      uid,
		id:       id,
		presence: presence,
	}
	c.values = context.WithoutCancel(r.Context())

	// The connected frame is queued before the connection is registered, so
	// it is the first frame the client receives; the writer is reserved
	// (writing is set) so that frames published meanwhile only queue up
	// behind it, and started once registered, so that a client that has
	// read the connected frame is registered.
	hello, err := Encode(typeConnected, connectedData{UID: uid, AppID: appID})
	if err != nil {
		h.log.Error("realtime: encode connected frame", "err", err)
		_ = ws.Close(websocket.StatusInternalError, msgInternal)
		return
	}
	c.queue = append(c.queue, hello)
	c.writing = true
	c.pingDue.Store(h.clock() + int64(h.cfg.PingInterval))

	if !h.register(c) {
		_ = ws.Close(websocket.StatusGoingAway, reasonShutdown)
		return
	}
	c.logger().Debug("realtime: connection opened")

	// Presence is recorded before the writer starts: once the client has
	// its connected frame, every node shows the user available. The report
	// runs here rather than on the reader, so that a presence store's deep
	// call stack grows this goroutine's stack, which ends now, and not the
	// reader's, which lives as long as the connection.
	h.syncPresence(c.user, false)
	c.work.Add(1)
	go c.writeLoop()

	served = true
	go c.serve()
}

// serve is the connection's reader goroutine. When reading ends it waits for
// the writer and ping goroutines, unregisters the connection, reports
// presence and counts the connection out for Shutdown.
func (c *conn) serve() {
	h := c.hub
	defer h.leave()

	c.readLoop()
	// The reader has requested a close (so nothing new starts); wait for
	// the writer and ping goroutines.
	c.work.Wait()

	h.drop(c, 0, "") // normally done already; makes sure c is unregistered
	h.forget(c)
	h.syncPresence(c.user, false)
	c.logger().Debug("realtime: connection closed")
}

// enqueue adds frame to c's queue without blocking, starting a writer if
// none runs. It returns false when the queue is full (c is a slow
// consumer). Frames for a closing connection are dropped silently.
func (c *conn) enqueue(frame []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return true
	}
	if len(c.queue) >= c.hub.cfg.SendBuffer {
		return false
	}
	c.queue = append(c.queue, frame)
	if !c.writing {
		c.startWriterLocked()
	}
	return true
}

// requestClose has the writer drop the queue and close the connection with
// code and reason (code 0: close without a handshake), starting a writer if
// none runs. The first request wins; it reports whether this one was first.
func (c *conn) requestClose(code websocket.StatusCode, reason string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.closing = true
	c.closeCode, c.closeReason = code, reason
	c.queue = nil
	if !c.writing {
		c.startWriterLocked()
	}
	return true
}

// startWriterLocked starts the writer goroutine. c.mu must be held and
// c.writing false.
func (c *conn) startWriterLocked() {
	c.writing = true
	c.work.Add(1)
	go c.writeLoop()
}

// next returns the queued frames and empties the queue, or reports a close
// request. When there is neither it marks the writer stopped, in the same
// critical section, so that the next frame or close request starts a new
// one.
func (c *conn) next() (frames [][]byte, closing bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return nil, true // c.writing stays set: no writer starts after the close
	}
	frames = c.queue
	c.queue = nil // an idle connection holds no queue memory
	if len(frames) == 0 {
		c.writing = false
	}
	return frames, false
}

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// writeLoop is the connection's only writer of data frames and the close
// frame (the library itself also answers pings and echoes closes from
// inside Read, and a ping goroutine writes pings, all serialized by the
// library's write lock). It writes until the queue is empty, then returns;
// or performs a requested close and returns.
func (c *conn) writeLoop() {
	defer c.work.Done()
	for {
		frames, closing := c.next()
		if closing {
			c.closeSocket()
			return
		}
		if len(frames) == 0 {
			return
		}
		for i, f := range frames {
			if i > 0 && c.isClosing() {
				break // the rest is dropped; the close follows on the next round
			}
			if err := c.write(f); err != nil {
				c.fail("write", err)
				return
			}
		}
	}
}

// startPing starts a ping goroutine unless one runs or c is closing. The
// hub's pinger calls it when c's ping is due.
func (c *conn) startPing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.pinging {
		return
	}
	c.pinging = true
	c.work.Add(1)
	go c.pingOnce()
}

// pingOnce pings and schedules the next ping; a ping that fails while c is
// not closing fails the connection.
func (c *conn) pingOnce() {
	defer c.work.Done()
	err := c.ping()
	c.mu.Lock()
	c.pinging = false
	closing := c.closing
	c.mu.Unlock()
	if err != nil && !closing {
		c.fail("ping", err)
		return
	}
	c.pingDue.Store(c.hub.clock() + int64(c.hub.cfg.PingInterval))
}

// write writes one frame within WriteTimeout. The bound is the socket's
// write deadline rather than a context: the library keeps the context of
// the last Write (with its timer and channel) for the connection's life,
// and costs a context.AfterFunc per write. When the deadline passes, the
// library's write fails and the writer fails the connection. The deadline
// is cleared afterwards, so that it cannot fail a later write of the
// library's own (a pong, a close echo), which the library bounds with
// contexts of its own.
func (c *conn) write(frame []byte) error {
	_ = c.sock.SetWriteDeadline(time.Now().Add(c.hub.cfg.WriteTimeout))
	err := c.ws.Write(context.Background(), websocket.MessageText, frame)
	_ = c.sock.SetWriteDeadline(time.Time{})
	return err
}

// ping sends a ping and waits for its pong. A missing pong is forgiven while
// the reader is busy with a client frame: the pong then waits, unread, behind
// that frame.
func (c *conn) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.hub.cfg.PongTimeout) // see conn.values
	defer cancel()
	err := c.ws.Ping(ctx)
	if err != nil && errors.Is(err, context.DeadlineExceeded) && c.handling.Load() {
		return nil
	}
	return err
}

// closeSocket performs the requested close. Close does the handshake (bounded
// by the library to 5s for writing and 5s for the peer's answer); CloseNow
// just closes the socket.
func (c *conn) closeSocket() {
	c.mu.Lock()
	code, reason := c.closeCode, c.closeReason
	c.mu.Unlock()
	if code == 0 {
		_ = c.ws.CloseNow()
		return
	}
	if err := c.ws.Close(code, reason); err != nil {
		c.logger().Debug("realtime: close handshake", "code", int(code), "err", err)
	}
}

// fail handles a failed write or ping: c is unregistered (and closing, so
// no writer or ping starts any more), a Sender call in flight is cancelled
// (no one is left to answer) and the socket is closed without a
// handshake, which stops the reader and a writer too.
func (c *conn) fail(op string, err error) {
	c.logger().Debug("realtime: connection failed", "op", op, "err", err)
	c.hub.drop(c, 0, "")
	c.abort()
	_ = c.ws.CloseNow()
}

// readLoop reads client frames until the connection ends or a frame ends it.
// It runs on serve's goroutine. On return a close has been requested.
func (c *conn) readLoop() {
	for {
		typ, data, err := c.ws.Read(context.Background()) // see conn.values
		if errors.Is(err, websocket.ErrMessageTooBig) {
			// The library has sent the 1009 close frame. Close then skips
			// sending another, discards the rest of the oversized frame and
			// waits for the client's echo, so that the socket is not closed
			// with unread data (which would send a RST and could destroy the
			// close frame before the client reads it).
			c.hub.drop(c, websocket.StatusMessageTooBig, reasonTooBig)
			return
		}
		if err != nil {
			// The peer closed, the socket failed, or the writer closed the
			// socket. (A write cannot be stuck here: a socket that fails
			// reads fails writes at once, and a stuck write is bounded by
			// WriteTimeout anyway.)
			c.hub.drop(c, 0, "")
			return
		}
		if typ != websocket.MessageText {
			c.hub.drop(c, websocket.StatusUnsupportedData, reasonBinary)
			return
		}
		c.handling.Store(true)
		c.handle(data)
		c.handling.Store(false)
	}
}

// handle answers one text frame. Replies go through the queue like every
// other frame; a client that does not read its replies is a slow consumer.
func (c *conn) handle(data []byte) {
	f, perr := parseClientFrame(data)
	if perr != nil {
		c.reply(errorReply(f.ID, perr))
		return
	}
	switch f.Type {
	case typePing:
		c.reply(mustMarshal(replyFrame{Type: typePong, ID: f.ID}))
	case typeMessage:
		c.reply(c.send(f))
	}
}

// send passes a message frame to the Sender and builds the ack or error reply.
func (c *conn) send(f clientFrame) []byte {
	if c.hub.sender == nil {
		return errorReply(f.ID, errSendDisabled())
	}
	ctx, done := c.sendContext()
	msg, err := c.hub.sender.SendFromSocket(ctx, c.appID, c.uid, f.Data)
	done()
	if err != nil {
		if !isUserError(err) {
			c.logger().Error("realtime: send from socket", "err", err)
		}
		return errorReply(f.ID, err)
	}
	b, err := ackReply(f.ID, msg)
	if err != nil {
		c.logger().Error("realtime: encode ack", "err", err)
		return errorReply(f.ID, err)
	}
	return b
}

// sendContext returns the context of one Sender call, which abort cancels,
// and the function to call when the call has returned.
func (c *conn) sendContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(c.values)
	c.mu.Lock()
	if c.aborted {
		cancel()
	} else {
		c.sendCancel = cancel
	}
	c.mu.Unlock()
	return ctx, func() {
		c.mu.Lock()
		c.sendCancel = nil
		c.mu.Unlock()
		cancel()
	}
}

// abort cancels the Sender call in flight and every later one: no one is
// left to answer (the socket failed) or to wait (Shutdown gave up).
func (c *conn) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.aborted = true
	if c.sendCancel != nil {
		c.sendCancel()
	}
}

func (c *conn) reply(frame []byte) {
	if !c.enqueue(frame) && c.hub.drop(c, websocket.StatusPolicyViolation, reasonSlowConsumer) {
		c.logger().Warn("realtime: closing slow consumer", "queued", c.hub.cfg.SendBuffer)
	}
}

// logger returns the hub's logger with c's attributes. It is built per log
// call, which is rare, instead of kept per connection.
func (c *conn) logger() *slog.Logger {
	return c.hub.log.With("app", c.appID, "uid", c.uid, "conn", c.id)
}

package realtime

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// conn is one live WebSocket connection. Its reader runs on the goroutine
// that called Accept, its writer on a goroutine Accept starts and waits for.
type conn struct {
	hub   *Hub
	ws    *websocket.Conn
	appID string
	uid   string
	id    uint64 // for logs
	// presence: the client asked for the app's presence frames
	// (AcceptWith); PublishApp writes to such connections only.
	presence bool

	// ctx carries the upgrade request's values (not its cancellation) to
	// Sender calls. It is cancelled when the reader or writer fails or
	// Shutdown gives up waiting; the writer then closes the socket without
	// a handshake as soon as it is idle. Socket operations do not derive
	// from it, to keep idle connections small: reads use no context (they
	// end when the socket closes; a cancellable read costs a
	// context.AfterFunc registration per blocking Read), and writes and
	// pings use their own timeouts from the background (a child of ctx
	// would leave ctx holding a children map for the connection's life).
	ctx    context.Context
	cancel context.CancelFunc

	wake       chan struct{} // capacity 1: there is something in queue or a close request
	writerDone chan struct{} // closed when the writer returns

	// handling is true while the reader is busy with a client frame (a
	// Sender call may take a while). Pongs are only read between frames, so
	// a ping timing out meanwhile does not mean the peer is dead.
	handling atomic.Bool

	// Guarded by Hub.mu.
	user       *user
	registered bool

	mu          sync.Mutex
	queue       [][]byte             // frames waiting for the writer; at most Config.SendBuffer
	closing     bool                 // a close was requested; queue is dropped and stays empty
	closeCode   websocket.StatusCode // 0 closes without a handshake
	closeReason string
}

// Accept upgrades the request, already authenticated as appID/uid, and
// serves the connection until it ends; it blocks like an http handler and
// returns only after the connection's writer goroutine has ended too.
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
	defer h.leave()

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // see the doc comment: auth is by token, not cookie
		// Compression stays off: per-connection flate state costs tens of KB.
	})
	if err != nil {
		// Accept has written the HTTP error response already.
		h.log.Debug("realtime: upgrade failed", "app", appID, "uid", uid, "err", err)
		return
	}
	ws.SetReadLimit(h.cfg.ReadLimit)

	id := h.nextID.Add(1)
	c := &conn{
		hub:        h,
		ws:         ws,
		appID:      appID,
		uid:        uid,
		id:         id,
		presence:   presence,
		wake:       make(chan struct{}, 1),
		writerDone: make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(r.Context()))
	defer c.cancel()

	// The connected frame is queued before the connection is registered, so
	// it is the first frame the client receives.
	hello, err := Encode(typeConnected, connectedData{UID: uid, AppID: appID})
	if err != nil {
		h.log.Error("realtime: encode connected frame", "err", err)
		_ = ws.Close(websocket.StatusInternalError, msgInternal)
		return
	}
	c.queue = append(c.queue, hello)
	c.wake <- struct{}{}

	if !h.register(c) {
		_ = ws.Close(websocket.StatusGoingAway, reasonShutdown)
		return
	}
	c.logger().Debug("realtime: connection opened")

	// Presence is recorded before the writer starts: once the client has
	// its connected frame, every node shows the user available.
	h.syncPresence(c.user, false)
	go c.writeLoop()

	c.readLoop()
	<-c.writerDone

	h.drop(c, 0, "") // normally done already; makes sure c is unregistered
	h.forget(c)
	h.syncPresence(c.user, false)
	c.logger().Debug("realtime: connection closed")
}

// enqueue adds frame to c's queue without blocking. It returns false when the
// queue is full (c is a slow consumer). Frames for a closing connection are
// dropped silently.
func (c *conn) enqueue(frame []byte) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return true
	}
	if len(c.queue) >= c.hub.cfg.SendBuffer {
		c.mu.Unlock()
		return false
	}
	c.queue = append(c.queue, frame)
	c.mu.Unlock()
	c.notify()
	return true
}

// requestClose asks the writer to drop the queue and close the connection
// with code and reason (code 0: close without a handshake). The first
// request wins; it reports whether this one was first.
func (c *conn) requestClose(code websocket.StatusCode, reason string) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	c.closing = true
	c.closeCode, c.closeReason = code, reason
	c.queue = nil
	c.mu.Unlock()
	c.notify()
	return true
}

func (c *conn) notify() {
	select {
	case c.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// take returns the queued frames and empties the queue, or reports a close
// request.
func (c *conn) take() (frames [][]byte, closing bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return nil, true
	}
	frames = c.queue
	c.queue = nil // an idle connection holds no queue memory
	return frames, false
}

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// writeLoop is the connection's only writer of data frames, pings and the
// close frame (the library itself also answers pings and echoes closes from
// inside Read, serialized by its own write lock). It returns after the
// socket is closed or a close was requested and performed.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	ping := time.NewTicker(c.hub.cfg.PingInterval)
	defer ping.Stop()

	for {
		select {
		case <-c.wake:
			frames, closing := c.take()
			if closing {
				c.closeSocket()
				return
			}
			for i, f := range frames {
				if i > 0 && c.isClosing() {
					break // the rest is dropped; the close follows on the pending wake-up
				}
				if err := c.write(f); err != nil {
					c.fail("write", err)
					return
				}
			}
		case <-ping.C:
			if err := c.ping(); err != nil {
				c.fail("ping", err)
				return
			}
		case <-c.ctx.Done():
			_ = c.ws.CloseNow()
			return
		}
	}
}

func (c *conn) write(frame []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.hub.cfg.WriteTimeout) // see conn.ctx
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, frame)
}

// ping sends a ping and waits for its pong. A missing pong is forgiven while
// the reader is busy with a client frame: the pong then waits, unread, behind
// that frame.
func (c *conn) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.hub.cfg.PongTimeout) // see conn.ctx
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

// fail handles a failed write or ping: c is unregistered, its context is
// cancelled (a Sender call in flight has no one left to answer) and the
// socket is closed without a handshake, which stops the reader too.
func (c *conn) fail(op string, err error) {
	c.logger().Debug("realtime: connection failed", "op", op, "err", err)
	c.hub.drop(c, 0, "")
	c.cancel()
	_ = c.ws.CloseNow()
}

// readLoop reads client frames until the connection ends or a frame ends it.
// It runs on Accept's goroutine. On return the writer has been told to finish.
func (c *conn) readLoop() {
	for {
		typ, data, err := c.ws.Read(context.Background()) // see conn.ctx
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
			// socket. Cancelling ctx ends a Sender call that no one would
			// answer. (A write cannot be stuck here: a socket that fails
			// reads fails writes at once, and a stuck write is bounded by
			// WriteTimeout anyway.)
			c.hub.drop(c, 0, "")
			c.cancel()
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
	msg, err := c.hub.sender.SendFromSocket(c.ctx, c.appID, c.uid, f.Data)
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

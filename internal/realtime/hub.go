package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Sender lets clients send chat messages over the socket. body is the JSON
// object a client would POST to /v3/messages. It returns the created message
// (any JSON-marshalable value) or an error (*chat.Error for user errors).
type Sender interface {
	SendFromSocket(ctx context.Context, appID, uid string, body json.RawMessage) (any, error)
}

// Presence is told when a user's first connection opens (online=true) and
// last one closes (online=false). A report that returns an error is made
// again later (RetryPresence), with the state of that time.
type Presence interface {
	SetPresence(ctx context.Context, appID, uid string, online bool, at time.Time) error
}

// Hub keeps the live WebSocket connections of every app and user and fans
// frames out to them. See doc.go for its invariants.
type Hub struct {
	cfg      Config
	sender   Sender
	presence Presence
	log      *slog.Logger

	// force is cancelled when Shutdown gives up waiting; presence calls
	// derive from it, and Sender calls are aborted along with it.
	force       context.Context
	forceCancel context.CancelFunc

	nextID atomic.Uint64
	bufs   bufPool   // buffers of data passing through sockets; see sock
	start  time.Time // origin of clock

	mu      sync.RWMutex
	apps    map[string]map[string]*user // live connections by app and uid; see user
	pending map[userKey]*user           // users whose last presence report failed
	all     map[*conn]struct{}          // every connection from registration until it ends
	nconns  int                         // registered connections
	nusers  int                         // users with at least one registered connection
	active  int                         // Accept calls whose connection has not ended
	closed  bool                        // Shutdown has begun; no new connections
	drained chan struct{}               // closed once closed && active == 0

	// The pinger starts with the first registration and stops at
	// Shutdown; see pingLoop.
	pingerStop chan struct{} // nil until the pinger starts
	pingerDone chan struct{}

	// afterLeave, when set (by tests, before the first Accept), is called
	// each time an Accept call is counted out: its connection has ended
	// and every report about it has been made.
	afterLeave func()
}

type userKey struct{ appID, uid string }

// user is one (app, uid) entry of the registry. It outlives its last
// connection until the offline presence report is done (and, when that
// report fails, until a retry succeeds), so that presence reports of one
// user are serialized by pmu.
type user struct {
	key   userKey
	conns []*conn // guarded by Hub.mu; oldest first

	pmu      sync.Mutex // held while reporting presence for this user
	reported bool       // guarded by pmu: the state last told to Presence
}

// New returns a hub. sender and presence may be nil: without a Sender,
// "message" frames get an error reply; without a Presence nothing is told.
// A nil logger discards logs.
func New(cfg Config, sender Sender, presence Presence, logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	force, cancel := context.WithCancel(context.Background())
	return &Hub{
		cfg:         cfg.WithDefaults(),
		sender:      sender,
		presence:    presence,
		log:         logger,
		force:       force,
		forceCancel: cancel,
		start:       time.Now(),
		apps:        make(map[string]map[string]*user),
		pending:     make(map[userKey]*user),
		all:         make(map[*conn]struct{}),
		drained:     make(chan struct{}),
	}
}

// Publish queues frame for every live connection of each uid in uids (of
// appID). It never blocks on a connection: a connection whose queue is full
// is closed as a slow consumer instead. frame is shared by all those
// connections and written later, so the caller must not modify it after the
// call. A uid listed twice gets the frame twice. Safe for concurrent use.
func (h *Hub) Publish(appID string, uids []string, frame []byte) {
	var slow []*conn
	h.mu.RLock()
	for _, uid := range uids {
		u := h.apps[appID][uid]
		if u == nil {
			continue
		}
		slow = u.enqueue(frame, slow, false)
	}
	h.mu.RUnlock()
	h.dropSlow(slow)
}

// PublishApp queues frame for every live connection of appID whose client
// subscribed to the app's presence (AcceptWith), as Publish does for
// listed users.
func (h *Hub) PublishApp(appID string, frame []byte) {
	var slow []*conn
	h.mu.RLock()
	for _, u := range h.apps[appID] {
		slow = u.enqueue(frame, slow, true)
	}
	h.mu.RUnlock()
	h.dropSlow(slow)
}

// enqueue queues frame for u's connections (only those subscribed to
// presence, with presenceOnly) and appends to slow those whose queue is
// full. Hub.mu must be held.
func (u *user) enqueue(frame []byte, slow []*conn, presenceOnly bool) []*conn {
	for _, c := range u.conns {
		if presenceOnly && !c.presence {
			continue
		}
		if !c.enqueue(frame) {
			slow = append(slow, c)
		}
	}
	return slow
}

// dropSlow closes slow consumers.
func (h *Hub) dropSlow(slow []*conn) {
	for _, c := range slow {
		if h.drop(c, websocket.StatusPolicyViolation, reasonSlowConsumer) {
			c.logger().Warn("realtime: closing slow consumer", "queued", h.cfg.SendBuffer)
		}
	}
}

// Online reports whether uid of appID has at least one live connection.
func (h *Hub) Online(appID, uid string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	u := h.apps[appID][uid]
	return u != nil && len(u.conns) > 0
}

// Stats returns the number of live connections and of users with at least
// one of them. Connections being closed are not counted.
func (h *Hub) Stats() (conns, users int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.nconns, h.nusers
}

// Shutdown stops accepting connections (new upgrades get 503), stops the
// pinger, closes every live connection with status 1001 (going away) and
// waits until every connection has ended (and every Accept call still
// upgrading has returned). If ctx ends first it cancels Sender and
// presence calls and returns ctx's error without waiting further; the
// remaining connections then end within the bounds of what they are doing
// (a write within WriteTimeout, a ping within PongTimeout, a close
// handshake within the library's 5s to write and 5s for the answer).
// Offline presence reports cancelled this way are lost, so presence kept
// in a database should be reset when the server starts. Calling Shutdown
// again waits again.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	wasClosed := h.closed
	h.closed = true
	var all []*conn
	for _, users := range h.apps {
		for _, u := range users {
			all = append(all, u.conns...)
		}
	}
	for _, c := range all {
		h.unregisterLocked(c)
	}
	if !wasClosed && h.active == 0 {
		close(h.drained)
	}
	pingerStop, pingerDone := h.pingerStop, h.pingerDone
	if !wasClosed && pingerStop != nil {
		close(pingerStop)
	}
	h.mu.Unlock()

	for _, c := range all {
		c.requestClose(websocket.StatusGoingAway, reasonShutdown)
	}
	if pingerDone != nil {
		<-pingerDone // at most one round of starting pings
	}
	select {
	case <-h.drained:
		return nil
	case <-ctx.Done():
		h.forceCancel()
		h.mu.RLock()
		for c := range h.all {
			c.abort()
		}
		h.mu.RUnlock()
		return fmt.Errorf("realtime: shutdown: %w", ctx.Err())
	}
}

// enter counts an Accept call in; it fails once Shutdown has begun.
func (h *Hub) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.active++
	return true
}

// leave counts an Accept call out: one that did not upgrade, or the
// connection it served has ended.
func (h *Hub) leave() {
	h.mu.Lock()
	h.active--
	if h.closed && h.active == 0 {
		close(h.drained)
	}
	h.mu.Unlock()
	if h.afterLeave != nil {
		h.afterLeave()
	}
}

// register adds c to its user's live connections. When the user is at
// MaxConnsPerUser the oldest connection is unregistered and told to close.
// It fails once Shutdown has begun.
func (h *Hub) register(c *conn) bool {
	var evicted *conn
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return false
	}
	users := h.apps[c.appID]
	if users == nil {
		users = make(map[string]*user)
		h.apps[c.appID] = users
	}
	u := users[c.uid]
	if u == nil {
		u = &user{key: userKey{c.appID, c.uid}}
		users[c.uid] = u
	}
	if len(u.conns) >= h.cfg.MaxConnsPerUser {
		evicted = u.conns[0]
		h.unregisterLocked(evicted)
	}
	if h.pingerStop == nil {
		h.pingerStop, h.pingerDone = make(chan struct{}), make(chan struct{})
		go h.pingLoop(h.pingerStop, h.pingerDone)
	}
	c.user = u
	c.registered = true
	h.all[c] = struct{}{}
	u.conns = append(u.conns, c)
	h.nconns++
	if len(u.conns) == 1 {
		h.nusers++
	}
	h.mu.Unlock()

	if evicted != nil && evicted.requestClose(websocket.StatusPolicyViolation, reasonTooManyConns) {
		evicted.logger().Info("realtime: closing oldest connection of user", "max", h.cfg.MaxConnsPerUser)
	}
	return true
}

// forget removes c from the set of connections Shutdown may cancel; Accept
// calls it when c is done.
func (h *Hub) forget(c *conn) {
	h.mu.Lock()
	delete(h.all, c)
	h.mu.Unlock()
}

// unregisterLocked removes c from the registry; it is a no-op when c is not
// registered. h.mu must be held for writing.
func (h *Hub) unregisterLocked(c *conn) {
	if !c.registered {
		return
	}
	c.registered = false
	u := c.user
	if i := slices.Index(u.conns, c); i >= 0 {
		u.conns = slices.Delete(u.conns, i, i+1) // clears the tail slot too
	}
	if len(u.conns) == 0 {
		u.conns = nil
		h.nusers--
	}
	h.nconns--
}

// drop unregisters c, so that no more frames are routed to it, and tells its
// writer to close it with code and reason (code 0: without a handshake). It
// reports whether this call was the one that started the close.
func (h *Hub) drop(c *conn, code websocket.StatusCode, reason string) bool {
	h.mu.Lock()
	h.unregisterLocked(c)
	h.mu.Unlock()
	return c.requestClose(code, reason)
}

// syncPresence tells Presence the current state of u if it differs from the
// last state told (or, with force, whenever u is online). Reports for one
// user are serialized by u.pmu and always read the registry after taking
// it, so the last report reflects the final state even when opens and
// closes race. A report that fails leaves u pending: RetryPresence makes
// it again. An entry without connections is removed from the registry
// after its offline report succeeded.
//
// It may do I/O (bounded by presenceTimeout) and must not be called with
// h.mu held.
func (h *Hub) syncPresence(u *user, force bool) {
	u.pmu.Lock()
	defer u.pmu.Unlock()

	h.mu.RLock()
	online := len(u.conns) > 0
	h.mu.RUnlock()

	failed := false
	if online != u.reported || force && online {
		if h.presence != nil {
			ctx, cancel := context.WithTimeout(h.force, presenceTimeout)
			err := h.presence.SetPresence(ctx, u.key.appID, u.key.uid, online, h.cfg.Now())
			cancel()
			if err != nil {
				failed = true
				h.log.Warn("realtime: presence report failed; it is made again later",
					"app", u.key.appID, "uid", u.key.uid, "online", online, "err", err)
			}
		}
		if !failed {
			u.reported = online
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if failed {
		h.pending[u.key] = u
		return
	}
	if h.pending[u.key] == u {
		delete(h.pending, u.key)
	}
	if !online && len(u.conns) == 0 && h.apps[u.key.appID][u.key.uid] == u {
		delete(h.apps[u.key.appID], u.key.uid)
		if len(h.apps[u.key.appID]) == 0 {
			delete(h.apps, u.key.appID)
		}
	}
}

// Run makes failed presence reports again every presenceRetry until ctx
// ends (RetryPresence).
func (h *Hub) Run(ctx context.Context) error {
	t := time.NewTicker(presenceRetry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			h.RetryPresence()
		}
	}
}

// RetryPresence makes again the presence reports that failed (the store
// was unreachable), each with the user's state now. The server calls it
// periodically; it returns how many users are still pending.
func (h *Hub) RetryPresence() int {
	h.mu.RLock()
	users := make([]*user, 0, len(h.pending))
	for _, u := range h.pending {
		users = append(users, u)
	}
	h.mu.RUnlock()
	for _, u := range users {
		h.syncPresence(u, false)
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.pending)
}

// Reannounce reports every user with a live connection online again,
// whatever was reported before: the store lost what this hub told it (in
// a cluster, the node was taken for dead and its presence ended). It
// stops early when ctx ends.
func (h *Hub) Reannounce(ctx context.Context) {
	h.mu.RLock()
	var users []*user
	for _, us := range h.apps {
		for _, u := range us {
			users = append(users, u)
		}
	}
	h.mu.RUnlock()
	for _, u := range users {
		if ctx.Err() != nil {
			return
		}
		h.syncPresence(u, true)
	}
}

// clock is the hub's monotonic time in nanoseconds, for ping schedules.
func (h *Hub) clock() int64 { return int64(time.Since(h.start)) }

// pingLoop pings every registered connection about every PingInterval from
// one ticker, so that an idle connection needs no timer or goroutine of its
// own. It ticks eight times per interval and starts a ping goroutine for
// each connection whose ping is due; a connection is due PingInterval
// after its registration or after its previous ping ended, so its pings
// are between PingInterval and 9/8 of it apart and the pings of many
// connections spread over the interval as their registrations do.
func (h *Hub) pingLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(max(h.cfg.PingInterval/pingTicks, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			h.pingDue()
		}
	}
}

// pingDue starts a ping for every registered connection whose ping is due.
func (h *Hub) pingDue() {
	now := h.clock()
	var due []*conn
	h.mu.RLock()
	for _, us := range h.apps {
		for _, u := range us {
			for _, c := range u.conns {
				if c.pingDue.Load() <= now {
					due = append(due, c)
				}
			}
		}
	}
	h.mu.RUnlock()
	for _, c := range due {
		c.startPing()
	}
}

// Package realtime is the WebSocket hub: it pushes JSON text frames
// ({"type": ..., "data": ...}) to the connected users of every app and lets
// clients send chat messages over the same socket.
//
// The hub never sees credentials. The API layer authenticates the upgrade
// request and calls Hub.Accept with the app and user it found; Accept
// therefore accepts any Origin (see its doc comment).
//
// # Connections and goroutines
//
// An idle connection has one goroutine, its reader. Accept upgrades, reports
// presence online, starts the reader and returns; Shutdown waits until the
// reader of every connection has ended, and a reader ends only after the
// other goroutines of its connection:
//
//   - the reader reads client frames one at a time and handles each before
//     reading the next, so frames from one socket are answered, and their
//     messages created, in the order sent. A Sender call blocks that
//     connection's reading only. When reading ends it waits for the
//     writer and a ping, unregisters the connection and reports presence.
//   - the writer runs only while there is work: it is started when a frame
//     is queued or a close requested while none runs, writes until the queue
//     is empty and returns, or performs the close and returns. It performs
//     every data write the hub initiates: queued frames, replies and the
//     close frame. At most one runs per connection.
//   - a ping goroutine runs while a ping waits for its pong. The hub's
//     pinger (one goroutine and one ticker for all connections, started at
//     the first registration and stopped by Shutdown) starts one when a
//     connection's ping is due; see Hub.pingLoop.
//
// (The library itself, from inside Read, answers the peer's pings, echoes
// its close and sends 1002/1009 closes on protocol errors; its write lock
// serializes those with ours.) Writer and ping goroutines are started only
// under the connection's mutex while no close has been requested, except
// the writer that performs the close, which is started in the same critical
// section that records the request; so once the reader has requested a
// close, no goroutine of the connection can start and the reader can wait
// for the running ones.
//
// The reader does not run on Accept's goroutine (the net/http handler
// goroutine): that goroutine's stack has grown with the token check (the
// SQLite driver's frames are deep) and the handler frames below Accept would
// keep net/http's connection state, request and response alive; a fresh
// goroutine blocked in a read keeps a 4 KiB stack and nothing else. Pings no
// longer hold up queued frames either: a ping waits for its pong on its own
// goroutine, not on the writer's.
//
// # Queues and slow consumers
//
// Each connection has a queue of at most Config.SendBuffer frames guarded by
// its own mutex. The queue is a slice that grows on demand and is released
// when the writer takes it, so an idle connection holds no queue memory (a
// buffered channel of 256 would cost 6 KiB per connection whether used or
// not). Publish appends without blocking, starting the writer if it is not
// running; when a queue is full the connection is a slow consumer: it is
// unregistered at once (no more frames are routed to it), its queue is
// dropped, and its writer closes it with 1008 "slow consumer" after the
// frame it may be writing. The client catches up over REST. Replies (ack,
// error, pong) go through the same queue, so a client that does not read its
// replies is a slow consumer too. Frames are shared between connections and
// must not be modified after Publish.
//
// # Registry
//
// The registry maps (app, uid) to that user's live connections, oldest
// first, under one RWMutex: Publish and lookups take it for reading, opens
// and closes for writing. Lock order is Hub.mu, then conn.mu; nothing takes
// Hub.mu while holding conn.mu, and no callback or I/O runs under either.
// A connection is "live" (registered, counted by Stats and Online) from its
// registration until a close is requested for it: a full queue, eviction by
// MaxConnsPerUser (the oldest connection gets 1008 "too many connections"),
// Shutdown, a binary frame, or its reader or writer failing.
//
// # Presence
//
// Presence is told online when a user's first live connection appears and
// offline when the last one goes. Calls run on the connection's own
// goroutines (Accept's after registering and before the writer starts, so
// the client gets its connected frame only once it is recorded; the
// reader's after the writer has ended), outside all hub locks, with a
// context bounded by presenceTimeout. Reports for one user are serialized
// by a per-user mutex and each report re-reads the registry after taking
// it, so concurrent opens and closes cannot leave Presence with a stale
// state: the last report always matches the registry. A quick open-close
// may therefore produce no report at all. A report that fails leaves the
// user pending (its registry entry is kept even without connections) and
// Run makes it again every presenceRetry with the state of that time;
// Reannounce reports every connected user online again, for a store that
// lost what it was told (a cluster node taken for dead).
//
// # Failure policy
//
//   - A client frame over Config.ReadLimit: the library closes with 1009.
//   - A binary frame: close with 1003.
//   - Malformed JSON or an unknown type: an error frame ERR_BAD_REQUEST; the
//     connection stays open.
//   - A Sender error: an error frame with the *chat.Error code and message;
//     any other error (or a chat error of kind Internal) is logged and the
//     client gets ERR_MISSION_FAILED "internal error".
//   - A write not done within Config.WriteTimeout, or a ping not answered
//     within Config.PongTimeout while the reader is idle: the socket is
//     closed without a handshake.
//   - Shutdown: every connection is closed with 1001 and Shutdown waits for
//     all of them to end; when its context ends first, it cancels Sender and
//     Presence contexts and returns. New upgrades get 503.
//
// Queued frames are dropped, not flushed, when a close is requested: every
// such client has to catch up over REST anyway. A Sender call in flight
// during a graceful close (1001, 1008, 1003) is allowed to finish, so a
// message is not cut off half-created; its reply is dropped. When the socket
// fails, or Shutdown's deadline passes, the call's context is cancelled.
//
// # Memory
//
// An idle connection costs the server about 7.5 KiB (Go 1.26, linux/amd64;
// `parley bench` and BenchmarkIdleConnMemory): 4 KiB of stack for its
// reader, the smallest stack a goroutine blocked in a read keeps after GC
// has shrunk it, and about 3.4 KiB of heap: 1.4 KiB the library's Conn,
// 0.45 KiB the reader's goroutine descriptor, 0.4 KiB the upgrade
// request's context (kept for its values, see conn.values), 0.4 KiB the
// hub's conn and registry entry, 0.3 KiB the sock with the library's two
// 16-byte bufio buffers, 0.3 KiB net's TCPConn with its addresses. What
// the design does for it:
//
//   - one goroutine per idle connection (writer and pings on demand);
//   - the reader on a fresh goroutine, so that the handler goroutine's stack,
//     grown by the token check, and net/http's request state are freed;
//   - no 4 KiB bufio buffers: sock holds pooled buffers only while data
//     passes;
//   - no timer, ticker or cancellable context per idle connection: pings
//     come from one ticker, writes are bounded by the socket's deadline, a
//     Sender call gets its own context.
//
// A connection that has handled frames may hold a larger stack (a Sender
// call runs on the reader) until a few GC cycles have shrunk it.
package realtime

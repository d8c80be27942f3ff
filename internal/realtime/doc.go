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
// Each connection has exactly two goroutines, and Accept returns only after
// both have ended:
//
//   - the reader is the goroutine that called Accept (the net/http handler
//     goroutine). It reads client frames one at a time and handles each
//     before reading the next, so frames from one socket are answered, and
//     their messages created, in the order sent. A Sender call blocks that
//     connection's reading only.
//   - the writer is started by Accept. It performs every write the hub
//     initiates: queued frames, replies, pings and the close frame. (The
//     library itself, from inside Read, answers the peer's pings, echoes its
//     close and sends 1002/1009 closes on protocol errors; its own write lock
//     serializes those with ours.)
//
// Running the reader on Accept's goroutine instead of a third goroutine that
// Accept would merely wait on saves one stack per connection.
//
// # Queues and slow consumers
//
// Each connection has a queue of at most Config.SendBuffer frames guarded by
// its own mutex, and a one-slot wake channel for its writer. The queue is a
// slice that grows on demand and is released when the writer takes it, so an
// idle connection holds no queue memory (a buffered channel of 256 would cost
// 6 KiB per connection whether used or not). Publish appends without
// blocking; when a queue is full the connection is a slow consumer: it is
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
// offline when the last one goes. Calls run on the connection's own reader
// goroutine (after registering and before the writer starts, so the client
// gets its connected frame only once it is recorded; and after the writer
// has ended), outside all hub locks, with a context bounded by
// presenceTimeout. Reports for one user are serialized by a per-user mutex
// and each report re-reads the registry after taking it, so concurrent
// opens and closes cannot leave Presence with a stale state: the last
// report always matches the registry. A quick open-close may therefore
// produce no report at all. A report that fails leaves the user pending
// (its registry entry is kept even without connections) and Run makes it
// again every presenceRetry with the state of that time; Reannounce
// reports every connected user online again, for a store that lost what it
// was told (a cluster node taken for dead).
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
//     all Accept calls; when its context ends first, it cancels the rest
//     (Sender and Presence contexts are cancelled, idle writers close their
//     sockets without a handshake) and returns. New upgrades get 503.
//
// Queued frames are dropped, not flushed, when a close is requested: every
// such client has to catch up over REST anyway. A Sender call in flight
// during a graceful close (1001, 1008, 1003) is allowed to finish, so a
// message is not cut off half-created; its reply is dropped. When the socket
// fails, or Shutdown's deadline passes, the call's context is cancelled.
//
// # Memory
//
// BenchmarkIdleConnMemory measured an idle connection at 27-29 KiB of server
// memory (Go 1.26, linux/amd64): 15-16 KiB heap and 12 KiB of stack for the
// two goroutines. Of the heap, 8 KiB are the two 4 KiB bufio buffers of the
// hijacked net/http connection, which the WebSocket library keeps using;
// 2-3 KiB the upgrade request that net/http keeps until the handler
// returns; about 1.5 KiB the library's Conn; about 1.5 KiB the hub's own
// state (conn, context, ticker, registry entries).
package realtime

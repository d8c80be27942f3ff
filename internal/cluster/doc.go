// Package cluster carries real-time events between the nodes that share
// one PostgreSQL database, and keeps each node a live member of the
// cluster (Node: its lease, the presence of dead nodes; see node.go and
// docs/decisions/cluster.md).
//
// # How an event travels
//
// A write that publishes events (app.write) inserts them into the outbox
// table realtime_events inside its own transaction and calls
// pg_notify('parley_events'). PostgreSQL sends the notification at commit,
// never for a transaction that rolled back, so an event exists exactly
// when its write does. Every node, the writing one included, runs a Fanout:
// a dedicated connection LISTENs on the channel; on each notification, on
// every (re)connect and every SafetyPoll it reads the outbox rows it has
// not published yet and hands each to its hub, which writes to the node's
// own WebSocket connections.
//
// # Never skipping a late commit
//
// Outbox ids come from an identity sequence when a row is inserted, but
// transactions commit in any order: id 7 may become visible after id 8, and
// ids of rolled-back (or retried) transactions never appear at all. The
// Fanout therefore keeps a low-water mark (every id at or below it is
// published or given up on), the set of ids above it already published,
// and, for each missing id below the highest published one, when it was
// first found missing. It reads rows with id above the mark, publishes
// those not in the set, and moves the mark up to just below the oldest gap
// still younger than GapWait. A write transaction commits within
// milliseconds of drawing its id, so a gap older than GapWait is an id
// that will never appear (a rollback); an event whose transaction was held
// open longer than that is missed by nodes that already gave up on it
// (clients refill from REST).
//
// # Failure policy
//
// When the listening connection fails (PostgreSQL restarts, the network
// drops), the Fanout reconnects with backoff and reads from its mark: no
// event still in the outbox is lost (rows are kept for
// dispatch.RealtimeRetention). A node starts at the newest id present:
// clients that connect later load history over REST, as on one node.
// Events are published at least once per node and never twice (the
// published set), in id order within each read.
package cluster

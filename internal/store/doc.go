// Package store is the only package that speaks SQL. It keeps parley's data
// in SQLite (the default, pure Go) or in PostgreSQL (through pgx), chosen by
// the database URL. Queries are written once, in portable SQL with '?'
// placeholders; every difference between the two engines lives in
// dialect.go (docs/decisions/postgresql.md lists them).
//
// # Transactions
//
// All writes go through DB.Write, which runs a function inside a
// transaction; all reads through DB.Read, one read-only transaction that
// sees one consistent snapshot. Each Tx carries Now, fixed when the
// function starts, so every timestamp a use case writes is the same
// instant.
//
// On SQLite there is exactly one writer connection; the writer goroutine
// takes every write request that is waiting, runs them in one shared
// transaction and commits them together (group commit). A failing request
// does not disturb the others: the batch runs again with each request in
// its own SAVEPOINT (see DB.runBatch). Write returns only after the commit is
// durable, so a caller that answers 2xx after Write has its data on disk
// even if the process is killed or the machine loses power right after.
// The writer does not wait for the fsync itself: it commits (WAL mode,
// synchronous=NORMAL) and goes on with the next batch while the syncer
// goroutine fsyncs the WAL for every batch committed so far and then
// answers their requests in commit order (syncer.go). Reads run on a pool
// of read-only connections beside the writer (WAL) and return only once
// every commit they may have seen is durable.
//
// On PostgreSQL every Write is its own SERIALIZABLE transaction on a
// connection pool, so that use cases that read, check and then write stay
// as correct as behind SQLite's single writer. A transaction that fails to
// serialize against a concurrent one (or deadlocks) is rolled back and the
// function runs again from the start, in a new transaction with a new Now,
// up to pgWriteAttempts times with jittered backoff; functions must
// therefore keep their effects inside the transaction (app.write resets
// its after-commit effects on every run). A statement that fails aborts a
// PostgreSQL transaction, so store methods report expected conflicts
// without a failing statement (INSERT ... ON CONFLICT DO NOTHING), and a
// write whose function swallowed a failed statement fails as a whole.
// Reads are READ ONLY, REPEATABLE READ transactions on the same pool.
// Message ids of an app follow commit order on both engines (a
// transaction-scoped advisory lock on PostgreSQL), which message cursors
// rely on.
//
// # Migrations
//
// Numbered SQL files per engine, embedded, with the same numbers and names
// in both directories; applied at Open (and by Migrate), each in its own
// transaction under a lock, so that several processes starting at once
// apply each migration once.
//
// # Failure policy
//
// Driver errors are translated once, by SQLite result code or PostgreSQL
// SQLSTATE, in dialect.go: unique violations become chat.KindConflict;
// busy, serialization failures and deadlocks (once retries are spent)
// become chat.KindUnavailable; text PostgreSQL cannot store (NUL)
// becomes chat.KindInvalid; everything else is an internal error that
// carries the operation name. Rows that are not found are reported by each
// method as chat.KindNotFound with the CometChat code the caller expects.
//
// # Several nodes
//
// Several processes may share one PostgreSQL database: writes and
// migrations are safe against each other (docs/decisions/cluster.md).
// ClaimDeliveries leases lane heads in one SERIALIZABLE write that locks
// them FOR UPDATE SKIP LOCKED and counts every node's live leases against
// a bot's cap; a dead node's leases expire, they are never cleared at
// start (ClearLeases is for SQLite's single node). Real-time events go
// through the realtime_events outbox with pg_notify (cluster.go; read by
// internal/cluster). MaintenanceTurn elects the node that runs periodic
// work with a session advisory lock held on a pool connection. Each node
// renews a lease in cluster_nodes and keeps a presence row per user it
// holds a connection of (presence.go); rows of nodes whose lease ran out
// do not count. A PostgreSQL that cannot be reached (refused or ended
// connections) is chat.KindUnavailable.
package store

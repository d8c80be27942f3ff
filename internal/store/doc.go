// Package store is the only package that speaks SQL. It keeps parley's data
// in SQLite (the default, pure Go) and will grow a PostgreSQL dialect; every
// difference between the two lives in dialect.go.
//
// # Transactions
//
// All writes go through DB.Write, which runs a function inside a
// transaction. On SQLite there is exactly one writer connection; the writer
// goroutine takes every write request that is waiting, runs each inside its
// own SAVEPOINT of one shared transaction, and commits them together (group
// commit). A failing request rolls back to its savepoint and does not
// disturb the others. Write returns only after the commit is durable
// (synchronous=FULL in WAL mode: the WAL is fsynced at every commit), so a
// caller that answers 2xx after Write has its data on disk even if the
// process is killed right after.
//
// Reads go through DB.Read on a pool of read-only connections; each Read is
// one read transaction, so it sees one consistent snapshot (WAL lets readers
// run beside the writer).
//
// Each Tx carries Now, fixed when the function starts, so every timestamp a
// use case writes is the same instant.
//
// # Failure policy
//
// Driver errors are translated once, by SQLite result code, in dialect.go:
// unique violations become chat.KindConflict, busy becomes
// chat.KindUnavailable; everything else is an internal error that carries
// the operation name. Rows that are not found are reported by each method as
// chat.KindNotFound with the CometChat code the caller expects.
package store

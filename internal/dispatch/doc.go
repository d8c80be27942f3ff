// Package dispatch is the delivery engine: it POSTs queued deliveries to
// bots' callback URLs and records every attempt.
//
// # Invariants
//
//   - Deliveries are rows written in the transaction of their message
//     (app.relay); the engine only reads due rows and records outcomes
//     through app use cases. A crash loses at most the knowledge that an
//     attempt happened: the delivery is attempted again, with the same
//     webhook-id (at least once).
//   - Lanes: a lane is (app, bot, conversation). Only the oldest pending
//     delivery of a lane is ever attempted, and at most one attempt of a
//     lane is in flight, so a bot sees a conversation's messages in order,
//     even across retries. Different lanes and bots proceed in parallel.
//   - Caps: a bot has at most MaxInFlight requests in flight (per-bot
//     override, default 16), and the engine at most Workers overall, so one
//     slow or dead bot holds at most its own slots. A slot is free once the
//     bot's answer is in; the lane stays taken until the attempt is
//     recorded (on a cluster the lease counts until then).
//   - Leases: a delivery is claimed by leasing it in the database
//     (store.ClaimDeliveries, one write) for its attempt timeout plus
//     Lease, to this node (Config.Node); a lease left by a dead process
//     expires and the delivery is claimed again, by any node. A claimed
//     delivery the node cannot start now is released at once. On start a
//     single node (SQLite) releases its old leases; on PostgreSQL other
//     nodes' leases are live, so none is released.
//   - Several nodes: the database decides what each node may attempt. A
//     lane's head with a live lease is not due, and later deliveries of
//     the lane are not heads, so a lane is worked by one node at a time
//     and stays in order. Live leases of every node count against a bot's
//     cap (a failing bot's is 1: one probe in the whole cluster). The
//     in-memory bookkeeping below is this node's share of that.
//   - Maintenance (expiry, outbox retention) runs on the one node whose
//     turn it is (store.MaintenanceTurn: an advisory lock).
//
// # Health
//
// Consecutive retryable failures put a bot in the failing state
// (chat.HealthPolicy): its lanes hold; when its next probe is due the
// engine attempts exactly one due delivery as the probe. Success resumes
// every lane; failure doubles the probe interval. A 410 answer disables
// the bot; deliveries of a disabled bot are failed ("bot_disabled") when
// they come due, so nothing queued is sent later unless replayed.
//
// # Concurrency
//
// Run owns the loop goroutine; each attempt runs in a goroutine tracked by
// a WaitGroup that Run waits for before returning. The in-memory lane and
// cap bookkeeping is guarded by one mutex and never held across I/O.
// Attempts are not cancelled by shutdown: they finish within their
// timeout, so a bot is not cut off half-way.
package dispatch

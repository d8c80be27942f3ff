-- What several nodes on one database need (docs/decisions/cluster.md).
-- SQLite serves one node, so it never writes these; they exist so that the
-- schemas stay twins (and `parley copy` moves between engines).

-- The real-time outbox (used on PostgreSQL only).
CREATE TABLE realtime_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id     TEXT NOT NULL,
    uids       TEXT NOT NULL,
    frame      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX realtime_events_created ON realtime_events (created_at);

-- The node holding a delivery's lease.
ALTER TABLE deliveries ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';

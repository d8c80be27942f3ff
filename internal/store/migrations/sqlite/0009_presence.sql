-- Presence across the nodes of a cluster (docs/decisions/cluster.md).
-- SQLite serves one node, whose hub knows its connections: it never writes
-- these; they exist so that the schemas stay twins (and `parley copy`
-- moves between engines).

-- The nodes serving this database, with the lease each renews.
CREATE TABLE cluster_nodes (
    id           TEXT PRIMARY KEY,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    lease_until  INTEGER NOT NULL
);

-- One row per user connected to a node.
CREATE TABLE presence (
    app_id TEXT NOT NULL,
    uid    TEXT NOT NULL,
    node   TEXT NOT NULL,
    since  INTEGER NOT NULL,
    PRIMARY KEY (app_id, uid, node)
);
CREATE INDEX presence_node ON presence (node);

-- An outbox event for every connection of the app.
ALTER TABLE realtime_events ADD COLUMN to_app INTEGER NOT NULL DEFAULT 0;

-- PostgreSQL twin of migrations/sqlite/0008_presence.sql. Presence across
-- the nodes of a cluster (docs/decisions/cluster.md).

-- The nodes serving this database: each renews its lease while it lives.
-- A node whose lease ran out is dead; its presence rows are ended by the
-- node whose maintenance turn it is. Times in Unix milliseconds.
CREATE TABLE cluster_nodes (
    id           TEXT COLLATE "C" PRIMARY KEY,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    lease_until  BIGINT NOT NULL
);

-- One row per user connected to a node (at least one WebSocket there).
-- A user is available while one of its rows belongs to a live node.
CREATE TABLE presence (
    app_id TEXT COLLATE "C" NOT NULL,
    uid    TEXT COLLATE "C" NOT NULL,
    node   TEXT COLLATE "C" NOT NULL,
    since  BIGINT NOT NULL,
    PRIMARY KEY (app_id, uid, node)
);
CREATE INDEX presence_node ON presence (node);

-- An outbox event for every connection of the app (a presence change),
-- rather than for the users listed in uids.
ALTER TABLE realtime_events ADD COLUMN to_app BIGINT NOT NULL DEFAULT 0;

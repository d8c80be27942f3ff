-- Custom bots and their deliveries. Times in milliseconds where the
-- delivery engine schedules (next_attempt_at, lease_until, attempt times),
-- Unix seconds elsewhere.

CREATE TABLE bots (
    app_id               TEXT NOT NULL,
    uid                  TEXT NOT NULL,
    webhook_url          TEXT NOT NULL,
    group_chat_setting   TEXT NOT NULL DEFAULT 'none',
    enabled              INTEGER NOT NULL DEFAULT 0,
    use_basic_auth       INTEGER NOT NULL DEFAULT 0,
    username             TEXT NOT NULL DEFAULT '',
    password             TEXT NOT NULL DEFAULT '',
    -- signing secrets: the current one, and the previous one while a
    -- rotation window is open (until previous_secret_until, ms).
    secret               TEXT NOT NULL,
    previous_secret      TEXT NOT NULL DEFAULT '',
    previous_secret_until INTEGER NOT NULL DEFAULT 0,
    secret_rotated_at    INTEGER NOT NULL DEFAULT 0,
    max_in_flight        INTEGER NOT NULL DEFAULT 0,
    timeout_seconds      INTEGER NOT NULL DEFAULT 0,
    -- the per-bot sequence number of the newest delivery
    seq                  INTEGER NOT NULL DEFAULT 0,
    -- health of the endpoint
    health_state         TEXT NOT NULL DEFAULT 'healthy',
    health_reason        TEXT NOT NULL DEFAULT '',
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_success_at      INTEGER NOT NULL DEFAULT 0,
    last_failure_at      INTEGER NOT NULL DEFAULT 0,
    failing_since        INTEGER NOT NULL DEFAULT 0,
    next_probe_at        INTEGER NOT NULL DEFAULT 0,
    probe_interval       INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, uid),
    FOREIGN KEY (app_id, uid) REFERENCES users (app_id, uid) ON DELETE CASCADE
);

-- One delivery of one message to one bot. A lane is (app_id, bot_uid,
-- conversation_id): its pending deliveries go out one at a time, in id
-- order.
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id           TEXT NOT NULL,
    bot_uid          TEXT NOT NULL,
    message_id       INTEGER NOT NULL,
    conversation_id  TEXT NOT NULL,
    parent_id        INTEGER NOT NULL DEFAULT 0,
    hop              INTEGER NOT NULL DEFAULT 0,
    seq              INTEGER NOT NULL,
    webhook_id       TEXT NOT NULL UNIQUE,
    kind             TEXT NOT NULL DEFAULT 'message', -- message | test
    state            TEXT NOT NULL,                   -- pending | succeeded | failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    -- when the delivery entered (or re-entered, by retry or replay) the
    -- queue; the retry window is measured from it
    queued_at        INTEGER NOT NULL,
    lease_until      INTEGER NOT NULL DEFAULT 0,
    last_status      INTEGER NOT NULL DEFAULT 0,
    last_error_class TEXT NOT NULL DEFAULT '',
    last_error       TEXT NOT NULL DEFAULT '',
    reply_message_id INTEGER NOT NULL DEFAULT 0,
    payload          TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    completed_at     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_lane ON deliveries (app_id, bot_uid, conversation_id, id);
CREATE INDEX deliveries_bot ON deliveries (app_id, bot_uid, id);

CREATE TABLE delivery_attempts (
    delivery_id      INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt          INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    latency_ms       INTEGER NOT NULL,
    status_code      INTEGER NOT NULL DEFAULT 0,
    error_class      TEXT NOT NULL DEFAULT '',
    error            TEXT NOT NULL DEFAULT '',
    request_headers  TEXT NOT NULL DEFAULT '',
    response_body    TEXT NOT NULL DEFAULT '',
    response_truncated INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (delivery_id, attempt)
);

-- Dashboard accounts and their sessions. Passwords are argon2id hashes in
-- PHC form; session ids are stored as SHA-256 hashes (hex), so a copy of
-- the database does not log anyone in. Times are Unix seconds.

CREATE TABLE admins (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL DEFAULT 0,
    last_login_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    username     TEXT NOT NULL REFERENCES admins (username) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    user_agent   TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_admin ON sessions (username);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- The chat console shows the bot deliveries of one message.
CREATE INDEX deliveries_message ON deliveries (app_id, message_id);

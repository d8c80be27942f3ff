-- The chat core: apps, keys, users, groups, messages, conversations.
-- Timestamps are Unix seconds. JSON values (metadata, tags, message data)
-- are TEXT; '' means absent.

CREATE TABLE apps (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    region     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- API keys are stored as SHA-256 hashes; prefix names a key in lists.
CREATE TABLE api_keys (
    hash       TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    prefix     TEXT NOT NULL,
    name       TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL DEFAULT 0,
    UNIQUE (app_id, prefix)
);

CREATE TABLE users (
    app_id         TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    uid            TEXT NOT NULL,
    name           TEXT NOT NULL,
    avatar         TEXT NOT NULL DEFAULT '',
    link           TEXT NOT NULL DEFAULT '',
    role           TEXT NOT NULL DEFAULT 'default',
    status_message TEXT NOT NULL DEFAULT '',
    metadata       TEXT NOT NULL DEFAULT '',
    tags           TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL DEFAULT 0,
    last_active_at INTEGER NOT NULL DEFAULT 0,
    deactivated_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, uid)
);
CREATE INDEX users_name ON users (app_id, name);

CREATE TABLE auth_tokens (
    token      TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL,
    uid        TEXT NOT NULL,
    platform   TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    app_info   TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL DEFAULT 0,
    FOREIGN KEY (app_id, uid) REFERENCES users (app_id, uid) ON DELETE CASCADE
);
CREATE INDEX auth_tokens_user ON auth_tokens (app_id, uid, created_at);

CREATE TABLE blocked_users (
    app_id      TEXT NOT NULL,
    uid         TEXT NOT NULL,
    blocked_uid TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (app_id, uid, blocked_uid),
    FOREIGN KEY (app_id, uid) REFERENCES users (app_id, uid) ON DELETE CASCADE
);
CREATE INDEX blocked_users_blocked ON blocked_users (app_id, blocked_uid);

CREATE TABLE chat_groups (
    app_id        TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    guid          TEXT NOT NULL,
    name          TEXT NOT NULL,
    type          TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    icon          TEXT NOT NULL DEFAULT '',
    description   TEXT NOT NULL DEFAULT '',
    owner         TEXT NOT NULL DEFAULT '',
    metadata      TEXT NOT NULL DEFAULT '',
    tags          TEXT NOT NULL DEFAULT '',
    members_count INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, guid)
);

-- read_id / delivered_id: the newest message id the member has read /
-- received in the group conversation.
CREATE TABLE group_members (
    app_id       TEXT NOT NULL,
    guid         TEXT NOT NULL,
    uid          TEXT NOT NULL,
    scope        TEXT NOT NULL,
    joined_at    INTEGER NOT NULL,
    read_id      INTEGER NOT NULL DEFAULT 0,
    read_at      INTEGER NOT NULL DEFAULT 0,
    delivered_id INTEGER NOT NULL DEFAULT 0,
    delivered_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, guid, uid),
    FOREIGN KEY (app_id, guid) REFERENCES chat_groups (app_id, guid) ON DELETE CASCADE
);
CREATE INDEX group_members_user ON group_members (app_id, uid);

CREATE TABLE group_bans (
    app_id    TEXT NOT NULL,
    guid      TEXT NOT NULL,
    uid       TEXT NOT NULL,
    banned_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, guid, uid),
    FOREIGN KEY (app_id, guid) REFERENCES chat_groups (app_id, guid) ON DELETE CASCADE
);

-- Messages of every app. id is global and increasing: it orders messages
-- and is the cursor of every message list.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id          TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    muid            TEXT NOT NULL DEFAULT '',
    sender          TEXT NOT NULL,
    receiver_type   TEXT NOT NULL,
    receiver        TEXT NOT NULL,
    category        TEXT NOT NULL,
    type            TEXT NOT NULL,
    data            TEXT NOT NULL,
    tags            TEXT NOT NULL DEFAULT '',
    mentions        TEXT NOT NULL DEFAULT '',
    has_attachments INTEGER NOT NULL DEFAULT 0,
    parent_id       INTEGER NOT NULL DEFAULT 0,
    reply_count     INTEGER NOT NULL DEFAULT 0,
    hop             INTEGER NOT NULL DEFAULT 0,
    sent_at         INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    edited_at       INTEGER NOT NULL DEFAULT 0,
    edited_by       TEXT NOT NULL DEFAULT '',
    deleted_at      INTEGER NOT NULL DEFAULT 0,
    deleted_by      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX messages_conversation ON messages (app_id, conversation_id, id);
CREATE INDEX messages_app ON messages (app_id, id);
CREATE INDEX messages_parent ON messages (app_id, parent_id, id);
-- muid makes a client's retried send idempotent per conversation.
CREATE INDEX messages_muid ON messages (app_id, sender, muid) WHERE muid <> '';

CREATE TABLE message_mentions (
    app_id     TEXT NOT NULL,
    uid        TEXT NOT NULL,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    PRIMARY KEY (app_id, uid, message_id)
);
CREATE INDEX message_mentions_message ON message_mentions (message_id);

-- One row per conversation (1:1 or group) that has messages.
CREATE TABLE conversations (
    app_id          TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    type            TEXT NOT NULL,
    last_message_id INTEGER NOT NULL DEFAULT 0,
    tags            TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (app_id, conversation_id)
);

-- A user's side of a 1:1 conversation: who with, and how far they read.
CREATE TABLE user_conversations (
    app_id          TEXT NOT NULL,
    uid             TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    peer            TEXT NOT NULL,
    read_id         INTEGER NOT NULL DEFAULT 0,
    read_at         INTEGER NOT NULL DEFAULT 0,
    delivered_id    INTEGER NOT NULL DEFAULT 0,
    delivered_at    INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (app_id, uid, conversation_id)
);
CREATE INDEX user_conversations_recent ON user_conversations (app_id, uid, updated_at);

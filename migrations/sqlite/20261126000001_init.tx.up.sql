-- SQLite twin of postgres/20261126000001_init.tx.up.sql for the embedded
-- mode: same tables, columns and keys. Times are TEXT in bun's UTC format
-- ("2006-01-02 15:04:05.999999+00:00"), which sorts like the instants.
CREATE TABLE workspaces (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

--bun:split

CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name          TEXT NOT NULL DEFAULT '',
    token_hash    BLOB NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    revoked_at    TEXT
);

--bun:split

CREATE TABLE sessions (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id         INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    display_name         TEXT NOT NULL,
    provider             TEXT NOT NULL CHECK (provider IN ('whatsmeow', 'webjs', 'meta_cloud')),
    status               TEXT NOT NULL DEFAULT 'pending',
    jid                  TEXT NOT NULL DEFAULT '',
    push_name            TEXT NOT NULL DEFAULT '',
    max_chats            INTEGER NOT NULL DEFAULT 0,
    sync_window_days     INTEGER NOT NULL DEFAULT 0,
    rate_per_minute      INTEGER NOT NULL DEFAULT 0,
    sync_status          TEXT NOT NULL DEFAULT 'pending',
    last_sync_at         TEXT,
    total_synced         INTEGER NOT NULL DEFAULT 0,
    last_error           TEXT NOT NULL DEFAULT '',
    secret_nonce         BLOB NOT NULL,
    backup               BOOLEAN NOT NULL DEFAULT 0,
    ban_expire_at        TEXT,
    meta_phone_number_id TEXT NOT NULL DEFAULT '',
    meta_token_sealed    BLOB,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

--bun:split

CREATE INDEX idx_sessions_workspace ON sessions (workspace_id, id);

--bun:split

CREATE UNIQUE INDEX idx_sessions_one_backup ON sessions (workspace_id) WHERE backup;

--bun:split

CREATE TABLE contacts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    phone_jid     TEXT,
    lid_jid       TEXT,
    phone_e164    TEXT NOT NULL DEFAULT '',
    phone_raw     TEXT NOT NULL DEFAULT '',
    phone_valid   BOOLEAN NOT NULL DEFAULT 0,
    push_name     TEXT NOT NULL DEFAULT '',
    full_name     TEXT NOT NULL DEFAULT '',
    updated_at    TEXT NOT NULL,
    CHECK (phone_jid IS NOT NULL OR lid_jid IS NOT NULL)
);

--bun:split

CREATE UNIQUE INDEX idx_contacts_phone_jid ON contacts (workspace_id, phone_jid);

--bun:split

CREATE UNIQUE INDEX idx_contacts_lid_jid ON contacts (workspace_id, lid_jid);

--bun:split

CREATE TABLE chats (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id          INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    session_id            INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    jid                   TEXT NOT NULL,
    type                  TEXT NOT NULL CHECK (type IN ('private', 'group')),
    name                  TEXT NOT NULL DEFAULT '',
    contact_id            INTEGER REFERENCES contacts (id) ON DELETE SET NULL,
    unread_count          INTEGER NOT NULL DEFAULT 0,
    archived              BOOLEAN NOT NULL DEFAULT 0,
    pinned                BOOLEAN NOT NULL DEFAULT 0,
    last_activity_at      TEXT NOT NULL DEFAULT '1970-01-01 00:00:00+00:00',
    last_message_at       TEXT NOT NULL DEFAULT '1970-01-01 00:00:00+00:00',
    last_message_preview  TEXT NOT NULL DEFAULT '',
    participant_count     INTEGER NOT NULL DEFAULT 0,
    search_text           TEXT NOT NULL DEFAULT '',
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    UNIQUE (session_id, jid)
);

--bun:split

CREATE TABLE groups (
    chat_id       INTEGER PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE,
    subject       TEXT NOT NULL DEFAULT '',
    description   TEXT NOT NULL DEFAULT '',
    owner_jid     TEXT NOT NULL DEFAULT '',
    updated_at    TEXT NOT NULL
);

--bun:split

CREATE TABLE group_participants (
    chat_id     INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    jid         TEXT NOT NULL,
    phone_e164  TEXT NOT NULL DEFAULT '',
    role        TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'admin', 'superadmin')),
    contact_id  INTEGER REFERENCES contacts (id) ON DELETE SET NULL,
    PRIMARY KEY (chat_id, jid)
);

--bun:split

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id     INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    wa_id       TEXT NOT NULL,
    sender_jid  TEXT NOT NULL DEFAULT '',
    from_me     BOOLEAN NOT NULL DEFAULT 0,
    sent_at     TEXT NOT NULL,
    text        TEXT NOT NULL DEFAULT '',
    media_type  TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    UNIQUE (chat_id, wa_id)
);

--bun:split

CREATE INDEX idx_messages_chat_sent ON messages (chat_id, sent_at DESC, id DESC);

--bun:split

CREATE TABLE sync_batches (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id    INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    session_id      INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    batch_id        TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('history', 'live')),
    status          TEXT NOT NULL DEFAULT 'queued',
    payload         BLOB NOT NULL,
    accepted_count  INTEGER NOT NULL DEFAULT 0,
    rejected        BLOB,
    written_count   INTEGER NOT NULL DEFAULT 0,
    failed_chats    BLOB,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    finished_at     TEXT,
    UNIQUE (session_id, batch_id)
);

--bun:split

CREATE INDEX idx_sync_batches_pending ON sync_batches (created_at) WHERE status IN ('queued', 'processing');

--bun:split

CREATE INDEX idx_sync_batches_session_finished ON sync_batches (session_id, finished_at);

--bun:split

CREATE TABLE sidecar_commands (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id    INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    session_id      INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('resync', 'send')),
    chat_jid        TEXT NOT NULL DEFAULT '',
    text            TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'failed')),
    error           TEXT NOT NULL DEFAULT '',
    message_id      TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    completed_at    TEXT
);

--bun:split

CREATE INDEX idx_sidecar_commands_open ON sidecar_commands (session_id, id) WHERE status = 'open';

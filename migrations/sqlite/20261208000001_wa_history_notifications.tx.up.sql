-- History-sync notifications of whatsmeow sessions (issue 29); see the
-- PostgreSQL migration.
CREATE TABLE wa_history_notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id      INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    message_id      TEXT NOT NULL,
    notification    BLOB NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    received_at     TEXT NOT NULL,
    done_at         TEXT,
    failed_at       TEXT,
    UNIQUE (session_id, message_id)
);

--bun:split

CREATE INDEX idx_wa_history_notifications_pending ON wa_history_notifications (session_id, id)
    WHERE done_at IS NULL AND failed_at IS NULL;

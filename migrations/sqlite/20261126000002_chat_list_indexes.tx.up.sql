CREATE INDEX IF NOT EXISTS idx_chats_workspace_session_activity
    ON chats (workspace_id, session_id, last_activity_at DESC, id DESC);

--bun:split

CREATE INDEX IF NOT EXISTS idx_chats_workspace_activity
    ON chats (workspace_id, last_activity_at DESC, id DESC);

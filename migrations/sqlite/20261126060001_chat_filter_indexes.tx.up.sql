CREATE INDEX IF NOT EXISTS idx_chats_workspace_type_activity
    ON chats (workspace_id, type, last_activity_at DESC, id DESC);

--bun:split

CREATE INDEX IF NOT EXISTS idx_chats_workspace_unread_activity
    ON chats (workspace_id, last_activity_at DESC, id DESC) WHERE unread_count > 0;

-- Not in a transaction: indexes are built CONCURRENTLY so that running this
-- against a live database never blocks writes to chats.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_chats_workspace_session_activity
    ON chats (workspace_id, session_id, last_activity_at DESC, id DESC);

--bun:split

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_chats_workspace_activity
    ON chats (workspace_id, last_activity_at DESC, id DESC);

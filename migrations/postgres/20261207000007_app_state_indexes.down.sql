CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_chats_workspace_unread_activity
    ON chats (workspace_id, last_activity_at DESC, id DESC) WHERE unread_count > 0;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS idx_chats_workspace_unread_marked_activity;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS idx_chats_workspace_archived_activity;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS idx_chats_workspace_pinned_activity;

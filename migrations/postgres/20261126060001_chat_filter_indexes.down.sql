DROP INDEX CONCURRENTLY IF EXISTS idx_chats_workspace_unread_activity;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS idx_chats_workspace_type_activity;

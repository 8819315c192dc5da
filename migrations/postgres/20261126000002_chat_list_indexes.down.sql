DROP INDEX CONCURRENTLY IF EXISTS idx_chats_workspace_activity;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS idx_chats_workspace_session_activity;

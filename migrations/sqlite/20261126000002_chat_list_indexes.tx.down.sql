DROP INDEX IF EXISTS idx_chats_workspace_activity;

--bun:split

DROP INDEX IF EXISTS idx_chats_workspace_session_activity;

-- Not in a transaction: built CONCURRENTLY, so a live database keeps
-- taking writes to chats while they build.
--
-- ListChats filtered by type, workspace-wide: an ordered scan of exactly
-- the chats of that type (groups are often a small share, so filtering the
-- workspace-wide index would read many rows per page).
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_chats_workspace_type_activity
    ON chats (workspace_id, type, last_activity_at DESC, id DESC);

--bun:split

-- ListChats with unread_only: unread chats are few, so a partial index
-- holds just them, in list order.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_chats_workspace_unread_activity
    ON chats (workspace_id, last_activity_at DESC, id DESC) WHERE unread_count > 0;

-- Not in a transaction: built CONCURRENTLY, so a live database keeps
-- taking writes to chats while they build.
--
-- ListChats with archived = true: archived chats are few, so a partial
-- index holds just them, in list order.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_chats_workspace_archived_activity
    ON chats (workspace_id, last_activity_at DESC, id DESC) WHERE archived;

--bun:split

-- ListChats with pinned = true: at most three pinned chats per account;
-- the web lists them first.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_chats_workspace_pinned_activity
    ON chats (workspace_id, last_activity_at DESC, id DESC) WHERE pinned;

--bun:split

-- ListChats with unread_only now also lists chats marked as unread.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_chats_workspace_unread_marked_activity
    ON chats (workspace_id, last_activity_at DESC, id DESC) WHERE unread_count > 0 OR marked_unread;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS idx_chats_workspace_unread_activity;

CREATE INDEX IF NOT EXISTS idx_chats_workspace_archived_activity
    ON chats (workspace_id, last_activity_at DESC, id DESC) WHERE archived;

--bun:split

CREATE INDEX IF NOT EXISTS idx_chats_workspace_pinned_activity
    ON chats (workspace_id, last_activity_at DESC, id DESC) WHERE pinned;

--bun:split

CREATE INDEX IF NOT EXISTS idx_chats_workspace_unread_marked_activity
    ON chats (workspace_id, last_activity_at DESC, id DESC) WHERE unread_count > 0 OR marked_unread;

--bun:split

DROP INDEX IF EXISTS idx_chats_workspace_unread_activity;

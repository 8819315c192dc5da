-- App state from the phone (issue 28); see the PostgreSQL migration.
ALTER TABLE chats ADD COLUMN muted_until TEXT;
ALTER TABLE chats ADD COLUMN marked_unread BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN status INTEGER NOT NULL DEFAULT 0;

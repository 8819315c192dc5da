ALTER TABLE messages DROP COLUMN status;
ALTER TABLE chats DROP COLUMN marked_unread;
ALTER TABLE chats DROP COLUMN muted_until;

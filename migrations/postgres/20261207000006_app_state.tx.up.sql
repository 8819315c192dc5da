-- App state from the phone (issue 28): muted until a time (NULL: never
-- muted or unmuted; a past time reads as not muted), marked as unread (the
-- dot without a count), and the status of my messages from receipts
-- (0 unknown, 1 sent, 2 delivered, 3 read, 4 played; it only grows).
-- Constant defaults: no table rewrite.
ALTER TABLE chats ADD COLUMN muted_until timestamptz;
ALTER TABLE chats ADD COLUMN marked_unread boolean NOT NULL DEFAULT false;
ALTER TABLE messages ADD COLUMN status smallint NOT NULL DEFAULT 0;

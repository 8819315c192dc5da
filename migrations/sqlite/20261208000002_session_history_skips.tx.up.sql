-- What history sync left out by a session's limits; see the PostgreSQL
-- migration.
ALTER TABLE sessions ADD COLUMN history_chats_over_max INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN history_chats_outside_window INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN history_chats_invalid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN history_messages_outside_window INTEGER NOT NULL DEFAULT 0;

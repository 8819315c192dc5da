ALTER TABLE sessions DROP COLUMN history_messages_outside_window;
ALTER TABLE sessions DROP COLUMN history_chats_invalid;
ALTER TABLE sessions DROP COLUMN history_chats_outside_window;
ALTER TABLE sessions DROP COLUMN history_chats_over_max;

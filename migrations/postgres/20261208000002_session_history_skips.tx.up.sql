-- What history sync left out by a session's limits (issue 29: no silent
-- caps), summed since the session was created; GetSessionHealth reports
-- them. Constant defaults: no table rewrite.
ALTER TABLE sessions ADD COLUMN history_chats_over_max bigint NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN history_chats_outside_window bigint NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN history_chats_invalid bigint NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN history_messages_outside_window bigint NOT NULL DEFAULT 0;

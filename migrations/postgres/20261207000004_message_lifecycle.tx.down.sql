ALTER TABLE messages DROP COLUMN reactions;
ALTER TABLE messages DROP COLUMN pending;
ALTER TABLE messages DROP COLUMN revoked;
ALTER TABLE messages DROP COLUMN edit_time;

ALTER TABLE messages DROP COLUMN waiting;

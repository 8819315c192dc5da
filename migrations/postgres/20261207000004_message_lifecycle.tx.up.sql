-- A message's lifecycle: edits (the newest edit_time wins), revokes
-- ("deleted for everyone": the text and media are removed, the row stays as
-- a tombstone) and reactions: a JSON array, one entry per sender, merged
-- by the store (an empty emoji is a removal, kept so an older reaction
-- arriving later cannot bring it back).
-- A row reported only by an edit, revoke or reaction before its message
-- arrived is pending: kept, hidden from reads, and completed when the
-- message lands.
ALTER TABLE messages ADD COLUMN edit_time timestamptz;
ALTER TABLE messages ADD COLUMN revoked boolean NOT NULL DEFAULT false;
ALTER TABLE messages ADD COLUMN pending boolean NOT NULL DEFAULT false;
ALTER TABLE messages ADD COLUMN reactions text NOT NULL DEFAULT '';

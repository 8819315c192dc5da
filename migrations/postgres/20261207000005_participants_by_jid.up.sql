-- Not in a transaction: built CONCURRENTLY. A LID linked to a phone number
-- moves the person's memberships from one address to the other in every
-- group (store/identity.go): found by JID, not by a scan.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_group_participants_jid ON group_participants (jid);

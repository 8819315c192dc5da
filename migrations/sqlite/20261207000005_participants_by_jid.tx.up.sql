CREATE INDEX IF NOT EXISTS idx_group_participants_jid ON group_participants (jid);

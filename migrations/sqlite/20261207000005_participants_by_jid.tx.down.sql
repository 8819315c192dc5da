DROP INDEX IF EXISTS idx_group_participants_jid;

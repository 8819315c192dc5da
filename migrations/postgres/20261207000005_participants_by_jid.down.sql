DROP INDEX CONCURRENTLY IF EXISTS idx_group_participants_jid;

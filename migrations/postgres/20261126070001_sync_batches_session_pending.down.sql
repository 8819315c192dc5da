DROP INDEX CONCURRENTLY IF EXISTS idx_sync_batches_session_pending;

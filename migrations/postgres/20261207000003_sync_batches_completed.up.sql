-- Not in a transaction: built CONCURRENTLY. The sweeper's pruning finds
-- completed batches by when they finished (CHATSYNC_BATCH_RETENTION).
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_sync_batches_completed_finished
    ON sync_batches (finished_at, id) WHERE status = 'completed';

DROP INDEX IF EXISTS idx_sync_batches_completed_finished;

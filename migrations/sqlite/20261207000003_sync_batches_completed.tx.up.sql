CREATE INDEX IF NOT EXISTS idx_sync_batches_completed_finished ON sync_batches (finished_at, id) WHERE status = 'completed';

CREATE INDEX IF NOT EXISTS idx_sync_batches_session_pending
    ON sync_batches (session_id) WHERE status IN ('queued', 'processing');

-- Not in a transaction: built CONCURRENTLY, so a live database keeps
-- accepting batches while it builds.
--
-- A session's pending batches, counted each time one of its batches
-- completes (the session stays syncing while others are pending). Only
-- unfinished batches are in this index, so the count reads just them; by
-- (session_id, …) indexes it read every batch the session ever had, which
-- grows with the session's history (172,000 index entries read to complete
-- the benchmark's 400 batches).
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_sync_batches_session_pending
    ON sync_batches (session_id) WHERE status IN ('queued', 'processing');

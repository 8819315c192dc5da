package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/chatsync/chatsync"
)

// NewBatch is an accepted SyncBatch call.
type NewBatch struct {
	WorkspaceID int64
	SessionID   int64
	BatchID     string
	Kind        chatsync.BatchKind
	Payload     chatsync.BatchPayload
	Rejected    []chatsync.RejectedChat
}

// AcceptBatch stores a batch durably. When the session already has a batch
// with this batch ID it stores nothing and returns that batch with
// duplicate=true. With a new batch it also marks the session syncing.
func (s *Store) AcceptBatch(ctx context.Context, nb NewBatch) (b chatsync.Batch, duplicate bool, err error) {
	payload, err := json.Marshal(nb.Payload)
	if err != nil {
		return b, false, fmt.Errorf("encode payload: %w", err)
	}
	var rejected []byte
	if len(nb.Rejected) > 0 {
		if rejected, err = json.Marshal(nb.Rejected); err != nil {
			return b, false, fmt.Errorf("encode rejected: %w", err)
		}
	}
	row := batchRow{
		WorkspaceID: nb.WorkspaceID, SessionID: nb.SessionID, BatchID: nb.BatchID, Kind: string(nb.Kind),
		Status: string(chatsync.BatchQueued), Payload: payload, AcceptedCount: int32(len(nb.Payload.Chats)),
		Rejected: rejected, CreatedAt: s.now(),
	}
	if s.pg {
		duplicate, err = s.acceptPG(ctx, &row)
	} else {
		duplicate, err = s.acceptBun(ctx, &row)
	}
	if err == nil && duplicate {
		err = s.db.NewSelect().Model(&row).ExcludeColumn("payload").
			Where("session_id = ? AND batch_id = ?", nb.SessionID, nb.BatchID).Scan(ctx)
	}
	if err != nil {
		return b, false, fmt.Errorf("accept batch %s: %w", nb.BatchID, translate(err))
	}
	b, err = row.domain()
	return b, duplicate, err
}

// sqlAccept inserts a batch and, when it is new, marks its session
// syncing: one statement, so one round trip and one (synchronous) commit
// before SyncBatch answers.
const sqlAccept = `WITH ins AS (
		INSERT INTO sync_batches (workspace_id, session_id, batch_id, kind, status, payload, accepted_count, rejected, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (session_id, batch_id) DO NOTHING
		RETURNING id),
	syncing AS (
		UPDATE sessions SET sync_status = 'syncing'
		WHERE id = $2 AND sync_status <> 'syncing' AND EXISTS (SELECT 1 FROM ins))
	SELECT id FROM ins`

func (s *Store) acceptPG(ctx context.Context, row *batchRow) (duplicate bool, err error) {
	err = s.withPgx(ctx, func(c *pgx.Conn) error {
		err := c.QueryRow(ctx, sqlAccept, row.WorkspaceID, row.SessionID, row.BatchID, row.Kind, row.Status,
			row.Payload, row.AcceptedCount, row.Rejected, row.CreatedAt).Scan(&row.ID)
		if errors.Is(err, pgx.ErrNoRows) {
			duplicate, err = true, nil
		}
		return err
	})
	return duplicate, err
}

func (s *Store) acceptBun(ctx context.Context, row *batchRow) (duplicate bool, err error) {
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewInsert().Model(row).On("CONFLICT (session_id, batch_id) DO NOTHING").Returning("id").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			duplicate = true
			return nil
		}
		_, err = tx.NewUpdate().Model((*sessionRow)(nil)).Set("sync_status = ?", string(chatsync.SyncSyncing)).
			Where("id = ? AND sync_status <> ?", row.SessionID, string(chatsync.SyncSyncing)).Exec(ctx)
		return err
	})
	return duplicate, err
}

// SyncSession returns a session by ID alone, with its secret nonce: what
// verifying a sidecar signature and then serving SyncBatch need, in one
// query. The caller checks the signature before trusting the workspace.
func (s *Store) SyncSession(ctx context.Context, id int64) (chatsync.Session, []byte, error) {
	var row sessionRow
	if err := s.db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return chatsync.Session{}, nil, fmt.Errorf("load session %d: %w", id, translate(err))
	}
	return row.domain(), row.SecretNonce, nil
}

// Batch returns a batch of a session of a workspace by the caller's batch ID.
func (s *Store) Batch(ctx context.Context, workspaceID, sessionID int64, batchID string) (chatsync.Batch, error) {
	var row batchRow
	err := s.db.NewSelect().Model(&row).ExcludeColumn("payload").
		Where("workspace_id = ? AND session_id = ? AND batch_id = ?", workspaceID, sessionID, batchID).Scan(ctx)
	if err != nil {
		return chatsync.Batch{}, fmt.Errorf("load batch %s: %w", batchID, translate(err))
	}
	return row.domain()
}

// pendingStatuses are the statuses of a batch not finished yet.
func pendingStatuses() []string {
	return []string{string(chatsync.BatchQueued), string(chatsync.BatchProcessing)}
}

// StartBatch begins an attempt at a batch: it marks the batch processing,
// counts the attempt and returns the batch (Attempts is this attempt's
// number) with its payload, in one statement. A batch that already
// finished is returned as it is, without payload, with done=true (a
// redelivered task).
func (s *Store) StartBatch(ctx context.Context, pk int64) (b chatsync.Batch, p chatsync.BatchPayload, done bool, err error) {
	var row batchRow
	err = s.db.NewUpdate().Model(&row).
		Set("status = ?, attempts = attempts + 1", string(chatsync.BatchProcessing)).
		Set("started_at = COALESCE(started_at, ?)", s.now()).
		Where("id = ? AND status IN (?)", pk, bun.List(pendingStatuses())).
		Returning("*").Scan(ctx)
	if err = translate(err); errors.Is(err, ErrNotFound) {
		if err := s.db.NewSelect().Model(&row).ExcludeColumn("payload").Where("id = ?", pk).Scan(ctx); err != nil {
			return b, p, false, fmt.Errorf("load batch %d: %w", pk, translate(err))
		}
		b, err = row.domain()
		return b, p, true, err
	}
	if err != nil {
		return b, p, false, fmt.Errorf("start batch %d: %w", pk, err)
	}
	if err := json.Unmarshal(row.Payload, &p); err != nil {
		return b, p, false, fmt.Errorf("decode payload of batch %d: %w", pk, err)
	}
	b, err = row.domain()
	return b, p, false, err
}

// RecordAttemptError keeps the error of a failed attempt that will be retried.
func (s *Store) RecordAttemptError(ctx context.Context, pk int64, msg string) error {
	_, err := s.db.NewUpdate().Model((*batchRow)(nil)).Set("last_error = ?", msg).Where("id = ?", pk).Exec(ctx)
	if err != nil {
		return fmt.Errorf("record error of batch %d: %w", pk, err)
	}
	return nil
}

// BatchResult is the outcome of processing a batch.
type BatchResult struct {
	Written int32
	Failed  []chatsync.FailedChat
	// Attempt, when set, is the attempt that produced the result: it is
	// recorded only if the batch is still processing that attempt, so that
	// of two runs of one batch (a task redelivered while the first still
	// ran) only the later one counts. CompleteBatch then returns
	// ErrSuperseded for the other.
	Attempt int32
}

// ErrSuperseded: a later attempt took the batch over; this attempt's result
// is dropped.
var ErrSuperseded = errors.New("batch taken over by a later attempt")

// CompleteBatch marks a batch completed and moves its session's sync state
// forward: last sync time, totals, error cleared, and synced once no other
// batch of it is pending (else it stays syncing). It returns the session's
// sync state after the change (ID, WorkspaceID, SyncStatus, LastSyncAt,
// TotalSynced, LastError) and how many of its batches are still pending.
//
// Its commit is asynchronous on PostgreSQL, like the chunks': a crash that
// loses it leaves the batch processing, and the sweeper runs it again.
func (s *Store) CompleteBatch(ctx context.Context, pk int64, r BatchResult) (chatsync.Session, int64, error) {
	var failed []byte
	if len(r.Failed) > 0 {
		var err error
		if failed, err = json.Marshal(r.Failed); err != nil {
			return chatsync.Session{}, 0, fmt.Errorf("encode failed chats: %w", err)
		}
	}
	if s.pg {
		return s.completePG(ctx, pk, r, failed)
	}
	return s.finishBatch(ctx, pk, func(ctx context.Context, tx bun.Tx, now time.Time, sessionID int64) error {
		q := tx.NewUpdate().Model((*batchRow)(nil)).
			Set("status = ?, written_count = ?, failed_chats = ?, last_error = '', finished_at = ?",
				string(chatsync.BatchCompleted), r.Written, failed, now).
			Where("id = ?", pk)
		if r.Attempt > 0 {
			q.Where("status = ? AND attempts = ?", string(chatsync.BatchProcessing), r.Attempt)
		}
		res, err := q.Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrSuperseded
		}
		others, err := tx.NewSelect().Model((*batchRow)(nil)).
			Where("session_id = ? AND status IN (?)", sessionID, bun.List(pendingStatuses())).Count(ctx)
		if err != nil {
			return err
		}
		status := chatsync.SyncSynced
		if others > 0 {
			status = chatsync.SyncSyncing
		}
		_, err = tx.NewUpdate().Model((*sessionRow)(nil)).
			Set("sync_status = ?, last_sync_at = ?, total_synced = total_synced + ?, last_error = '', updated_at = ?",
				string(status), now, r.Written, now).
			Where("id = ?", sessionID).Exec(ctx)
		return err
	})
}

// sqlLockBatchSession locks the session row of a batch.
const sqlLockBatchSession = `SELECT 1 FROM sessions WHERE id = (SELECT session_id FROM sync_batches WHERE id = $1) FOR UPDATE`

// sqlComplete completes a batch and updates its session in one statement;
// the subquery counts the session's other pending batches (the snapshot
// still shows this one processing).
const sqlComplete = `WITH b AS (
		UPDATE sync_batches SET status = 'completed', written_count = $2, failed_chats = $3, last_error = '', finished_at = $4
		WHERE id = $1 AND ($5 = 0 OR (status = 'processing' AND attempts = $5))
		RETURNING session_id),
	p AS (
		SELECT count(*) AS n FROM sync_batches
		WHERE session_id = (SELECT session_id FROM b) AND status IN ('queued', 'processing') AND id <> $1)
	UPDATE sessions AS s SET sync_status = CASE WHEN p.n > 0 THEN 'syncing' ELSE 'synced' END,
		last_sync_at = $4, total_synced = s.total_synced + $2, last_error = '', updated_at = $4
	FROM b, p WHERE s.id = b.session_id
	RETURNING s.id, s.workspace_id, s.sync_status, s.last_sync_at, s.total_synced, s.last_error, p.n`

func (s *Store) completePG(ctx context.Context, pk int64, r BatchResult, failed []byte) (chatsync.Session, int64, error) {
	var sess chatsync.Session
	var pending int64
	found := false
	now := s.now()
	var pl pipeline
	s.beginWrite(&pl)
	// Take the session's row lock first: two batches of a session that
	// complete at once would otherwise each count the other as still
	// processing (their snapshots predate the other's commit) and both
	// leave the session syncing. The statement after the lock has a
	// snapshot that sees the other completion committed.
	pl.exec("lock session", sqlLockBatchSession, pk)
	pl.query("complete", sqlComplete, func(rows pgx.Rows) error {
		var status string
		var last time.Time
		_, err := pgx.ForEachRow(rows, []any{&sess.ID, &sess.WorkspaceID, &status, &last, &sess.TotalSynced, &sess.LastError, &pending}, func() error {
			found = true
			sess.SyncStatus, sess.LastSyncAt = chatsync.SyncStatus(status), last.UTC()
			return nil
		})
		return err
	}, pk, r.Written, failed, now, r.Attempt)
	if err := s.runWrite(ctx, &pl); err != nil {
		return sess, 0, fmt.Errorf("finish batch %d: %w", pk, err)
	}
	if !found && r.Attempt == 0 {
		return sess, 0, fmt.Errorf("finish batch %d: %w", pk, ErrNotFound)
	}
	if !found {
		return sess, 0, fmt.Errorf("finish batch %d: %w", pk, ErrSuperseded)
	}
	return sess, pending, nil
}

// FailBatch marks a batch failed after its last attempt, and its session's
// sync status failed with the error.
func (s *Store) FailBatch(ctx context.Context, pk int64, msg string) (chatsync.Session, int64, error) {
	return s.finishBatch(ctx, pk, func(ctx context.Context, tx bun.Tx, now time.Time, sessionID int64) error {
		if _, err := tx.NewUpdate().Model((*batchRow)(nil)).
			Set("status = ?, last_error = ?, finished_at = ?", string(chatsync.BatchFailed), msg, now).
			Where("id = ?", pk).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewUpdate().Model((*sessionRow)(nil)).
			Set("sync_status = ?, last_sync_at = ?, last_error = ?, updated_at = ?", string(chatsync.SyncFailed), now, msg, now).
			Where("id = ?", sessionID).Exec(ctx)
		return err
	})
}

func (s *Store) finishBatch(ctx context.Context, pk int64, fn func(context.Context, bun.Tx, time.Time, int64) error) (chatsync.Session, int64, error) {
	var sess sessionRow
	var pending int64
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var b batchRow
		if err := tx.NewSelect().Model(&b).Column("session_id").Where("id = ?", pk).Scan(ctx); err != nil {
			return translate(err)
		}
		now := s.now()
		if err := fn(ctx, tx, now, b.SessionID); err != nil {
			return err
		}
		if err := tx.NewSelect().Model(&sess).Where("id = ?", b.SessionID).Scan(ctx); err != nil {
			return err
		}
		var err error
		pending, err = tx.NewSelect().Model((*batchRow)(nil)).
			Where("session_id = ? AND status IN (?)", b.SessionID, bun.List(pendingStatuses())).
			Count(ctx)
		return err
	})
	if err != nil {
		return chatsync.Session{}, 0, fmt.Errorf("finish batch %d: %w", pk, err)
	}
	return sess.domain(), pending, nil
}

// PendingBatch identifies a batch still queued or processing.
type PendingBatch struct {
	PK   int64
	Kind chatsync.BatchKind
}

// PendingBatches lists batches queued or processing that were accepted
// before olderThan, oldest first (the sweeper's input).
func (s *Store) PendingBatches(ctx context.Context, olderThan time.Time, limit int) ([]PendingBatch, error) {
	var rows []batchRow
	err := s.db.NewSelect().Model(&rows).Column("id", "kind").
		Where("status IN (?) AND created_at < ?", bun.List(pendingStatuses()), olderThan).
		Order("created_at ASC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list pending batches: %w", err)
	}
	out := make([]PendingBatch, len(rows))
	for i, r := range rows {
		out[i] = PendingBatch{PK: r.ID, Kind: chatsync.BatchKind(r.Kind)}
	}
	return out, nil
}

func (r *batchRow) domain() (chatsync.Batch, error) {
	b := chatsync.Batch{
		ID: r.ID, WorkspaceID: r.WorkspaceID, SessionID: r.SessionID, BatchID: r.BatchID,
		Kind: chatsync.BatchKind(r.Kind), Status: chatsync.BatchStatus(r.Status),
		AcceptedCount: r.AcceptedCount, WrittenCount: r.WrittenCount, Attempts: r.Attempts,
		LastError: r.LastError, CreatedAt: r.CreatedAt.UTC(), StartedAt: derefTime(r.StartedAt),
		FinishedAt: derefTime(r.FinishedAt),
	}
	if len(r.Rejected) > 0 {
		if err := json.Unmarshal(r.Rejected, &b.Rejected); err != nil {
			return b, fmt.Errorf("decode rejected of batch %d: %w", r.ID, err)
		}
	}
	if len(r.FailedChats) > 0 {
		if err := json.Unmarshal(r.FailedChats, &b.FailedChats); err != nil {
			return b, fmt.Errorf("decode failed chats of batch %d: %w", r.ID, err)
		}
	}
	return b, nil
}

// prunedPayload is what a pruned batch keeps of its payload: an empty one.
var prunedPayload = []byte("{}")

// PruneBatches frees the space of finished work: it empties the payloads of
// batches completed before payloadsBefore and deletes the rows of batches
// completed before rowsBefore, at most limit of each per call (call again
// while it reports limit). Failed and pending batches are kept whole.
func (s *Store) PruneBatches(ctx context.Context, payloadsBefore, rowsBefore time.Time, limit int) (payloads, rows int64, err error) {
	completed := string(chatsync.BatchCompleted)
	res, err := s.db.NewDelete().Model((*batchRow)(nil)).Where("id IN (?)",
		s.db.NewSelect().Model((*batchRow)(nil)).Column("id").
			Where("status = ? AND finished_at < ?", completed, rowsBefore).OrderExpr("id").Limit(int64(limit))).Exec(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("delete old batches: %w", err)
	}
	rows, _ = res.RowsAffected()
	res, err = s.db.NewUpdate().Model((*batchRow)(nil)).Set("payload = ?", prunedPayload).Where("id IN (?)",
		s.db.NewSelect().Model((*batchRow)(nil)).Column("id").
			Where("status = ? AND finished_at < ? AND payload <> ?", completed, payloadsBefore, prunedPayload).OrderExpr("id").Limit(int64(limit))).Exec(ctx)
	if err != nil {
		return 0, rows, fmt.Errorf("prune batch payloads: %w", err)
	}
	payloads, _ = res.RowsAffected()
	return payloads, rows, nil
}

package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

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
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewInsert().Model(&row).On("CONFLICT (session_id, batch_id) DO NOTHING").Returning("id").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			duplicate = true
			return tx.NewSelect().Model(&row).ExcludeColumn("payload").
				Where("session_id = ? AND batch_id = ?", nb.SessionID, nb.BatchID).Scan(ctx)
		}
		_, err = tx.NewUpdate().Model((*sessionRow)(nil)).Set("sync_status = ?", string(chatsync.SyncSyncing)).
			Where("id = ? AND sync_status <> ?", nb.SessionID, string(chatsync.SyncSyncing)).Exec(ctx)
		return err
	})
	if err != nil {
		return b, false, fmt.Errorf("accept batch %s: %w", nb.BatchID, translate(err))
	}
	b, err = row.domain()
	return b, duplicate, err
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

// BatchByPK returns a batch and its payload by primary key (the worker's
// view: tasks carry the key).
func (s *Store) BatchByPK(ctx context.Context, pk int64) (chatsync.Batch, chatsync.BatchPayload, error) {
	var row batchRow
	var p chatsync.BatchPayload
	if err := s.db.NewSelect().Model(&row).Where("id = ?", pk).Scan(ctx); err != nil {
		return chatsync.Batch{}, p, fmt.Errorf("load batch %d: %w", pk, translate(err))
	}
	if err := json.Unmarshal(row.Payload, &p); err != nil {
		return chatsync.Batch{}, p, fmt.Errorf("decode payload of batch %d: %w", pk, err)
	}
	b, err := row.domain()
	return b, p, err
}

// StartAttempt marks a batch processing and counts the attempt. A batch that
// already finished is returned unchanged with done=true (a redelivered task).
func (s *Store) StartAttempt(ctx context.Context, pk int64) (attempts int32, done bool, err error) {
	var row batchRow
	err = s.db.NewUpdate().Model(&row).
		Set("status = ?, attempts = attempts + 1", string(chatsync.BatchProcessing)).
		Set("started_at = COALESCE(started_at, ?)", s.now()).
		Where("id = ? AND status IN (?)", pk, bun.In([]string{string(chatsync.BatchQueued), string(chatsync.BatchProcessing)})).
		Returning("attempts").Scan(ctx)
	if err == nil {
		return row.Attempts, false, nil
	}
	if err = translate(err); err != ErrNotFound {
		return 0, false, fmt.Errorf("start batch %d: %w", pk, err)
	}
	if err := s.db.NewSelect().Model(&row).Column("attempts").Where("id = ?", pk).Scan(ctx); err != nil {
		return 0, false, fmt.Errorf("load batch %d: %w", pk, translate(err))
	}
	return row.Attempts, true, nil
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
}

// CompleteBatch marks a batch completed and moves its session's sync state
// forward: synced, last sync time, totals, error cleared. It returns the
// session after the change and how many of its batches are still pending.
func (s *Store) CompleteBatch(ctx context.Context, pk int64, r BatchResult) (chatsync.Session, int64, error) {
	var failed []byte
	if len(r.Failed) > 0 {
		var err error
		if failed, err = json.Marshal(r.Failed); err != nil {
			return chatsync.Session{}, 0, fmt.Errorf("encode failed chats: %w", err)
		}
	}
	return s.finishBatch(ctx, pk, func(ctx context.Context, tx bun.Tx, now time.Time, sessionID int64) error {
		if _, err := tx.NewUpdate().Model((*batchRow)(nil)).
			Set("status = ?, written_count = ?, failed_chats = ?, last_error = '', finished_at = ?",
				string(chatsync.BatchCompleted), r.Written, failed, now).
			Where("id = ?", pk).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewUpdate().Model((*sessionRow)(nil)).
			Set("sync_status = ?, last_sync_at = ?, total_synced = total_synced + ?, last_error = '', updated_at = ?",
				string(chatsync.SyncSynced), now, r.Written, now).
			Where("id = ?", sessionID).Exec(ctx)
		return err
	})
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
			Where("session_id = ? AND status IN (?)", b.SessionID, bun.In([]string{string(chatsync.BatchQueued), string(chatsync.BatchProcessing)})).
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
		Where("status IN (?) AND created_at < ?", bun.In([]string{string(chatsync.BatchQueued), string(chatsync.BatchProcessing)}), olderThan).
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

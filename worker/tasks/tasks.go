// Package tasks names chatsync's Asynq tasks and builds them. It is the only
// thing the server and the worker share about the queue: the server enqueues
// through it, the worker handles what it builds.
package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/chatsync/chatsync"
)

// Task types.
const (
	// TypeSyncBatch processes one accepted sync batch.
	TypeSyncBatch = "sync:batch"
)

// Queues. Live work is served strictly before backfill, so a new message
// never waits behind a history import.
const (
	QueueLive     = "live"
	QueueBackfill = "backfill"
)

// Queues returns every queue with its priority, for asynq.Config.Queues
// (with StrictPriority).
func Queues() map[string]int {
	return map[string]int{QueueLive: 6, QueueBackfill: 3}
}

// Processing rules of DESIGN.md: 3 attempts, 300 s each.
const (
	MaxAttempts = 3
	Timeout     = 300 * time.Second
)

// SyncBatchPayload is the payload of TypeSyncBatch: the batch's primary key,
// never the chats (they are in sync_batches.payload).
type SyncBatchPayload struct {
	BatchPK int64 `json:"batch"`
}

// QueueFor returns the queue of a batch kind.
func QueueFor(k chatsync.BatchKind) string {
	if k == chatsync.BatchLive {
		return QueueLive
	}
	return QueueBackfill
}

// NewSyncBatchTask builds the task of a batch. Its TaskID is derived from
// the batch, so enqueueing it twice (the sweeper after the server) yields
// one task.
func NewSyncBatchTask(pk int64, kind chatsync.BatchKind) (*asynq.Task, error) {
	b, err := json.Marshal(SyncBatchPayload{BatchPK: pk})
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeSyncBatch, b,
		asynq.TaskID("batch:"+strconv.FormatInt(pk, 10)),
		asynq.Queue(QueueFor(kind)),
		asynq.MaxRetry(MaxAttempts-1),
		asynq.Timeout(Timeout),
	), nil
}

// Enqueue queues a batch's task and reports whether it queued one: a task
// already queued, retrying or running for the batch is left alone (false).
func Enqueue(ctx context.Context, c *asynq.Client, pk int64, kind chatsync.BatchKind) (bool, error) {
	t, err := NewSyncBatchTask(pk, kind)
	if err != nil {
		return false, fmt.Errorf("build task for batch %d: %w", pk, err)
	}
	_, err = c.EnqueueContext(ctx, t)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("enqueue batch %d: %w", pk, err)
	}
	return true, nil
}

// DecodeSyncBatch reads a TypeSyncBatch payload; a bad one is not retried.
func DecodeSyncBatch(t *asynq.Task) (SyncBatchPayload, error) {
	var p SyncBatchPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.BatchPK <= 0 {
		return p, fmt.Errorf("decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return p, nil
}

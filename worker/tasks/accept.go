package tasks

import (
	"context"
	"log/slog"

	"github.com/hibiken/asynq"

	"github.com/chatsync/chatsync"
)

// Accept is the one way a batch enters the pipeline, for SyncBatch and for
// in-process sessions alike: accept stores it durably (store.AcceptBatch),
// then its task is queued. A duplicate queues nothing. A failed enqueue is
// logged, not returned: the batch is committed, and the sweeper queues it
// later. log should name the workspace and session; the batch ID is added.
func Accept(ctx context.Context, q *asynq.Client, log *slog.Logger, accept func(context.Context) (chatsync.Batch, bool, error)) (chatsync.Batch, bool, error) {
	b, dup, err := accept(ctx)
	if err != nil || dup {
		return b, dup, err
	}
	if _, err := Enqueue(ctx, q, b.ID, b.Kind); err != nil {
		log.WarnContext(ctx, "enqueue accepted batch; the sweeper will retry", slog.String("batch_id", b.BatchID), slog.String("error", err.Error()))
	}
	return b, false, nil
}

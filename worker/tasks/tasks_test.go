package tasks_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/server/servertest"
	"github.com/chatsync/chatsync/worker/tasks"
)

// redisDB is this package's Redis database.
const redisDB = 9

func TestNewSyncBatchTask(t *testing.T) {
	tests := []struct {
		kind  chatsync.BatchKind
		queue string
	}{
		{chatsync.BatchLive, tasks.QueueLive},
		{chatsync.BatchHistory, tasks.QueueBackfill},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			task, err := tasks.NewSyncBatchTask(42, tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			p, err := tasks.DecodeSyncBatch(task)
			if err != nil || p.BatchPK != 42 || task.Type() != tasks.TypeSyncBatch {
				t.Fatalf("payload = %+v, %v", p, err)
			}
			if got := tasks.QueueFor(tt.kind); got != tt.queue {
				t.Fatalf("QueueFor = %s, want %s", got, tt.queue)
			}
		})
	}
	if q := tasks.Queues(); q[tasks.QueueLive] <= q[tasks.QueueBackfill] {
		t.Fatalf("queue priorities %v: live must outrank backfill", q)
	}
}

func TestDecodeRefusesBadPayloads(t *testing.T) {
	for _, payload := range []string{"", "{", `{"batch":0}`, `{"batch":-1}`} {
		t.Run(payload, func(t *testing.T) {
			if _, err := tasks.DecodeSyncBatch(asynq.NewTask(tasks.TypeSyncBatch, []byte(payload))); !errors.Is(err, asynq.SkipRetry) {
				t.Fatalf("err = %v, want SkipRetry", err)
			}
		})
	}
}

// A batch's task ID is derived from the batch: enqueueing it again while
// the first is queued queues nothing.
func TestEnqueueIsIdempotent(t *testing.T) {
	rdb := servertest.Redis(t, redisDB)
	c := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { c.Close() })
	ctx := t.Context()
	if queued, err := tasks.Enqueue(ctx, c, 7, chatsync.BatchLive); err != nil || !queued {
		t.Fatalf("first Enqueue = %v, %v", queued, err)
	}
	if queued, err := tasks.Enqueue(ctx, c, 7, chatsync.BatchLive); err != nil || queued {
		t.Fatalf("second Enqueue = %v, %v; want nothing new", queued, err)
	}
	info, err := asynq.NewInspectorFromRedisClient(rdb).GetQueueInfo(tasks.QueueLive)
	if err != nil || info.Size != 1 {
		t.Fatalf("live queue = %+v, %v", info, err)
	}
	if err := rdb.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tasks.Enqueue(ctx, c, 8, chatsync.BatchLive); err == nil {
		t.Fatal("Enqueue on a closed connection succeeded")
	}
}

// Accept queues the task of a newly stored batch, nothing for a
// duplicate, passes a store error on, and only logs a failed enqueue (the
// batch is committed; the sweeper queues it).
func TestAccept(t *testing.T) {
	rdb := servertest.Redis(t, redisDB)
	c := asynq.NewClientFromRedisClient(rdb)
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	stored := func(dup bool, err error) func(context.Context) (chatsync.Batch, bool, error) {
		return func(context.Context) (chatsync.Batch, bool, error) {
			return chatsync.Batch{ID: 77, BatchID: "b77", Kind: chatsync.BatchLive}, dup, err
		}
	}
	queued := func() int {
		info, err := asynq.NewInspectorFromRedisClient(rdb).GetQueueInfo(tasks.QueueFor(chatsync.BatchLive))
		if err != nil {
			return 0
		}
		return info.Size
	}
	if _, dup, err := tasks.Accept(t.Context(), c, log, stored(true, nil)); err != nil || !dup || queued() != 0 {
		t.Fatalf("duplicate: dup %v, %v, %d queued", dup, err, queued())
	}
	down := errors.New("database down")
	if _, _, err := tasks.Accept(t.Context(), c, log, stored(false, down)); !errors.Is(err, down) || queued() != 0 {
		t.Fatalf("store error: %v, %d queued", err, queued())
	}
	if b, dup, err := tasks.Accept(t.Context(), c, log, stored(false, nil)); err != nil || dup || b.ID != 77 || queued() != 1 {
		t.Fatalf("new batch: %+v, dup %v, %v, %d queued", b, dup, err, queued())
	}
	nowhere := asynq.NewClient(asynq.RedisClientOpt{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { nowhere.Close() })
	if _, _, err := tasks.Accept(t.Context(), nowhere, log, stored(false, nil)); err != nil {
		t.Fatalf("a failed enqueue was returned: %v", err)
	}
	if !strings.Contains(logs.String(), "enqueue accepted batch; the sweeper will retry") || !strings.Contains(logs.String(), "batch_id=b77") {
		t.Fatalf("no warning for the failed enqueue:\n%s", logs.String())
	}
}

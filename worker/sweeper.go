package worker

import (
	"cmp"
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/worker/tasks"
)

// pendingLister lists batches still queued or processing, and prunes
// finished ones.
type pendingLister interface {
	PendingBatches(ctx context.Context, olderThan time.Time, limit int) ([]store.PendingBatch, error)
	PruneBatches(ctx context.Context, payloadsBefore, rowsBefore time.Time, limit int) (payloads, rows int64, err error)
}

// enqueuer queues a batch's task, reporting false when one already exists.
type enqueuer func(ctx context.Context, pk int64, kind chatsync.BatchKind) (bool, error)

// Sweeper re-enqueues accepted batches whose task is gone: Redis lost it, or
// the enqueue after the database commit failed. Each round it also logs the
// queues' figures. Task IDs derive from the
// batch, so a batch whose task still exists is not queued twice. One
// sweeper runs at a time across workers (a Redis lock).
type Sweeper struct {
	Store    pendingLister
	Enqueue  enqueuer
	Redis    redis.UniversalClient
	Log      *slog.Logger
	Interval time.Duration // between sweeps (default 30 s)
	Grace    time.Duration // batches younger than this are left alone (default 1 min)
	// PayloadRetention and RowRetention are how long a completed batch
	// keeps its payload and its row (defaults 7 and 30 days); each sweep
	// prunes what is older.
	PayloadRetention, RowRetention time.Duration
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

const sweepLock = "chatsync:lock:sweeper"

// Run sweeps every Interval until ctx ends.
func (s *Sweeper) Run(ctx context.Context) {
	interval := s.Interval
	if interval <= 0 {
		interval = 30 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	inspector := asynq.NewInspectorFromRedisClient(s.Redis)
	for {
		if n, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.Log.ErrorContext(ctx, "sweep pending batches", slog.String("error", err.Error()))
		} else if n > 0 {
			s.Log.InfoContext(ctx, "re-enqueued pending batches", slog.Int("batches", n))
		}
		s.logQueueStats(ctx, inspector)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// logQueueStats logs each queue's figures once a sweep: at info level
// while work waits, runs or failed, else at debug.
func (s *Sweeper) logQueueStats(ctx context.Context, inspector *asynq.Inspector) {
	for _, q := range slices.Sorted(maps.Keys(tasks.Queues())) {
		info, err := inspector.GetQueueInfo(q)
		if err != nil {
			continue // a queue that never held a task does not exist yet
		}
		level := slog.LevelDebug
		if info.Size > 0 || info.Active > 0 || info.Failed > 0 {
			level = slog.LevelInfo
		}
		s.Log.LogAttrs(ctx, level, "queue stats", slog.String("queue", q), slog.Int("size", info.Size),
			slog.Int("pending", info.Pending), slog.Int("active", info.Active), slog.Int("scheduled", info.Scheduled),
			slog.Int("retry", info.Retry), slog.Int("archived", info.Archived), slog.Int("processed_today", info.Processed),
			slog.Int("failed_today", info.Failed), slog.Duration("latency", info.Latency))
	}
}

// Sweep re-enqueues pending batches once and returns how many lacked a task.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	grace := s.Grace
	if grace <= 0 {
		grace = time.Minute
	}
	ok, err := s.Redis.SetNX(ctx, sweepLock, "1", 2*grace).Result()
	if err != nil || !ok {
		return 0, err
	}
	defer s.Redis.Del(context.WithoutCancel(ctx), sweepLock)
	s.prune(ctx)
	pending, err := s.Store.PendingBatches(ctx, time.Now().Add(-grace), 1000)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, b := range pending {
		queued, err := s.Enqueue(ctx, b.PK, b.Kind)
		if err != nil {
			return n, err
		}
		if queued {
			n++
		}
	}
	return n, nil
}

// prune frees completed batches' payloads and rows past their retention,
// in rounds of 1,000 until none is left.
func (s *Sweeper) prune(ctx context.Context) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	payloadAge, rowAge := cmp.Or(s.PayloadRetention, 7*24*time.Hour), cmp.Or(s.RowRetention, 30*24*time.Hour)
	var payloads, rows int64
	for ctx.Err() == nil {
		p, r, err := s.Store.PruneBatches(ctx, now().Add(-payloadAge), now().Add(-rowAge), 1000)
		payloads, rows = payloads+p, rows+r
		if err != nil {
			s.Log.ErrorContext(ctx, "prune finished batches", slog.String("error", err.Error()))
			return
		}
		if p < 1000 && r < 1000 {
			break
		}
	}
	if payloads > 0 || rows > 0 {
		s.Log.InfoContext(ctx, "pruned finished batches", slog.Int64("payloads", payloads), slog.Int64("rows", rows))
	}
}

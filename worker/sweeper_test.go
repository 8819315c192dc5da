package worker_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/worker"
	"github.com/chatsync/chatsync/worker/tasks"
)

func (e *env) sweeper() *worker.Sweeper {
	return &worker.Sweeper{
		Store: e.store, Redis: e.rdb, Log: e.log, Grace: time.Nanosecond, Interval: 10 * time.Millisecond,
		Enqueue: func(ctx context.Context, pk int64, kind chatsync.BatchKind) (bool, error) {
			return tasks.Enqueue(ctx, e.queue, pk, kind)
		},
	}
}

// Nothing accepted is lost: when the enqueue after the commit never
// happened, or Redis lost the task, the sweeper queues the batch again and
// it is processed exactly once.
func TestSweeperRecoversLostTasks(t *testing.T) {
	tests := []struct {
		name string
		lose func(t *testing.T, e *env, b chatsync.Batch)
	}{
		{"enqueue skipped", func(*testing.T, *env, chatsync.Batch) {}},
		{"Redis flushed after acceptance", func(t *testing.T, e *env, b chatsync.Batch) {
			e.enqueue(t, b)
			if err := e.rdb.FlushDB(t.Context()).Err(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			b := e.accept(t, "b1", chatsync.BatchHistory, privates(12)...)
			tt.lose(t, e, b)
			e.serve(t, worker.ServerParams{Concurrency: 2})
			sw := e.sweeper()
			if n, err := sw.Sweep(t.Context()); err != nil || n != 1 {
				t.Fatalf("Sweep = %d, %v; want the batch queued again", n, err)
			}
			got := e.waitBatch(t, "b1", chatsync.BatchCompleted)
			if got.Attempts != 1 || got.WrittenCount != 12 {
				t.Fatalf("batch = %d attempts, %d written", got.Attempts, got.WrittenCount)
			}
			if n, err := sw.Sweep(t.Context()); err != nil || n != 0 {
				t.Fatalf("second Sweep = %d, %v; a completed batch is not pending", n, err)
			}
			if chats, sess := e.count(t, "chats"), e.sessionNow(t); chats != 12 || sess.TotalSynced != 12 {
				t.Fatalf("%d chats, total synced %d; want 12 once", chats, sess.TotalSynced)
			}
		})
	}
}

// A batch whose task is still queued is not queued twice, batches within
// the grace period are left alone, and one sweeper runs at a time.
func TestSweeperLeavesLiveTasksAlone(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.accept(t, "b1", chatsync.BatchLive, private(1, t0))
	e.enqueue(t, b)
	sw := e.sweeper()
	if n, err := sw.Sweep(t.Context()); err != nil || n != 0 {
		t.Fatalf("Sweep with the task queued = %d, %v", n, err)
	}
	young := e.sweeper()
	young.Grace = time.Hour
	if err := e.rdb.FlushDB(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := young.Sweep(t.Context()); err != nil || n != 0 {
		t.Fatalf("Sweep within the grace period = %d, %v", n, err)
	}
	// Another worker holds the sweep lock.
	if err := e.rdb.Set(t.Context(), "chatsync:lock:sweeper", "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := sw.Sweep(t.Context()); err != nil || n != 0 {
		t.Fatalf("Sweep under another sweeper's lock = %d, %v", n, err)
	}
}

// Run sweeps until its context ends.
func TestSweeperRun(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.accept(t, "b1", chatsync.BatchLive, private(1, t0))
	e.serve(t, worker.ServerParams{Concurrency: 1})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); e.sweeper().Run(ctx) }()
	e.waitBatch(t, "b1", chatsync.BatchCompleted)
	waitFor(t, 10*time.Second, func() bool {
		return len(e.logs.lines(t, "re-enqueued pending batches")) > 0 &&
			slices.ContainsFunc(e.logs.lines(t, "queue stats"), func(l map[string]any) bool { return l["queue"] == tasks.QueueLive })
	}, func() string { return "the sweeper did not log what it queued and the queues' figures" })
	cancel()
	<-done
}

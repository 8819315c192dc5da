package worker_test

import (
	"context"
	"maps"
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

// The sweeper frees what finished work no longer needs: a completed
// batch's payload after its retention, its row after a longer one; failed
// and pending batches stay whole.
func TestSweeperPrunesFinishedBatches(t *testing.T) {
	for _, sqlite := range []bool{false, true} {
		t.Run(map[bool]string{false: "postgres", true: "sqlite"}[sqlite], func(t *testing.T) {
			e := newEnv(t, envOptions{sqlite: sqlite})
			now := time.Now()
			finish := func(id string, status chatsync.BatchStatus, ago time.Duration) {
				b := e.accept(t, id, chatsync.BatchHistory, privates(2)...)
				if status == chatsync.BatchQueued {
					return
				}
				if _, err := e.store.DB().NewUpdate().Table("sync_batches").Set("status = ?, finished_at = ?", string(status), now.Add(-ago)).
					Where("id = ?", b.ID).Exec(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			finish("recent", chatsync.BatchCompleted, time.Hour)
			finish("week-old", chatsync.BatchCompleted, 8*24*time.Hour)
			finish("month-old", chatsync.BatchCompleted, 31*24*time.Hour)
			finish("failed-month-old", chatsync.BatchFailed, 31*24*time.Hour)
			finish("pending", chatsync.BatchQueued, 0)
			sw := e.sweeper()
			sw.Grace = time.Hour // nothing to re-enqueue: only the pruning
			if _, err := sw.Sweep(t.Context()); err != nil {
				t.Fatal(err)
			}
			payloads := map[string]string{}
			var rows []struct {
				BatchID string `bun:"batch_id"`
				Payload []byte `bun:"payload"`
			}
			if err := e.store.DB().NewSelect().Table("sync_batches").Column("batch_id", "payload").Scan(t.Context(), &rows); err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				payloads[r.BatchID] = string(r.Payload)
			}
			if _, ok := payloads["month-old"]; ok || len(payloads) != 4 {
				t.Fatalf("batches left %v, want all but the month-old completed one", slices.Sorted(maps.Keys(payloads)))
			}
			if payloads["week-old"] != "{}" {
				t.Errorf("the week-old completed batch kept its payload (%d bytes)", len(payloads["week-old"]))
			}
			for _, id := range []string{"recent", "failed-month-old", "pending"} {
				if len(payloads[id]) < 10 {
					t.Errorf("batch %s lost its payload", id)
				}
			}
			if lines := e.logs.lines(t, "pruned finished batches"); len(lines) != 1 || lines[0]["payloads"] != 1.0 || lines[0]["rows"] != 1.0 {
				t.Errorf("prune log lines %v", lines)
			}
		})
	}
}

package worker_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/worker"
	"github.com/chatsync/chatsync/worker/tasks"
)

// The live queue is served strictly before the backfill: with one worker
// busy on the first of a backlog of history batches, a live batch queued
// after all of them is the next one processed.
func TestLiveIsServedBeforeBackfill(t *testing.T) {
	e := newEnv(t, envOptions{})
	var history []chatsync.Batch
	for i := range 5 {
		b := e.accept(t, fmt.Sprintf("h%d", i), chatsync.BatchHistory, private(i, t0))
		e.enqueue(t, b)
		history = append(history, b)
	}

	var mu sync.Mutex
	var order []string
	busy, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	mux := asynq.NewServeMux()
	mux.HandleFunc(tasks.TypeSyncBatch, func(ctx context.Context, task *asynq.Task) error {
		p, err := tasks.DecodeSyncBatch(task)
		if err != nil {
			return err
		}
		mu.Lock()
		order = append(order, fmt.Sprint(p.BatchPK))
		mu.Unlock()
		once.Do(func() { close(busy); <-release })
		return e.proc.HandleSyncBatch(ctx, task)
	})
	srv := worker.NewServer(worker.ServerParams{Redis: e.rdb, Log: e.log, Concurrency: 1})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)

	<-busy // the worker holds a history batch; the rest wait
	live := e.accept(t, "live", chatsync.BatchLive, private(9, t0))
	e.enqueue(t, live)
	close(release)
	for _, b := range append(history, live) {
		e.waitBatch(t, b.BatchID, chatsync.BatchCompleted)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 6 || order[1] != fmt.Sprint(live.ID) {
		t.Fatalf("processing order %v: want the live batch (%d) second", order, live.ID)
	}
}

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		n    int
		want time.Duration
	}{
		{-1, time.Second},
		{0, time.Second},
		{1, 2 * time.Second},
		{2, 4 * time.Second},
		{16, time.Second << 16},
		{40, time.Second << 16},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			if got := worker.RetryDelay(time.Second, tt.n); got != tt.want {
				t.Fatalf("RetryDelay(1s, %d) = %s, want %s", tt.n, got, tt.want)
			}
		})
	}
}

// The worker's mux routes sync batches to the processor.
func TestMuxRoutesSyncBatches(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.accept(t, "b1", chatsync.BatchLive, private(1, t0))
	task, err := tasks.NewSyncBatchTask(b.ID, b.Kind)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.proc.Mux().ProcessTask(t.Context(), task); err != nil {
		t.Fatal(err)
	}
	if got := e.batch(t, "b1"); got.Status != chatsync.BatchCompleted {
		t.Fatalf("batch = %s", got.Status)
	}
	if !slices.ContainsFunc(e.logs.lines(t, "sync completed"), func(l map[string]any) bool { return l["batch_id"] == "b1" }) {
		t.Fatal("no completion line")
	}
}

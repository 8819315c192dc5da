package main

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"

	"github.com/chatsync/chatsync/worker"
	"github.com/chatsync/chatsync/worker/tasks"
)

// TestAsynqRunsOnEmbeddedRedis keeps the embedded mode's premise checked:
// real Asynq enqueue, processing, a retry and Inspector stats on the
// in-process miniredis. An upgrade of either that breaks it fails here.
func TestAsynqRunsOnEmbeddedRedis(t *testing.T) {
	mini := miniredis.NewMiniRedis()
	if err := mini.StartAddr("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer mini.Close()
	opt := asynq.RedisClientOpt{Addr: mini.Addr()}

	var calls atomic.Int32
	done := make(chan struct{})
	srv := asynq.NewServer(opt, asynq.Config{
		Concurrency:              2,
		Queues:                   tasks.Queues(),
		StrictPriority:           true,
		DelayedTaskCheckInterval: 50 * time.Millisecond,
		TaskCheckInterval:        20 * time.Millisecond,
		RetryDelayFunc:           func(int, error, *asynq.Task) time.Duration { return 10 * time.Millisecond },
		Logger:                   worker.AsynqLogger(quietLog()),
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(tasks.TypeSyncBatch, func(ctx context.Context, task *asynq.Task) error {
		if calls.Add(1) == 1 {
			return errors.New("first attempt fails")
		}
		if n, _ := asynq.GetRetryCount(ctx); n != 1 {
			t.Errorf("retry count = %d, want 1", n)
		}
		close(done)
		return nil
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()

	client := asynq.NewClient(opt)
	defer client.Close()
	queued, err := tasks.Enqueue(t.Context(), client, 7, "live")
	if err != nil || !queued {
		t.Fatalf("Enqueue = %v, %v", queued, err)
	}
	// The same batch again is one task (TaskID).
	if again, err := tasks.Enqueue(t.Context(), client, 7, "live"); err != nil || again {
		t.Fatalf("second Enqueue = %v, %v; want deduplicated", again, err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("task not processed after a retry (%d calls)", calls.Load())
	}
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := insp.GetQueueInfo(tasks.QueueLive)
		if err != nil {
			t.Fatal(err)
		}
		if info.Processed >= 2 && info.Failed >= 1 && info.Size == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue stats = processed %d, failed %d, size %d", info.Processed, info.Failed, info.Size)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

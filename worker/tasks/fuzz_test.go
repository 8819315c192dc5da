package tasks_test

import (
	"errors"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/chatsync/chatsync/worker/tasks"
)

// FuzzDecodeSyncBatch: any task payload decodes to a batch key > 0, or is
// refused with SkipRetry (a bad payload is never retried); nothing panics.
func FuzzDecodeSyncBatch(f *testing.F) {
	for _, s := range []string{`{"batch":1}`, `{"batch":0}`, `{"batch":-5}`, `{}`, `null`, `[`, `{"batch":1e99}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := tasks.DecodeSyncBatch(asynq.NewTask(tasks.TypeSyncBatch, b))
		if err != nil {
			if !errors.Is(err, asynq.SkipRetry) {
				t.Fatalf("error %v does not skip retries", err)
			}
			return
		}
		if p.BatchPK <= 0 {
			t.Fatalf("decoded batch key %d", p.BatchPK)
		}
	})
}

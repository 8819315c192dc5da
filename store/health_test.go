package store_test

import (
	"testing"
	"time"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
)

// finishedBatch accepts a batch and rewrites its timings and outcome, as the
// worker would have left them.
func finishedBatch(t *testing.T, f fixture, id string, status chatsync.BatchStatus, created, finished time.Time) {
	t.Helper()
	b, _, err := f.s.AcceptBatch(t.Context(), store.NewBatch{WorkspaceID: f.ws, SessionID: f.session.ID, BatchID: id, Kind: chatsync.BatchLive})
	if err != nil {
		t.Fatal(err)
	}
	q := f.s.DB().NewUpdate().Table("sync_batches").Set("status = ?", string(status)).Set("created_at = ?", created).Where("id = ?", b.ID)
	if !finished.IsZero() {
		q = q.Set("finished_at = ?", finished)
	}
	if _, err := q.Exec(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestBatchFigures(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		now := time.Now().UTC()
		since := now.Add(-time.Hour)
		// In the window: 3 completed (2 s, 4 s, 6 s) and 1 failed (8 s).
		finishedBatch(t, f, "c1", chatsync.BatchCompleted, now.Add(-50*time.Minute), now.Add(-50*time.Minute+2*time.Second))
		finishedBatch(t, f, "c2", chatsync.BatchCompleted, now.Add(-40*time.Minute), now.Add(-40*time.Minute+4*time.Second))
		finishedBatch(t, f, "c3", chatsync.BatchCompleted, now.Add(-30*time.Minute), now.Add(-30*time.Minute+6*time.Second))
		finishedBatch(t, f, "f1", chatsync.BatchFailed, now.Add(-20*time.Minute), now.Add(-20*time.Minute+8*time.Second))
		// Before the window: not counted.
		finishedBatch(t, f, "old", chatsync.BatchFailed, now.Add(-3*time.Hour), now.Add(-2*time.Hour))
		// Pending: 2.
		finishedBatch(t, f, "q1", chatsync.BatchQueued, now.Add(-time.Minute), time.Time{})
		finishedBatch(t, f, "p1", chatsync.BatchProcessing, now.Add(-2*time.Hour), time.Time{})

		got, err := s.SessionBatchFigures(t.Context(), f.session.ID, since)
		if err != nil {
			t.Fatal(err)
		}
		want := store.BatchFigures{Pending: 2, Completed: 3, Failed: 1, AvgDuration: 5 * time.Second}
		if got != want {
			t.Errorf("SessionBatchFigures = %+v, want %+v", got, want)
		}
		if got.Finished() != 4 {
			t.Errorf("Finished = %d", got.Finished())
		}
		empty, err := s.SessionBatchFigures(t.Context(), f.session.ID+1000, since)
		if err != nil || empty != (store.BatchFigures{}) {
			t.Errorf("unknown session: %+v, %v", empty, err)
		}

		byProvider, err := s.ProviderBatchFigures(t.Context(), since)
		if err != nil {
			t.Fatal(err)
		}
		if got := byProvider[chatsync.ProviderWebJS]; got != want {
			t.Errorf("ProviderBatchFigures[webjs] = %+v, want %+v", got, want)
		}
		if len(byProvider) != 1 {
			t.Errorf("providers: %v", byProvider)
		}

		counts, err := s.SessionCounts(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(counts) != 1 || counts[0] != (store.SessionCount{Provider: chatsync.ProviderWebJS, Status: chatsync.SessionPending, Count: 1}) {
			t.Errorf("SessionCounts = %+v", counts)
		}
	})
}

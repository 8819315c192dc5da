package store_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
)

// TestHistoryNotifications: a stored notification stays pending until
// finished, a redelivery is a no-op, failures are counted, and a permanent
// failure leaves the pending list but stays counted.
func TestHistoryNotifications(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		ctx := t.Context()
		sid := f.session.ID
		for _, id := range []string{"H1", "H2", "H3", "H1"} { // H1 delivered twice
			if err := s.SaveHistoryNotification(ctx, sid, id, []byte("blob-"+id)); err != nil {
				t.Fatal(err)
			}
		}
		pending, err := s.PendingHistoryNotifications(ctx, sid, 10)
		if err != nil || len(pending) != 3 {
			t.Fatalf("pending = %+v, %v; want H1, H2, H3 once each", pending, err)
		}
		if pending[0].MessageID != "H1" || !bytes.Equal(pending[0].Notification, []byte("blob-H1")) || pending[2].MessageID != "H3" || pending[0].ReceivedAt.IsZero() {
			t.Fatalf("pending, oldest first: %+v", pending)
		}
		if other, _ := s.PendingHistoryNotifications(ctx, sid+1000, 10); len(other) != 0 {
			t.Errorf("another session's pending: %+v", other)
		}
		if first, _ := s.PendingHistoryNotifications(ctx, sid, 1); len(first) != 1 || first[0].MessageID != "H1" {
			t.Errorf("limit 1: %+v", first)
		}

		if err := s.HistoryNotificationFailed(ctx, pending[0].ID, "download: timeout", false); err != nil {
			t.Fatal(err)
		}
		if err := s.HistoryNotificationFailed(ctx, pending[1].ID, "download: 410 gone", true); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishHistoryNotification(ctx, pending[2].ID); err != nil {
			t.Fatal(err)
		}
		left, err := s.PendingHistoryNotifications(ctx, sid, 10)
		if err != nil || len(left) != 1 || left[0].MessageID != "H1" || left[0].Attempts != 1 || left[0].LastError != "download: timeout" {
			t.Fatalf("pending after a retryable failure, a permanent one and a finish: %+v, %v", left, err)
		}
		// A finished notification delivered again is not pending again.
		if err := s.SaveHistoryNotification(ctx, sid, "H3", []byte("blob-H3")); err != nil {
			t.Fatal(err)
		}
		n, failed, err := s.HistoryNotificationCounts(ctx, sid)
		if err != nil || n != 1 || failed != 1 {
			t.Errorf("counts = %d pending, %d failed, %v; want 1, 1", n, failed, err)
		}

		for _, k := range []store.HistorySkips{
			{ChatsOverMaxChats: 3, ChatsOutsideWindow: 2, MessagesOutsideWindow: 40},
			{},
			{ChatsOverMaxChats: 1, ChatsInvalid: 1, MessagesOutsideWindow: 2},
		} {
			if err := s.AddHistorySkips(ctx, sid, k); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.HistoryFigures(ctx, sid)
		want := store.HistoryFigures{
			HistorySkips: store.HistorySkips{ChatsOverMaxChats: 4, ChatsOutsideWindow: 2, ChatsInvalid: 1, MessagesOutsideWindow: 42},
			PendingBlobs: 1, LostBlobs: 1,
		}
		if err != nil || got != want {
			t.Errorf("HistoryFigures = %+v, %v; want %+v", got, err, want)
		}
		if _, err := s.HistoryFigures(ctx, sid+1000); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("figures of an unknown session: %v", err)
		}
	})
}

package store_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
)

func TestSidecarReports(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		ctx := t.Context()
		sid := f.session.ID
		if h, err := s.SidecarHealth(ctx, sid); err != nil || h.Status.State != "" || !h.SyncAt.IsZero() || h.Sync.Unreadable != nil {
			t.Fatalf("before any report: %+v, %v", h, err)
		}
		sess, err := s.ReportSidecar(ctx, sid, store.SidecarReport{State: chatsync.SidecarUnreachable, LastError: "net::ERR_NAME_NOT_RESOLVED"})
		if err != nil || sess.Sidecar.State != chatsync.SidecarUnreachable || sess.Sidecar.LastError != "net::ERR_NAME_NOT_RESOLVED" || sess.Sidecar.ReportedAt.IsZero() {
			t.Fatalf("ReportSidecar = %+v, %v", sess.Sidecar, err)
		}
		sync := &store.SidecarSync{Total: 120, Synced: 119, UnreadableCount: 1, Unreadable: []store.UnreadableChat{{JID: "15550000037@s.whatsapp.net", Reason: "fetchMessages threw"}}}
		if _, err := s.ReportSidecar(ctx, sid, store.SidecarReport{State: chatsync.SidecarReady, Sync: sync}); err != nil {
			t.Fatal(err)
		}
		// A later report without a sync keeps the last sync's figures.
		if _, err := s.ReportSidecar(ctx, sid, store.SidecarReport{State: chatsync.SidecarReady}); err != nil {
			t.Fatal(err)
		}
		h, err := s.SidecarHealth(ctx, sid)
		if err != nil || h.Status.State != chatsync.SidecarReady || h.Status.LastError != "" || h.SyncAt.IsZero() || !reflect.DeepEqual(h.Sync, *sync) {
			t.Errorf("SidecarHealth = %+v, %v", h, err)
		}
		if got, _ := s.SessionByID(ctx, sid); got.Sidecar.State != chatsync.SidecarReady {
			t.Errorf("session's sidecar %+v", got.Sidecar)
		}
		if _, err := s.ReportSidecar(ctx, sid+1000, store.SidecarReport{State: chatsync.SidecarReady}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("report of an unknown session: %v", err)
		}
		if _, err := s.SidecarHealth(ctx, sid+1000); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("health of an unknown session: %v", err)
		}
		// messages_per_chat round-trips with the rest of the sync config.
		cfg := chatsync.SyncConfig{MaxChats: 5, MessagesPerChat: 250}
		if got, err := s.UpdateSession(ctx, f.ws, sid, store.SessionUpdate{SyncConfig: &cfg}); err != nil || got.SyncConfig != cfg {
			t.Errorf("UpdateSession sync config = %+v, %v", got.SyncConfig, err)
		}
	})
}

package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
)

func TestCommands(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		ctx := t.Context()
		resync, err := s.CreateCommand(ctx, store.NewCommand{WorkspaceID: f.ws, SessionID: f.session.ID, Kind: store.CommandResync})
		if err != nil {
			t.Fatal(err)
		}
		send, err := s.CreateCommand(ctx, store.NewCommand{WorkspaceID: f.ws, SessionID: f.session.ID, Kind: store.CommandSend, ChatJID: "15551234567@s.whatsapp.net", Text: "hi"})
		if err != nil {
			t.Fatal(err)
		}
		if resync.Status != store.CommandOpen || send.ID <= resync.ID || send.CreatedAt.IsZero() {
			t.Fatalf("created %+v, %+v", resync, send)
		}
		open, err := s.OpenCommands(ctx, f.session.ID, 0, 10)
		if err != nil || len(open) != 2 || open[0].ID != resync.ID || open[1].Text != "hi" {
			t.Fatalf("OpenCommands = %+v, %v", open, err)
		}
		if after, _ := s.OpenCommands(ctx, f.session.ID, resync.ID, 10); len(after) != 1 || after[0].ID != send.ID {
			t.Errorf("OpenCommands after %d = %+v", resync.ID, after)
		}

		done, err := s.CompleteCommand(ctx, f.session.ID, send.ID, "", "wamid.1")
		if err != nil || done.Status != store.CommandDone || done.MessageID != "wamid.1" || done.CompletedAt.IsZero() {
			t.Fatalf("CompleteCommand = %+v, %v", done, err)
		}
		failed, err := s.CompleteCommand(ctx, f.session.ID, resync.ID, "phone offline", "")
		if err != nil || failed.Status != store.CommandFailed || failed.Error != "phone offline" {
			t.Fatalf("CompleteCommand failure = %+v, %v", failed, err)
		}
		again, err := s.CompleteCommand(ctx, f.session.ID, send.ID, "late", "")
		if !errors.Is(err, store.ErrBusy) || again.Status != store.CommandDone {
			t.Errorf("completing twice = %+v, %v; want ErrBusy and the first outcome kept", again, err)
		}
		if _, err := s.CompleteCommand(ctx, f.session.ID, send.ID+100, "", ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown command: %v", err)
		}
		if _, err := s.Command(ctx, f.session.ID+1, send.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("command of another session: %v", err)
		}
		if got, err := s.Command(ctx, f.session.ID, send.ID); err != nil || got.Status != store.CommandDone {
			t.Errorf("Command = %+v, %v", got, err)
		}
		if open, _ := s.OpenCommands(ctx, f.session.ID, 0, 10); len(open) != 0 {
			t.Errorf("open after completion: %+v", open)
		}
	})
}

func TestSessionDevicesAndLookups(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		ctx := t.Context()
		wm, err := s.CreateSession(ctx, store.NewSession{WorkspaceID: f.ws, DisplayName: "Phone", Provider: chatsync.ProviderWhatsmeow, SecretNonce: []byte("n"), Backup: true})
		if err != nil {
			t.Fatal(err)
		}
		if devs, err := s.WhatsmeowDevices(ctx); err != nil || len(devs) != 0 {
			t.Fatalf("before pairing: %+v, %v", devs, err)
		}
		if err := s.SetDeviceJID(ctx, wm.ID, "15550001111:7@s.whatsapp.net"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetDeviceJID(ctx, wm.ID+100, "x"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetDeviceJID of unknown session: %v", err)
		}
		devs, err := s.WhatsmeowDevices(ctx)
		if err != nil || len(devs) != 1 || devs[0].Session.ID != wm.ID || devs[0].DeviceJID != "15550001111:7@s.whatsapp.net" {
			t.Fatalf("WhatsmeowDevices = %+v, %v", devs, err)
		}
		if jid, err := s.DeviceJID(ctx, wm.ID); err != nil || jid != "15550001111:7@s.whatsapp.net" {
			t.Errorf("DeviceJID = %q, %v", jid, err)
		}
		if got, err := s.SessionByID(ctx, wm.ID); err != nil || got.WorkspaceID != f.ws {
			t.Errorf("SessionByID = %+v, %v", got, err)
		}
		if _, err := s.SessionByID(ctx, wm.ID+100); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SessionByID unknown: %v", err)
		}
		if b, err := s.BackupSession(ctx, f.ws); err != nil || b.ID != wm.ID {
			t.Errorf("BackupSession = %+v, %v", b, err)
		}
		if _, err := s.BackupSession(ctx, f.ws+100); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("BackupSession of a workspace without one: %v", err)
		}

		old, mid := t0.Add(-2*time.Hour), t0.Add(-time.Hour)
		f.write(t, private(1, t0, chatsync.MessageInput{ID: "B", Timestamp: mid, Text: "second"}, chatsync.MessageInput{ID: "A", FromMe: true, Timestamp: old, Text: "first"}),
			private(2, t0.Add(-time.Minute)))
		anchors, err := s.HistoryAnchors(ctx, f.session.ID, "", 10)
		if err != nil || len(anchors) != 1 {
			t.Fatalf("HistoryAnchors = %+v, %v", anchors, err)
		}
		if a := anchors[0]; a.ChatJID != "6281234567001@s.whatsapp.net" || a.MessageID != "A" || !a.FromMe || !a.SentAt.Equal(old) {
			t.Errorf("anchor = %+v", a)
		}
		if one, _ := s.HistoryAnchors(ctx, f.session.ID, "6281234567002@s.whatsapp.net", 10); len(one) != 0 {
			t.Errorf("chat without messages has an anchor: %+v", one)
		}
		if ok, err := s.HasChat(ctx, f.session.ID, "6281234567002@s.whatsapp.net"); err != nil || !ok {
			t.Errorf("HasChat = %v, %v", ok, err)
		}
		if ok, _ := s.HasChat(ctx, wm.ID, "6281234567002@s.whatsapp.net"); ok {
			t.Error("HasChat true for another session")
		}

		if n, err := s.PendingBatchCount(ctx, f.session.ID); err != nil || n != 0 {
			t.Errorf("PendingBatchCount = %d, %v", n, err)
		}
		if _, _, err := s.AcceptBatch(ctx, store.NewBatch{WorkspaceID: f.ws, SessionID: f.session.ID, BatchID: "b", Kind: chatsync.BatchLive}); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.PendingBatchCount(ctx, f.session.ID); n != 1 {
			t.Errorf("PendingBatchCount = %d, want 1", n)
		}
	})
}

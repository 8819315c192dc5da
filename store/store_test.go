package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// fixture is a workspace with one session.
type fixture struct {
	s       *store.Store
	ws      int64
	session chatsync.Session
}

func newFixture(t *testing.T, s *store.Store) fixture {
	t.Helper()
	ws, _, err := s.EnsureWorkspace(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	sess, err := s.CreateSession(t.Context(), store.NewSession{
		WorkspaceID: ws.ID, DisplayName: "Support", Provider: chatsync.ProviderWebJS, SecretNonce: []byte("nonce"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{s: s, ws: ws.ID, session: sess}
}

func (f fixture) write(t *testing.T, chats ...chatsync.ChatInput) store.Written {
	t.Helper()
	for i := range chats {
		if err := chats[i].Validate(t0); err != nil {
			t.Fatalf("fixture chat %d invalid: %v", i, err)
		}
	}
	w, err := f.s.WriteChunk(t.Context(), f.ws, f.session.ID, chats, nil)
	if err != nil {
		t.Fatalf("WriteChunk: %v", err)
	}
	return w
}

func private(n int, at time.Time, msgs ...chatsync.MessageInput) chatsync.ChatInput {
	return chatsync.ChatInput{
		JID: fmt.Sprintf("6281234567%03d@s.whatsapp.net", n), Type: chatsync.ChatPrivate,
		LastActivity: at, Contact: &chatsync.ContactInput{PushName: fmt.Sprintf("Person %d", n)},
		Messages: msgs,
	}
}

func msg(id string, at time.Time, text string) chatsync.MessageInput {
	return chatsync.MessageInput{ID: id, Timestamp: at, Text: text}
}

func TestMigrationsUpDownUp(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		schema := func() []string {
			var names []string
			q := "SELECT table_name || '.' || column_name FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY 1"
			if !s.Postgres() {
				q = "SELECT m.name || '.' || p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' ORDER BY 1"
			}
			if err := s.DB().NewRaw(q).Scan(ctx, &names); err != nil {
				t.Fatal(err)
			}
			return names
		}
		before := schema()
		if !slices.Contains(before, "chats.last_activity_at") {
			t.Fatalf("migrated schema lacks chats.last_activity_at: %v", before)
		}
		for {
			reverted, err := s.Rollback(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(reverted) == 0 {
				break
			}
		}
		for _, col := range schema() {
			table, _, _ := strings.Cut(col, ".")
			if !slices.Contains([]string{"bun_migrations", "bun_migration_locks", "sqlite_sequence"}, table) {
				t.Fatalf("after rolling everything back, %s remains", col)
			}
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if after := schema(); !slices.Equal(before, after) {
			t.Fatalf("schema differs after up/down/up:\nbefore %v\nafter  %v", before, after)
		}
		st, err := s.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Unapplied()) != 0 || len(st.Applied()) != len(st) || len(st) < 4 {
			t.Fatalf("status: applied %d, unapplied %d", len(st.Applied()), len(st.Unapplied()))
		}
	})
}

// Batch payloads are lz4-compressed on PostgreSQL (this server has lz4; a
// server without it keeps pglz, see the migration), and a stored payload
// reads back whole.
func TestBatchPayloadsUseLZ4(t *testing.T) {
	t.Parallel()
	s := storetest.Postgres(t)
	ctx := t.Context()
	var method string
	err := s.DB().NewRaw(`SELECT attcompression::text FROM pg_attribute
		WHERE attrelid = 'sync_batches'::regclass AND attname = 'payload'`).Scan(ctx, &method)
	if err != nil || method != "l" {
		t.Fatalf("payload compression %q, %v; want l (lz4)", method, err)
	}
	f := newFixture(t, s)
	var p chatsync.BatchPayload
	for i := range 200 { // well over the 2 KB at which PostgreSQL compresses
		p.Chats = append(p.Chats, chatsync.ChatInput{JID: fmt.Sprintf("1555%07d@s.whatsapp.net", i), Type: chatsync.ChatPrivate, Name: fmt.Sprintf("Contact %d", i)})
	}
	b, _, err := s.AcceptBatch(ctx, store.NewBatch{WorkspaceID: f.ws, SessionID: f.session.ID, BatchID: "lz4", Kind: chatsync.BatchHistory, Payload: p})
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := s.DB().NewRaw("SELECT pg_column_compression(payload) FROM sync_batches WHERE id = ?", b.ID).Scan(ctx, &stored); err != nil || stored != "lz4" {
		t.Fatalf("stored payload compression %q, %v; want lz4", stored, err)
	}
	_, got, _, err := s.StartBatch(ctx, b.ID)
	if err != nil || len(got.Chats) != len(p.Chats) || got.Chats[199].JID != p.Chats[199].JID {
		t.Fatalf("payload read back: %d chats, %v", len(got.Chats), err)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		a, created, err := s.EnsureWorkspace(ctx, "a")
		if err != nil || !created {
			t.Fatalf("EnsureWorkspace = %v, %v", created, err)
		}
		again, created, err := s.EnsureWorkspace(ctx, "a")
		if err != nil || created || again.ID != a.ID {
			t.Fatalf("EnsureWorkspace again = %+v, %v, %v", again, created, err)
		}
		if _, err := s.CreateToken(ctx, a.ID, "dev", "tok-a"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateToken(ctx, a.ID, "dup", "tok-a"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate token: %v, want ErrConflict", err)
		}
		got, err := s.WorkspaceForToken(ctx, "tok-a")
		if err != nil || got != a.ID {
			t.Fatalf("WorkspaceForToken = %d, %v", got, err)
		}
		if _, err := s.WorkspaceForToken(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown token: %v", err)
		}
		if n, err := s.CountTokens(ctx, a.ID); err != nil || n != 1 {
			t.Fatalf("CountTokens = %d, %v", n, err)
		}
		if err := s.RevokeToken(ctx, a.ID, "tok-a"); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, a.ID, "tok-a"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second revoke: %v", err)
		}
		if _, err := s.WorkspaceForToken(ctx, "tok-a"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoked token still resolves: %v", err)
		}
	})
}

func TestSessions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		f := newFixture(t, s)
		other, _, _ := s.EnsureWorkspace(ctx, "other")
		b, err := s.CreateSession(ctx, store.NewSession{WorkspaceID: f.ws, DisplayName: "B", Provider: chatsync.ProviderWhatsmeow, SecretNonce: []byte("n"), Backup: true,
			SyncConfig: chatsync.SyncConfig{MaxChats: 10, SyncWindowDays: 7}})
		if err != nil {
			t.Fatal(err)
		}
		if b.Status != chatsync.SessionPending || b.SyncStatus != chatsync.SyncPending || !b.Backup || b.SyncConfig.MaxChats != 10 {
			t.Fatalf("created session = %+v", b)
		}
		if _, err := s.Session(ctx, other.ID, b.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("session of another workspace: %v", err)
		}
		// Backup moves: only one per workspace.
		yes := true
		a, err := s.UpdateSession(ctx, f.ws, f.session.ID, store.SessionUpdate{Backup: &yes})
		if err != nil || !a.Backup {
			t.Fatalf("UpdateSession backup = %+v, %v", a, err)
		}
		if b, _ = s.Session(ctx, f.ws, b.ID); b.Backup {
			t.Fatal("old backup kept its flag")
		}
		name := "Renamed"
		cfg := chatsync.SyncConfig{MaxChats: 5, RatePerMinute: 30}
		a, err = s.UpdateSession(ctx, f.ws, f.session.ID, store.SessionUpdate{DisplayName: &name, SyncConfig: &cfg})
		if err != nil || a.DisplayName != "Renamed" || a.SyncConfig != cfg {
			t.Fatalf("UpdateSession = %+v, %v", a, err)
		}
		if _, err := s.UpdateSession(ctx, other.ID, f.session.ID, store.SessionUpdate{DisplayName: &name}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update in another workspace: %v", err)
		}
		list, err := s.Sessions(ctx, f.ws, 0, 10)
		if err != nil || len(list) != 2 || list[0].ID != f.session.ID {
			t.Fatalf("Sessions = %+v, %v", list, err)
		}
		if list, _ := s.Sessions(ctx, f.ws, list[0].ID, 10); len(list) != 1 || list[0].ID != b.ID {
			t.Fatalf("Sessions after first = %+v", list)
		}
		if got, _ := s.SessionsByIDs(ctx, f.ws, []int64{b.ID, 999999}); len(got) != 1 {
			t.Fatalf("SessionsByIDs = %+v", got)
		}
		if got, _ := s.SessionsByProvider(ctx, chatsync.ProviderWhatsmeow); len(got) != 1 || got[0].ID != b.ID {
			t.Fatalf("SessionsByProvider = %+v", got)
		}
		ws, nonce, err := s.SessionSecret(ctx, b.ID)
		if err != nil || ws != f.ws || string(nonce) != "n" {
			t.Fatalf("SessionSecret = %d, %q, %v", ws, nonce, err)
		}
		if err := s.SetSecretNonce(ctx, f.ws, b.ID, []byte("n2")); err != nil {
			t.Fatal(err)
		}
		if err := s.SetSecretNonce(ctx, other.ID, b.ID, []byte("x")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rotate in another workspace: %v", err)
		}
		if _, nonce, _ := s.SessionSecret(ctx, b.ID); string(nonce) != "n2" {
			t.Fatalf("nonce after rotation = %q", nonce)
		}
		ban := t0.Add(time.Hour)
		got, err := s.SetSessionStatus(ctx, b.ID, chatsync.SessionBanned, "1555:1@s.whatsapp.net", "Me", ban)
		if err != nil || got.Status != chatsync.SessionBanned || !got.BanExpireAt.Equal(ban) || got.PushName != "Me" {
			t.Fatalf("SetSessionStatus = %+v, %v", got, err)
		}
		// Delete refuses while a batch is pending, then removes chats too.
		f2 := fixture{s: s, ws: f.ws, session: b}
		f2.write(t, private(1, t0))
		if _, _, err := s.AcceptBatch(ctx, store.NewBatch{WorkspaceID: f.ws, SessionID: b.ID, BatchID: "x", Kind: chatsync.BatchLive}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteSession(ctx, f.ws, b.ID); !errors.Is(err, store.ErrBusy) {
			t.Fatalf("delete with pending batch: %v, want ErrBusy", err)
		}
		bt, _ := s.Batch(ctx, f.ws, b.ID, "x")
		if _, _, err := s.CompleteBatch(ctx, bt.ID, store.BatchResult{}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteSession(ctx, other.ID, b.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete from another workspace: %v", err)
		}
		if err := s.DeleteSession(ctx, f.ws, b.ID); err != nil {
			t.Fatal(err)
		}
		chats, err := s.ListChats(ctx, store.ChatFilter{WorkspaceID: f.ws, SessionIDs: []int64{b.ID}}, nil, 10)
		if err != nil || len(chats) != 0 {
			t.Fatalf("chats of deleted session = %d, %v", len(chats), err)
		}
	})
}

func TestAcceptBatchIsIdempotent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		f := newFixture(t, s)
		nb := store.NewBatch{
			WorkspaceID: f.ws, SessionID: f.session.ID, BatchID: "b-1", Kind: chatsync.BatchHistory,
			Payload:  chatsync.BatchPayload{Chats: []chatsync.ChatInput{private(1, t0)}},
			Rejected: []chatsync.RejectedChat{{Index: 1, JID: "x", Reason: "jid: bad"}},
		}
		b, dup, err := s.AcceptBatch(ctx, nb)
		if err != nil || dup || b.Status != chatsync.BatchQueued || b.AcceptedCount != 1 || len(b.Rejected) != 1 {
			t.Fatalf("AcceptBatch = %+v, %v, %v", b, dup, err)
		}
		sess, _ := s.Session(ctx, f.ws, f.session.ID)
		if sess.SyncStatus != chatsync.SyncSyncing {
			t.Fatalf("sync status after accept = %s", sess.SyncStatus)
		}
		nb.Payload.Chats = append(nb.Payload.Chats, private(2, t0))
		b2, dup, err := s.AcceptBatch(ctx, nb)
		if err != nil || !dup || b2.ID != b.ID || b2.AcceptedCount != 1 {
			t.Fatalf("duplicate AcceptBatch = %+v, %v, %v", b2, dup, err)
		}
		started, p, done, err := s.StartBatch(ctx, b.ID)
		if err != nil || done || started.Attempts != 1 || started.Status != chatsync.BatchProcessing || started.StartedAt.IsZero() {
			t.Fatalf("StartBatch = %+v, %v, %v", started, done, err)
		}
		if len(p.Chats) != 1 || p.Chats[0].JID != nb.Payload.Chats[0].JID {
			t.Fatalf("stored payload = %+v (the duplicate must not replace it)", p)
		}
		if err := s.RecordAttemptError(ctx, b.ID, "boom"); err != nil {
			t.Fatal(err)
		}
		pending, err := s.PendingBatches(ctx, time.Now().Add(time.Minute), 10)
		if err != nil || len(pending) != 1 || pending[0].PK != b.ID || pending[0].Kind != chatsync.BatchHistory {
			t.Fatalf("PendingBatches = %+v, %v", pending, err)
		}
		sess, left, err := s.FailBatch(ctx, b.ID, "boom")
		if err != nil || left != 0 || sess.SyncStatus != chatsync.SyncFailed || sess.LastError != "boom" {
			t.Fatalf("FailBatch = %+v, %d, %v", sess, left, err)
		}
		if again, _, done, err := s.StartBatch(ctx, b.ID); err != nil || !done || again.Attempts != 1 || again.Status != chatsync.BatchFailed {
			t.Fatalf("a failed batch started again: %+v, %v, %v", again, done, err)
		}
		if _, _, _, err := s.StartBatch(ctx, 1<<40); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("StartBatch of a missing batch: %v", err)
		}
		got, err := s.Batch(ctx, f.ws, f.session.ID, "b-1")
		if err != nil || got.Status != chatsync.BatchFailed || got.LastError != "boom" || got.FinishedAt.IsZero() || got.Attempts != 1 {
			t.Fatalf("Batch = %+v, %v", got, err)
		}
		if _, err := s.Batch(ctx, f.ws+1000, f.session.ID, "b-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("batch of another workspace: %v", err)
		}
		// A later success sets the session back to synced.
		nb.BatchID = "b-2"
		b3, _, _ := s.AcceptBatch(ctx, nb)
		sess, _, err = s.CompleteBatch(ctx, b3.ID, store.BatchResult{Written: 2, Failed: []chatsync.FailedChat{{JID: "j", Reason: "r"}}})
		if err != nil || sess.SyncStatus != chatsync.SyncSynced || sess.LastError != "" || sess.TotalSynced != 2 || sess.LastSyncAt.IsZero() {
			t.Fatalf("CompleteBatch session = %+v, %v", sess, err)
		}
		got, _ = s.Batch(ctx, f.ws, f.session.ID, "b-2")
		if got.Status != chatsync.BatchCompleted || got.WrittenCount != 2 || len(got.FailedChats) != 1 {
			t.Fatalf("completed batch = %+v", got)
		}
	})
}

func TestWriteChunkIsIdempotentAndForwardOnly(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		f := newFixture(t, s)
		newer := private(1, t0.Add(time.Hour), msg("m2", t0.Add(time.Hour), "newer"))
		newer.UnreadCount = new(int32(3))
		newer.Name = "Alice"
		group := chatsync.ChatInput{
			JID: "120363041234567890@g.us", Type: chatsync.ChatGroup, LastActivity: t0,
			Group: &chatsync.GroupInput{Subject: "Team", Description: "d", OwnerJID: "6281234567001@s.whatsapp.net", Participants: []chatsync.ParticipantInput{
				{JID: "6281234567001@s.whatsapp.net", Role: chatsync.RoleSuperAdmin},
				{JID: "6281234567002@s.whatsapp.net", Role: chatsync.RoleAdmin},
				{JID: "6281234567003@s.whatsapp.net"},
			}},
			Messages: []chatsync.MessageInput{{ID: "g1", SenderJID: "6281234567002@s.whatsapp.net", Timestamp: t0, MediaType: chatsync.MediaImage}},
		}
		w := f.write(t, newer, group)
		if len(w.Chats) != 2 || len(w.Messages) != 2 {
			t.Fatalf("first write: %d chats, %d messages", len(w.Chats), len(w.Messages))
		}
		again := f.write(t, newer, group)
		if len(again.Messages) != 0 {
			t.Fatalf("rewrite reported %d new messages", len(again.Messages))
		}
		// An older report with no state moves neither activity nor preview
		// back, and its message from me leaves the unread count.
		older := private(1, t0, msg("m1", t0, "older"))
		older.Messages[0].FromMe = true
		older.Name = "Old name"
		f.write(t, older)

		chats, err := s.ListChats(ctx, store.ChatFilter{WorkspaceID: f.ws}, nil, 10)
		if err != nil || len(chats) != 2 {
			t.Fatalf("ListChats = %d, %v", len(chats), err)
		}
		a := chats[0]
		if a.JID != newer.JID || a.UnreadCount != 3 || a.LastMessagePreview != "newer" || !a.LastActivityAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("private chat after an older write = %+v", a)
		}
		if a.Name != "Old name" {
			// Names are not time-stamped: the latest non-empty one wins.
			t.Fatalf("name = %q", a.Name)
		}
		if a.Phone != "+6281234567001" || a.ContactName != "Person 1" || a.SessionName != "Support" || a.Provider != chatsync.ProviderWebJS {
			t.Fatalf("private chat view = %+v", a)
		}
		g := chats[1]
		if g.Type != chatsync.ChatGroup || g.Name != "Team" || g.ParticipantCount != 3 || g.Description != "d" || g.LastMessagePreview != "[image]" {
			t.Fatalf("group view = %+v", g)
		}
		msgs, err := s.ListMessages(ctx, f.ws, a.ID, nil, 10)
		if err != nil || len(msgs) != 2 || msgs[0].WAID != "m2" || msgs[1].WAID != "m1" {
			t.Fatalf("ListMessages = %+v, %v", msgs, err)
		}
		page2, err := s.ListMessages(ctx, f.ws, a.ID, &store.MessageCursor{SentAt: msgs[0].SentAt, ID: msgs[0].ID}, 10)
		if err != nil || len(page2) != 1 || page2[0].WAID != "m1" {
			t.Fatalf("ListMessages after cursor = %+v, %v", page2, err)
		}
		if _, err := s.ListMessages(ctx, f.ws+1000, a.ID, nil, 10); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("messages of another workspace: %v", err)
		}
		parts, err := s.Participants(ctx, f.ws, g.ID)
		if err != nil || len(parts) != 3 || parts[0].Role != chatsync.RoleSuperAdmin || parts[1].Role != chatsync.RoleAdmin || parts[2].Phone != "+6281234567003" {
			t.Fatalf("Participants = %+v, %v", parts, err)
		}
		if parts[0].Name != "Person 1" {
			t.Fatalf("participant name from contacts = %q", parts[0].Name)
		}
		// Members leave and get promoted; the count follows.
		change := chatsync.ChatInput{JID: group.JID, Type: chatsync.ChatGroup, Group: &chatsync.GroupInput{Changes: []chatsync.ParticipantChange{
			{JID: "6281234567003@s.whatsapp.net", Action: chatsync.ActionLeave},
			{JID: "6281234567002@s.whatsapp.net", Action: chatsync.ActionDemote},
			{JID: "6281234567004@s.whatsapp.net", Action: chatsync.ActionJoin},
			{JID: "6281234567004@s.whatsapp.net", Action: chatsync.ActionPromote},
			{JID: "6281234567001@s.whatsapp.net", Action: chatsync.ActionLeave},
		}}}
		f.write(t, change)
		got, err := s.Chat(ctx, f.ws, g.ID)
		if err != nil || got.ParticipantCount != 2 || got.Name != "Team" {
			t.Fatalf("group after changes = %+v, %v", got, err)
		}
		parts, _ = s.Participants(ctx, f.ws, g.ID)
		roles := map[string]chatsync.Role{}
		for _, p := range parts {
			roles[p.JID] = p.Role
		}
		if roles["6281234567002@s.whatsapp.net"] != chatsync.RoleMember || roles["6281234567004@s.whatsapp.net"] != chatsync.RoleAdmin || len(roles) != 2 {
			t.Fatalf("roles after changes = %v", roles)
		}
		if _, err := s.Chat(ctx, f.ws+1000, g.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("chat of another workspace: %v", err)
		}
		if parts, _ := s.Participants(ctx, f.ws+1000, g.ID); len(parts) != 0 {
			t.Fatalf("participants leaked across workspaces: %v", parts)
		}
	})
}

func TestLIDAndPhoneMergeIntoOneContact(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		f := newFixture(t, s)
		lid := "123456789012345@lid"
		phoneJID := "6281234567001@s.whatsapp.net"
		// Seen by LID first (a LID chat), then by phone, then the mapping.
		f.write(t, chatsync.ChatInput{JID: lid, Type: chatsync.ChatPrivate, LastActivity: t0, Contact: &chatsync.ContactInput{PushName: "Lid name"}})
		f.write(t, private(1, t0))
		var contacts int
		count := func() int {
			n, err := s.DB().NewSelect().Table("contacts").Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
		if contacts = count(); contacts != 2 {
			t.Fatalf("contacts before mapping = %d", contacts)
		}
		if _, err := s.WriteChunk(ctx, f.ws, f.session.ID, nil, []chatsync.ContactInput{{JID: phoneJID, AltJID: lid, FullName: "Alice Full"}}); err != nil {
			t.Fatal(err)
		}
		if contacts = count(); contacts != 1 {
			t.Fatalf("contacts after mapping = %d, want 1", contacts)
		}
		chats, _ := s.ListChats(ctx, store.ChatFilter{WorkspaceID: f.ws}, nil, 10)
		for _, c := range chats {
			if c.ContactName != "Alice Full" || c.Phone != "+6281234567001" {
				t.Fatalf("chat %s after merge = %+v", c.JID, c)
			}
		}
		// Mapping again is a no-op; a LID-only contact for a new person stays.
		if _, err := s.WriteChunk(ctx, f.ws, f.session.ID, nil, []chatsync.ContactInput{{JID: lid, AltJID: phoneJID}, {JID: "999@lid", PushName: "x"}}); err != nil {
			t.Fatal(err)
		}
		if contacts = count(); contacts != 2 {
			t.Fatalf("contacts after repeat = %d, want 2", contacts)
		}
		// A LID seen before any phone contact takes the phone JID in place.
		if _, err := s.WriteChunk(ctx, f.ws, f.session.ID, nil, []chatsync.ContactInput{{JID: "6281234567009@s.whatsapp.net", AltJID: "999@lid"}}); err != nil {
			t.Fatal(err)
		}
		if contacts = count(); contacts != 2 {
			t.Fatalf("contacts after LID upgrade = %d, want 2", contacts)
		}
		// The LID moves to another number: the old holder lets go.
		if _, err := s.WriteChunk(ctx, f.ws, f.session.ID, nil, []chatsync.ContactInput{{JID: "6281234567008@s.whatsapp.net", AltJID: "999@lid"}}); err != nil {
			t.Fatal(err)
		}
		if contacts = count(); contacts != 3 {
			t.Fatalf("contacts after LID moved = %d, want 3", contacts)
		}
	})
}

func TestUnnormalisablePhoneIsKeptRawAndFlagged(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		c := private(1, t0)
		c.Contact.Phone = "12345"
		f.write(t, c)
		var row struct {
			Raw   string `bun:"phone_raw"`
			E164  string `bun:"phone_e164"`
			Valid bool   `bun:"phone_valid"`
		}
		if err := s.DB().NewSelect().Table("contacts").Column("phone_raw", "phone_e164", "phone_valid").Scan(t.Context(), &row); err != nil {
			t.Fatal(err)
		}
		if row.Raw != "12345" || row.E164 != "" || row.Valid {
			t.Fatalf("contact phone = %+v, want raw kept and flagged invalid", row)
		}
	})
}

func TestListChatsKeysetAndFilters(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		f := newFixture(t, s)
		s2, err := s.CreateSession(ctx, store.NewSession{WorkspaceID: f.ws, DisplayName: "Sales", Provider: chatsync.ProviderMetaCloud, SecretNonce: []byte("n")})
		if err != nil {
			t.Fatal(err)
		}
		var batch1, batch2 []chatsync.ChatInput
		for i := range 25 {
			c := private(i, t0.Add(time.Duration(i%7)*time.Minute)) // ties on time
			if i%5 == 0 {
				c.UnreadCount = new(int32(2))
			}
			if i%2 == 0 {
				batch1 = append(batch1, c)
			} else {
				batch2 = append(batch2, c)
			}
		}
		f.write(t, batch1...)
		fixture{s: s, ws: f.ws, session: s2}.write(t, batch2...)
		other, _, _ := s.EnsureWorkspace(ctx, "other")
		os, _ := s.CreateSession(ctx, store.NewSession{WorkspaceID: other.ID, DisplayName: "X", Provider: chatsync.ProviderWebJS, SecretNonce: []byte("n")})
		fixture{s: s, ws: other.ID, session: os}.write(t, private(99, t0))

		walk := func(flt store.ChatFilter, size int) []chatsync.ChatView {
			var all []chatsync.ChatView
			var cur *store.ChatCursor
			for {
				page, err := s.ListChats(ctx, flt, cur, size)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, page...)
				if len(page) < size {
					return all
				}
				last := page[len(page)-1]
				cur = &store.ChatCursor{LastActivityAt: last.LastActivityAt, ID: last.ID}
			}
		}
		all := walk(store.ChatFilter{WorkspaceID: f.ws}, 4)
		if len(all) != 25 {
			t.Fatalf("walked %d chats, want 25", len(all))
		}
		seen := map[int64]bool{}
		for i, c := range all {
			if seen[c.ID] {
				t.Fatalf("chat %d twice", c.ID)
			}
			seen[c.ID] = true
			if i > 0 {
				p := all[i-1]
				if c.LastActivityAt.After(p.LastActivityAt) || (c.LastActivityAt.Equal(p.LastActivityAt) && c.ID > p.ID) {
					t.Fatalf("order broken at %d", i)
				}
			}
			if c.WorkspaceID != f.ws {
				t.Fatalf("chat of another workspace listed: %+v", c)
			}
		}
		only := walk(store.ChatFilter{WorkspaceID: f.ws, SessionIDs: []int64{s2.ID}}, 5)
		if len(only) != len(batch2) || !allOf(only, func(c chatsync.ChatView) bool {
			return c.SessionID == s2.ID && c.Provider == chatsync.ProviderMetaCloud
		}) {
			t.Fatalf("session filter: %d chats", len(only))
		}
		both := walk(store.ChatFilter{WorkspaceID: f.ws, SessionIDs: []int64{s2.ID, f.session.ID}}, 50)
		if len(both) != 25 {
			t.Fatalf("two-session filter: %d chats", len(both))
		}
		unread := walk(store.ChatFilter{WorkspaceID: f.ws, UnreadOnly: true}, 50)
		if len(unread) != 5 || !allOf(unread, func(c chatsync.ChatView) bool { return c.UnreadCount > 0 }) {
			t.Fatalf("unread filter: %d chats", len(unread))
		}
		if g := walk(store.ChatFilter{WorkspaceID: f.ws, Type: chatsync.ChatGroup}, 50); len(g) != 0 {
			t.Fatalf("group filter: %d chats", len(g))
		}
		for q, want := range map[string]int{"person 1": 11, "PERSON 12": 1, "+628123456701": 10, "100%": 0, "nobody": 0} {
			if got := walk(store.ChatFilter{WorkspaceID: f.ws, Query: q}, 50); len(got) != want {
				t.Errorf("search %q: %d chats, want %d", q, len(got), want)
			}
		}
	})
}

func allOf(cs []chatsync.ChatView, fn func(chatsync.ChatView) bool) bool {
	for _, c := range cs {
		if !fn(c) {
			return false
		}
	}
	return true
}

func TestIsDataError(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		_, err := s.DB().ExecContext(t.Context(), "INSERT INTO workspaces (id, name, created_at) VALUES (1, 'x', '2026-01-01 00:00:00+00:00'), (1, 'y', '2026-01-01 00:00:00+00:00')")
		if err == nil || !store.IsDataError(err) {
			t.Fatalf("duplicate key: IsDataError(%v) = false", err)
		}
		if store.IsDataError(context.DeadlineExceeded) {
			t.Fatal("a deadline is not a data error")
		}
	})
}

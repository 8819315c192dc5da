package store_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
)

// TestChatViewsMatchListChats keeps the prepared view query of the write
// path (ingest_pg.go) in step with the chat list's (chat.go): the same chats
// read both ways are equal.
func TestChatViewsMatchListChats(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		f := newFixture(t, s)
		group := chatsync.ChatInput{
			JID: "120363041234567890@g.us", Type: chatsync.ChatGroup, LastActivity: t0,
			Group: &chatsync.GroupInput{Subject: "Team", Description: "d", Participants: []chatsync.ParticipantInput{
				{JID: "6281234567001@s.whatsapp.net"}, {JID: "6281234567002@s.whatsapp.net"},
			}},
		}
		w := f.write(t, private(1, t0.Add(time.Minute), msg("m1", t0.Add(time.Minute), "hi")), group, private(2, t0))
		if len(w.ChatIDs) != 3 || len(w.Chats) != 3 {
			t.Fatalf("written = %+v", w)
		}
		views, err := s.ChatViews(ctx, f.ws, w.ChatIDs)
		if err != nil {
			t.Fatal(err)
		}
		listed, err := s.ListChats(ctx, store.ChatFilter{WorkspaceID: f.ws}, nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(views, listed) {
			t.Fatalf("ChatViews and ListChats differ:\n%+v\n%+v", views, listed)
		}
		i := slices.IndexFunc(views, func(v chatsync.ChatView) bool { return v.JID == group.JID })
		if g := views[i]; g.ParticipantCount != 2 || g.Description != "d" || g.SessionName != "Support" {
			t.Fatalf("group view = %+v", g)
		}
		if other, err := s.ChatViews(ctx, f.ws+1000, w.ChatIDs); err != nil || len(other) != 0 {
			t.Fatalf("views of another workspace = %+v, %v", other, err)
		}
		if none, err := s.ChatViews(ctx, f.ws, nil); err != nil || none != nil {
			t.Fatalf("views of no chats = %+v, %v", none, err)
		}
	})
}

// Two reports of one chat in a chunk merge into the newest one's state,
// with the messages of both.
func TestWriteChunkMergesRepeatedChats(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		f := newFixture(t, s)
		newer := private(1, t0.Add(time.Hour), msg("new", t0.Add(time.Hour), "newer"))
		newer.UnreadCount = new(int32(2))
		older := private(1, t0, msg("old", t0, "older"))
		older.UnreadCount = new(int32(7))
		older.Contact.FullName = "Only In The Older"
		newer.Contact = nil
		w := f.write(t, newer, older)
		if len(w.ChatIDs) != 1 || len(w.Messages) != 2 {
			t.Fatalf("written = %d chats, %d messages", len(w.ChatIDs), len(w.Messages))
		}
		got, err := s.Chat(ctx, f.ws, w.ChatIDs[0])
		if err != nil {
			t.Fatal(err)
		}
		if got.UnreadCount != 2 || got.LastMessagePreview != "newer" || got.ContactName != "Only In The Older" {
			t.Fatalf("merged chat = %+v", got)
		}
	})
}

// A chunk the database refuses rolls back whole, names the refused step,
// counts as a data error, and leaves the connection usable.
func TestWriteChunkRefusal(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		f := newFixture(t, s)
		check := "ALTER TABLE chats ADD CONSTRAINT no_poison CHECK (name <> 'poison')"
		if !s.Postgres() {
			// SQLite cannot add a constraint to a table: refuse by trigger.
			check = "CREATE TRIGGER no_poison BEFORE INSERT ON chats WHEN NEW.name = 'poison' BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: no_poison'); END"
		}
		if _, err := s.DB().ExecContext(ctx, check); err != nil {
			t.Fatal(err)
		}
		bad := private(2, t0)
		bad.Name = "poison"
		for i := range 3 {
			_, err := s.WriteChunk(ctx, f.ws, f.session.ID, []chatsync.ChatInput{private(1, t0), bad}, nil)
			if err == nil || !strings.Contains(err.Error(), "chats") || !strings.Contains(err.Error(), "no_poison") {
				t.Fatalf("attempt %d: err = %v", i, err)
			}
			if s.Postgres() && !store.IsDataError(err) {
				t.Fatalf("a refused chunk is not a data error: %v", err)
			}
		}
		if n, err := s.ListChats(ctx, store.ChatFilter{WorkspaceID: f.ws}, nil, 10); err != nil || len(n) != 0 {
			t.Fatalf("chats after refused chunks = %d, %v; the chunk must roll back whole", len(n), err)
		}
		f.write(t, private(1, t0))
	})
}

func TestSyncSession(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		sess, nonce, err := s.SyncSession(t.Context(), f.session.ID)
		if err != nil || sess.ID != f.session.ID || sess.WorkspaceID != f.ws || string(nonce) != "nonce" {
			t.Fatalf("SyncSession = %+v, %q, %v", sess, nonce, err)
		}
		if _, _, err := s.SyncSession(t.Context(), 1<<40); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("SyncSession of a missing session: %v", err)
		}
	})
}

// A completion carrying its attempt counts only while that attempt still
// runs the batch; of two runs, the later one's result counts.
func TestCompleteBatchAttemptGuard(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		f := newFixture(t, s)
		b, _, err := s.AcceptBatch(ctx, store.NewBatch{WorkspaceID: f.ws, SessionID: f.session.ID, BatchID: "b", Kind: chatsync.BatchLive})
		if err != nil {
			t.Fatal(err)
		}
		first, _, _, err := s.StartBatch(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		second, _, _, err := s.StartBatch(ctx, b.ID) // a redelivered task while the first runs
		if err != nil || second.Attempts != first.Attempts+1 {
			t.Fatalf("second start = %+v, %v", second, err)
		}
		if _, _, err := s.CompleteBatch(ctx, b.ID, store.BatchResult{Written: 5, Attempt: first.Attempts}); !errors.Is(err, store.ErrSuperseded) {
			t.Fatalf("the superseded attempt's result: %v, want ErrSuperseded", err)
		}
		sess, pending, err := s.CompleteBatch(ctx, b.ID, store.BatchResult{Written: 5, Attempt: second.Attempts})
		if err != nil || sess.TotalSynced != 5 || pending != 0 || sess.SyncStatus != chatsync.SyncSynced || sess.ID != f.session.ID {
			t.Fatalf("the current attempt's result = %+v, %d, %v", sess, pending, err)
		}
		if _, _, err := s.CompleteBatch(ctx, b.ID, store.BatchResult{Written: 5, Attempt: second.Attempts}); !errors.Is(err, store.ErrSuperseded) {
			t.Fatalf("completing twice: %v, want ErrSuperseded", err)
		}
		if _, _, err := s.CompleteBatch(ctx, 1<<40, store.BatchResult{}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("completing a missing batch: %v", err)
		}
	})
}

// Group members: a number that is the JID's digits is taken as is, one
// given otherwise is normalised, a LID member has none.
func TestMemberPhones(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		f := newFixture(t, s)
		g := chatsync.ChatInput{JID: "120363041234567890@g.us", Type: chatsync.ChatGroup, LastActivity: t0, Group: &chatsync.GroupInput{
			Participants: []chatsync.ParticipantInput{
				{JID: "15550001111@s.whatsapp.net"},
				{JID: "6281234567001@s.whatsapp.net", Phone: "+62 812-3456-7001"},
				{JID: "123456789012345@lid"},
			},
		}}
		w := f.write(t, g)
		parts, err := s.Participants(ctx, f.ws, w.ChatIDs[0])
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, p := range parts {
			got[p.JID] = p.Phone
		}
		if got["15550001111@s.whatsapp.net"] != "+15550001111" || got["6281234567001@s.whatsapp.net"] != "+6281234567001" || got["123456789012345@lid"] != "" {
			t.Fatalf("member phones = %v", got)
		}
	})
}

// A complete member list replaces the stored one: members it no longer
// names are removed, changed roles and phones follow, and writing it again
// changes nothing. On PostgreSQL the list is upserted and the rest deleted
// within one statement (ingest_pg.go), so this covers both halves.
func TestMemberListReplacesStoredOne(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		f := newFixture(t, s)
		group := func(at time.Time, members ...chatsync.ParticipantInput) chatsync.ChatInput {
			return chatsync.ChatInput{JID: "120363041234567890@g.us", Type: chatsync.ChatGroup, LastActivity: at,
				Group: &chatsync.GroupInput{Subject: "Team", Participants: members}}
		}
		a := chatsync.ParticipantInput{JID: "6281234567001@s.whatsapp.net", Role: chatsync.RoleSuperAdmin}
		b := chatsync.ParticipantInput{JID: "6281234567002@s.whatsapp.net"}
		c := chatsync.ParticipantInput{JID: "6281234567003@s.whatsapp.net"}
		d := chatsync.ParticipantInput{JID: "6281234567004@s.whatsapp.net", Phone: "+62 812-3456-7004"}
		// Another group's members stay untouched.
		other := chatsync.ChatInput{JID: "120363049999999999@g.us", Type: chatsync.ChatGroup, LastActivity: t0,
			Group: &chatsync.GroupInput{Subject: "Other", Participants: []chatsync.ParticipantInput{a, b}}}
		f.write(t, group(t0, a, b, c), other)

		promoted := b
		promoted.Role = chatsync.RoleAdmin
		for range 2 { // the second time is a redelivery
			w := f.write(t, group(t0.Add(time.Minute), promoted, d))
			parts, err := s.Participants(ctx, f.ws, w.ChatIDs[0])
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, p := range parts {
				got[p.JID] = string(p.Role) + " " + p.Phone
			}
			want := map[string]string{b.JID: "admin +6281234567002", d.JID: "member +6281234567004"}
			if !maps.Equal(got, want) {
				t.Fatalf("members = %v, want %v", got, want)
			}
			if len(w.Chats) != 1 || w.Chats[0].ParticipantCount != 2 {
				t.Fatalf("written = %+v", w.Chats)
			}
		}
		listed, err := s.ListChats(ctx, store.ChatFilter{WorkspaceID: f.ws}, nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range listed {
			if v.JID != other.JID {
				continue
			}
			if parts, err := s.Participants(ctx, f.ws, v.ID); err != nil || len(parts) != 2 || v.ParticipantCount != 2 {
				t.Fatalf("the other group's members = %+v, count %d, %v", parts, v.ParticipantCount, err)
			}
		}
	})
}

// A group written without its member list keeps its participant count,
// also when the same chunk's other chats carry one or are private chats.
func TestGroupWithoutMemberListKeepsCount(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		members := []chatsync.ParticipantInput{{JID: "6281234567001@s.whatsapp.net"}, {JID: "6281234567002@s.whatsapp.net"}, {JID: "6281234567003@s.whatsapp.net"}}
		g1 := chatsync.ChatInput{JID: "120363041234567890@g.us", Type: chatsync.ChatGroup, LastActivity: t0,
			Group: &chatsync.GroupInput{Subject: "One", Participants: members}}
		g2 := chatsync.ChatInput{JID: "120363049999999999@g.us", Type: chatsync.ChatGroup, LastActivity: t0,
			Group: &chatsync.GroupInput{Subject: "Two", Participants: members[:2]}}
		priv := chatsync.ChatInput{JID: "6281234567009@s.whatsapp.net", Type: chatsync.ChatPrivate, LastActivity: t0}
		f.write(t, g1, priv)
		bare := g1
		bare.LastActivity = t0.Add(time.Minute)
		bare.Group = &chatsync.GroupInput{Subject: "One again"}
		w := f.write(t, bare, g2, priv)
		counts := map[string]int32{}
		for _, c := range w.Chats {
			counts[c.JID] = c.ParticipantCount
		}
		want := map[string]int32{g1.JID: 3, g2.JID: 2, priv.JID: 0}
		if !maps.Equal(counts, want) {
			t.Fatalf("participant counts = %v, want %v", counts, want)
		}
	})
}

// Two batches of one session that complete at the same moment leave the
// session synced: neither may count the other as still processing. (Each
// completion once counted the other from a snapshot taken before the
// other's commit, and both left the session syncing.)
func TestConcurrentCompletionsLeaveTheSessionSynced(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		f := newFixture(t, s)
		for round := range 30 {
			var pks [2]int64
			for i := range pks {
				b, _, err := s.AcceptBatch(ctx, store.NewBatch{WorkspaceID: f.ws, SessionID: f.session.ID, BatchID: fmt.Sprintf("r%d-%d", round, i), Kind: chatsync.BatchLive})
				if err != nil {
					t.Fatal(err)
				}
				started, _, _, err := s.StartBatch(ctx, b.ID)
				if err != nil {
					t.Fatal(err)
				}
				pks[i] = started.ID
			}
			errs := make(chan error, 2)
			start := make(chan struct{})
			for _, pk := range pks {
				go func() {
					<-start
					_, _, err := s.CompleteBatch(ctx, pk, store.BatchResult{Written: 1})
					errs <- err
				}()
			}
			close(start)
			for range pks {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			sess, err := s.SessionByID(ctx, f.session.ID)
			if err != nil {
				t.Fatal(err)
			}
			if sess.SyncStatus != chatsync.SyncSynced {
				t.Fatalf("round %d: session %s after both batches completed, want synced", round, sess.SyncStatus)
			}
		}
	})
}

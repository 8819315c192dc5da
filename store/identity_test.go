package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
)

const (
	personPhone = "6281234567100@s.whatsapp.net"
	personLID   = "123456789012345@lid"
)

// personChat is a live report of the person's private chat under jid, with
// alt as the contact's other JID ("" when the report does not know it).
func personChat(jid, alt string, msgs ...chatsync.MessageInput) chatsync.ChatInput {
	for i := range msgs {
		msgs[i].SenderJID = jid
	}
	return chatsync.ChatInput{JID: jid, Type: chatsync.ChatPrivate, Contact: &chatsync.ContactInput{JID: jid, AltJID: alt}, Messages: msgs}
}

// identityState is what one person's rows come to.
type identityState struct {
	contacts, chats int
	chatJID         string
	unread          int32
	messages        []string
}

func (f fixture) identity(t *testing.T) identityState {
	t.Helper()
	ctx := t.Context()
	var st identityState
	n, err := f.s.DB().NewSelect().Table("contacts").Where("workspace_id = ?", f.ws).Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.contacts = int(n)
	chats, err := f.s.ListChats(ctx, store.ChatFilter{WorkspaceID: f.ws}, nil, 50)
	if err != nil {
		t.Fatal(err)
	}
	st.chats = len(chats)
	if len(chats) == 1 {
		st.chatJID, st.unread = chats[0].JID, chats[0].UnreadCount
		msgs, err := f.s.ListMessages(ctx, f.ws, chats[0].ID, nil, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			st.messages = append(st.messages, m.WAID)
		}
	}
	var lid *string
	if err := f.s.DB().NewSelect().Table("contacts").Column("lid_jid").Where("workspace_id = ? AND phone_jid = ?", f.ws, personPhone).Scan(ctx, &lid); err != nil || lid == nil || *lid != personLID {
		t.Errorf("the phone contact's LID = %v, %v; want %s", lid, err, personLID)
	}
	return st
}

// The person's chat reaches the same rows whichever address comes first
// and whenever the link between them arrives: one contact with both JIDs,
// one chat under the phone JID with every message, unread summed.
func TestOnePersonOneChat(t *testing.T) {
	t.Parallel()
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	link := []chatsync.ContactInput{{JID: personPhone, AltJID: personLID}}
	want := identityState{contacts: 1, chats: 1, chatJID: personPhone, unread: 2, messages: []string{"P1", "L1"}}
	orders := []struct {
		name  string
		steps func(f fixture, t *testing.T) []store.Written
	}{
		{"LID first, then the phone with the link", func(f fixture, t *testing.T) []store.Written {
			return []store.Written{
				f.write(t, personChat(personLID, "", msg("L1", t1, "via lid"))),
				f.write(t, personChat(personPhone, personLID, msg("P1", t2, "via phone"))),
			}
		}},
		{"phone with the link first, then the LID", func(f fixture, t *testing.T) []store.Written {
			return []store.Written{
				f.write(t, personChat(personPhone, personLID, msg("P1", t2, "via phone"))),
				f.write(t, personChat(personLID, "", msg("L1", t1, "via lid"))),
			}
		}},
		{"the link last", func(f fixture, t *testing.T) []store.Written {
			w := []store.Written{
				f.write(t, personChat(personLID, "", msg("L1", t1, "via lid"))),
				f.write(t, personChat(personPhone, "", msg("P1", t2, "via phone"))),
			}
			linked, err := f.s.WriteChunk(t.Context(), f.ws, f.session.ID, nil, link)
			if err != nil {
				t.Fatal(err)
			}
			if len(linked.Merged) != 1 || linked.Merged[0].From != w[0].Chats[0].ID || linked.Merged[0].Into != w[1].Chats[0].ID {
				t.Errorf("merged %+v, want the LID chat %d into the phone chat %d", linked.Merged, w[0].Chats[0].ID, w[1].Chats[0].ID)
			}
			if len(linked.Chats) != 1 || linked.Chats[0].JID != personPhone || linked.Chats[0].UnreadCount != 2 {
				t.Errorf("the link's written chats %+v, want the merged phone chat", linked.Chats)
			}
			return append(w, linked)
		}},
		{"the link last, a message stored under both", func(f fixture, t *testing.T) []store.Written {
			both := msg("P1", t2, "via phone")
			w := []store.Written{
				f.write(t, personChat(personLID, "", msg("L1", t1, "via lid"), both)),
				f.write(t, personChat(personPhone, "", both)),
			}
			linked, err := f.s.WriteChunk(t.Context(), f.ws, f.session.ID, nil, link)
			if err != nil {
				t.Fatal(err)
			}
			return append(w, linked)
		}},
	}
	for _, o := range orders {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				f := newFixture(t, s)
				o.steps(f, t)
				if got := f.identity(t); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("rows %+v, want %+v", got, want)
				}
				// The link again changes nothing.
				again, err := s.WriteChunk(t.Context(), f.ws, f.session.ID, nil, link)
				if err != nil || len(again.Merged) != 0 {
					t.Errorf("the link replayed: merged %+v, %v", again.Merged, err)
				}
				if got := f.identity(t); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("after the replay %+v, want %+v", got, want)
				}
			})
		})
	}
}

// A member is one member under either address: a leave by LID removes a
// member stored by phone, and a member stored by LID before the link moves
// to the phone JID when it comes.
func TestGroupMembersByEitherAddress(t *testing.T) {
	t.Parallel()
	other := "6281234567200@s.whatsapp.net"
	groupJID := "120363000000000042@g.us"
	group := func(g chatsync.GroupInput) chatsync.ChatInput {
		return chatsync.ChatInput{JID: groupJID, Type: chatsync.ChatGroup, Group: &g}
	}
	count := func(f fixture, t *testing.T) int32 {
		t.Helper()
		chats, err := f.s.ListChats(t.Context(), store.ChatFilter{WorkspaceID: f.ws, SessionIDs: []int64{f.session.ID}, Type: chatsync.ChatGroup}, nil, 10)
		if err != nil || len(chats) != 1 {
			t.Fatalf("groups %+v, %v", chats, err)
		}
		return chats[0].ParticipantCount
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Run("stored by phone, leaves by LID", func(t *testing.T) {
			f := newFixture(t, s)
			f.write(t, group(chatsync.GroupInput{Subject: "Team", Participants: []chatsync.ParticipantInput{{JID: personPhone, AltJID: personLID}, {JID: other}}}))
			if n := count(f, t); n != 2 {
				t.Fatalf("members %d, want 2", n)
			}
			f.write(t, group(chatsync.GroupInput{Changes: []chatsync.ParticipantChange{{JID: personLID, Action: chatsync.ActionLeave}}}))
			if n := count(f, t); n != 1 {
				t.Errorf("members after the leave by LID %d, want 1", n)
			}
		})
		t.Run("stored by LID, linked, then leaves by phone", func(t *testing.T) {
			f := newFixture(t, s)
			f.write(t, group(chatsync.GroupInput{Subject: "Team", Participants: []chatsync.ParticipantInput{{JID: personLID}, {JID: other}}}))
			if _, err := s.WriteChunk(t.Context(), f.ws, f.session.ID, nil, []chatsync.ContactInput{{JID: personLID, AltJID: personPhone}}); err != nil {
				t.Fatal(err)
			}
			ps, err := s.Participants(t.Context(), f.ws, f.identityGroup(t))
			if err != nil {
				t.Fatal(err)
			}
			jids := []string{}
			for _, p := range ps {
				jids = append(jids, p.JID)
			}
			if fmt.Sprint(jids) != fmt.Sprint([]string{personPhone, other}) && fmt.Sprint(jids) != fmt.Sprint([]string{other, personPhone}) {
				t.Errorf("members %v, want the person under the phone JID", jids)
			}
			f.write(t, group(chatsync.GroupInput{Changes: []chatsync.ParticipantChange{{JID: personPhone, Action: chatsync.ActionLeave}}}))
			if n := count(f, t); n != 1 {
				t.Errorf("members after the leave by phone %d, want 1", n)
			}
		})
	})
}

func (f fixture) identityGroup(t *testing.T) int64 {
	t.Helper()
	chats, err := f.s.ListChats(t.Context(), store.ChatFilter{WorkspaceID: f.ws, SessionIDs: []int64{f.session.ID}, Type: chatsync.ChatGroup}, nil, 10)
	if err != nil || len(chats) != 1 {
		t.Fatalf("groups %+v, %v", chats, err)
	}
	return chats[0].ID
}

// A split stored before chatsync merged identities (the link known, the
// LID chat still there) is merged by RepairIdentities, once.
func TestRepairIdentities(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		ctx := t.Context()
		lidChat := f.write(t, personChat(personLID, "", msg("L1", t0.Add(time.Minute), "via lid"))).Chats[0]
		f.write(t, personChat(personPhone, "", msg("P1", t0.Add(2*time.Minute), "via phone")))
		groupJID := "120363000000000043@g.us"
		f.write(t, chatsync.ChatInput{JID: groupJID, Type: chatsync.ChatGroup, Group: &chatsync.GroupInput{Subject: "Team",
			Participants: []chatsync.ParticipantInput{{JID: personLID}, {JID: "6281234567300@s.whatsapp.net"}}}})
		// The split as an older chatsync left it: the phone contact holds
		// the LID, the LID chat and membership are still there.
		db := s.DB()
		for _, q := range []string{
			"UPDATE chats SET contact_id = NULL WHERE jid = '" + personLID + "'",
			"DELETE FROM contacts WHERE lid_jid = '" + personLID + "'",
			"UPDATE contacts SET lid_jid = '" + personLID + "' WHERE phone_jid = '" + personPhone + "'",
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := s.RepairIdentities(ctx, f.ws)
		if err != nil {
			t.Fatal(err)
		}
		if rep.People != 1 || len(rep.Merged) != 1 || rep.Merged[0].From != lidChat.ID || rep.Memberships != 1 {
			t.Errorf("repair %+v, want the LID chat %d merged and one membership moved", rep, lidChat.ID)
		}
		chats, err := s.ListChats(ctx, store.ChatFilter{WorkspaceID: f.ws, Type: chatsync.ChatPrivate}, nil, 10)
		if err != nil || len(chats) != 1 || chats[0].JID != personPhone || chats[0].UnreadCount != 2 {
			t.Errorf("private chats %+v, %v; want the phone chat with both messages unread", chats, err)
		}
		ps, err := s.Participants(ctx, f.ws, f.identityGroup(t))
		if err != nil || len(ps) != 2 || (ps[0].JID != personPhone && ps[1].JID != personPhone) {
			t.Errorf("members %+v, %v; want the person under the phone JID", ps, err)
		}
		again, err := s.RepairIdentities(ctx, f.ws)
		if err != nil || again.People != 0 || len(again.Merged) != 0 {
			t.Errorf("a second repair: %+v, %v; want nothing", again, err)
		}
	})
}

package store_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
)

// receipt is a status report of a message from me: its ID and status only.
func receipt(id string, at time.Time, st chatsync.MessageStatus) chatsync.MessageInput {
	return chatsync.MessageInput{ID: id, Timestamp: at, FromMe: true, Status: st}
}

// App state (issue 28) as a sequence of reports through the real store,
// judged by the final rows: archive and unarchive, pin while a live
// message arrives, mute until a time and unmute, mark unread and read,
// receipts moving my message forward only. With link, every report also
// links the person's LID, which sends it through the Bun path on
// PostgreSQL too.
func TestAppStateSequence(t *testing.T) {
	t.Parallel()
	for _, link := range []bool{false, true} {
		t.Run(fmt.Sprintf("link=%v", link), func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				f := newFixture(t, s)
				ctx := t.Context()
				report := func(t *testing.T, c chatsync.ChatInput) store.Written {
					t.Helper()
					if link {
						c.Contact.AltJID = "98765432101" + c.JID[10:13] + "@lid" // the chat's own LID
					}
					return f.write(t, c)
				}
				chatNow := func(t *testing.T, id int64) chatsync.ChatView {
					t.Helper()
					c, err := f.s.Chat(ctx, f.ws, id)
					if err != nil {
						t.Fatal(err)
					}
					return c
				}
				listed := func(t *testing.T, flt store.ChatFilter) []int64 {
					t.Helper()
					flt.WorkspaceID = f.ws
					cs, err := f.s.ListChats(ctx, flt, nil, 50)
					if err != nil {
						t.Fatal(err)
					}
					var ids []int64
					for _, c := range cs {
						ids = append(ids, c.ID)
					}
					return ids
				}
				t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)

				// History: the phone's state, my message sent, theirs unread.
				h := private(1, t1, chatsync.MessageInput{ID: "M1", Timestamp: t0, FromMe: true, Text: "hi", Status: chatsync.StatusSent}, msg("M2", t1, "hello"))
				h.UnreadCount, h.Archived, h.Pinned, h.MarkedUnread = new(int32(1)), new(false), new(false), new(false)
				id := report(t, h).Chats[0].ID
				other := report(t, private(2, t0)).Chats[0].ID // a second chat, never archived
				if c := chatNow(t, id); c.UnreadCount != 1 || c.Archived || c.Pinned || c.MarkedUnread || !c.MutedUntil.IsZero() {
					t.Fatalf("after history: %+v", c)
				}
				if m, _ := f.listed(t, id, "M1"); m.Status != chatsync.StatusSent {
					t.Fatalf("my message after history: status %d, want sent", m.Status)
				}

				// Archive, then unarchive; the list filters follow.
				a := private(1, time.Time{})
				a.Archived = new(true)
				report(t, a)
				if c := chatNow(t, id); !c.Archived || c.UnreadCount != 1 {
					t.Fatalf("after archive: %+v", c)
				}
				if got := listed(t, store.ChatFilter{Archived: new(true)}); !slices.Equal(got, []int64{id}) {
					t.Fatalf("archived list: %v, want [%d]", got, id)
				}
				if got := listed(t, store.ChatFilter{Archived: new(false)}); !slices.Equal(got, []int64{other}) {
					t.Fatalf("main list: %v, want [%d]", got, other)
				}
				a.Archived = new(false)
				report(t, a)
				if c := chatNow(t, id); c.Archived {
					t.Fatalf("after unarchive: %+v", c)
				}
				if got := listed(t, store.ChatFilter{Archived: new(true)}); len(got) != 0 {
					t.Fatalf("archived list after unarchive: %v", got)
				}

				// Pinned, then a live message (no state fields): still
				// pinned, one more unread.
				p := private(1, time.Time{})
				p.Pinned = new(true)
				report(t, p)
				report(t, private(1, t2, msg("M3", t2, "are you there?")))
				if c := chatNow(t, id); !c.Pinned || c.UnreadCount != 2 || c.LastMessagePreview != "are you there?" {
					t.Fatalf("pinned chat after a live message: %+v", c)
				}

				// Muted until a time; a past time unmutes.
				until := time.Now().Add(8 * time.Hour).UTC().Truncate(time.Second)
				mu := private(1, time.Time{})
				mu.MutedUntil = &until
				report(t, mu)
				if c := chatNow(t, id); !c.MutedUntil.Equal(until) || !c.Pinned {
					t.Fatalf("after mute until %s: %+v", until, c)
				}
				report(t, private(1, t2, msg("M4", t2, "still muted?")))
				if c := chatNow(t, id); !c.MutedUntil.Equal(until) {
					t.Fatalf("a live message changed the mute: %+v", c)
				}
				mu.MutedUntil = new(time.Unix(0, 0))
				report(t, mu)
				if c := chatNow(t, id); !c.MutedUntil.IsZero() {
					t.Fatalf("after unmute: %+v", c)
				}

				// Marked unread: the dot, the count unchanged; listed as
				// unread. Then read on the phone: count 0, no dot.
				mk := private(1, time.Time{})
				mk.MarkedUnread = new(true)
				report(t, mk)
				if c := chatNow(t, id); !c.MarkedUnread || c.UnreadCount != 3 {
					t.Fatalf("after mark unread: %+v", c)
				}
				rd := private(1, time.Time{})
				rd.UnreadCount, rd.MarkedUnread = new(int32(0)), new(false)
				report(t, rd)
				if c := chatNow(t, id); c.MarkedUnread || c.UnreadCount != 0 {
					t.Fatalf("after mark read: %+v", c)
				}
				if got := listed(t, store.ChatFilter{UnreadOnly: true}); slices.Contains(got, id) {
					t.Fatalf("a read chat listed as unread: %v", got)
				}
				report(t, mk)
				if got := listed(t, store.ChatFilter{UnreadOnly: true}); !slices.Equal(got, []int64{id}) {
					t.Fatalf("unread list with a chat marked unread (count 0): %v, want [%d]", got, id)
				}

				// Receipts: delivered, read; a late delivered changes
				// nothing (no event either).
				w := report(t, private(1, time.Time{}, receipt("M1", t0, chatsync.StatusDelivered)))
				if len(w.Updated) != 1 || w.Updated[0].Status != chatsync.StatusDelivered || len(w.Messages) != 0 {
					t.Fatalf("delivered receipt: updated %+v, added %+v", w.Updated, w.Messages)
				}
				report(t, private(1, time.Time{}, receipt("M1", t0, chatsync.StatusRead)))
				w = report(t, private(1, time.Time{}, receipt("M1", t0, chatsync.StatusDelivered)))
				if len(w.Updated) != 0 {
					t.Fatalf("a late delivered receipt reported a change: %+v", w.Updated)
				}
				if m, _ := f.listed(t, id, "M1"); m.Status != chatsync.StatusRead || m.Text != "hi" {
					t.Fatalf("my message after receipts: %+v, want read", m)
				}
				// A receipt before its message: kept, hidden, and the
				// message lands read.
				report(t, private(1, time.Time{}, receipt("M5", t2, chatsync.StatusRead)))
				if _, ok := f.listed(t, id, "M5"); ok {
					t.Fatal("a receipt alone shows a message")
				}
				report(t, private(1, t2, chatsync.MessageInput{ID: "M5", Timestamp: t2, FromMe: true, Text: "sent from the phone", Status: chatsync.StatusSent}))
				if m, ok := f.listed(t, id, "M5"); !ok || m.Status != chatsync.StatusRead || m.Text != "sent from the phone" {
					t.Fatalf("message after its receipt: %+v, %v; want read with its text", m, ok)
				}
				// The message reported again (a history resync) with a
				// further status moves it; with an older one it does not.
				report(t, private(1, t2, chatsync.MessageInput{ID: "M5", Timestamp: t2, FromMe: true, Text: "sent from the phone", Status: chatsync.StatusPlayed}))
				report(t, private(1, t2, chatsync.MessageInput{ID: "M5", Timestamp: t2, FromMe: true, Text: "sent from the phone", Status: chatsync.StatusDelivered}))
				if m, _ := f.listed(t, id, "M5"); m.Status != chatsync.StatusPlayed {
					t.Fatalf("message reported again: status %d, want played", m.Status)
				}
				// The chat's state survived all of it.
				if c := chatNow(t, id); !c.Pinned || c.Archived || !c.MarkedUnread || c.UnreadCount != 0 {
					t.Fatalf("final chat: %+v", c)
				}
			})
		})
	}
}

// A report's app state is checked: a mute past "forever" is refused, and
// a status only on messages from me.
func TestAppStateValidation(t *testing.T) {
	c := private(1, t0)
	c.MutedUntil = new(chatsync.MutedForever.Add(time.Second))
	if err := c.Validate(t0); err == nil {
		t.Error("mute after forever accepted")
	}
	c = private(1, t0, chatsync.MessageInput{ID: "X", Timestamp: t0, Status: chatsync.StatusRead})
	if err := c.Validate(t0); err == nil {
		t.Error("a status on a message not from me accepted")
	}
	c = private(1, t0, chatsync.MessageInput{ID: "X", Timestamp: t0, FromMe: true, Status: 9})
	if err := c.Validate(t0); err == nil {
		t.Error("status 9 accepted")
	}
}

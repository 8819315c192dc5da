package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
)

// chatState is what the merge rules decide about a stored chat.
type chatState struct {
	unread           int32
	archived, pinned bool
	activity         time.Time
	preview          string
	messages         int
}

func (f fixture) state(t *testing.T, id int64) chatState {
	t.Helper()
	c, err := f.s.Chat(t.Context(), f.ws, id)
	if err != nil {
		t.Fatalf("Chat(%d): %v", id, err)
	}
	msgs, err := f.s.ListMessages(t.Context(), f.ws, id, nil, 100)
	if err != nil {
		t.Fatalf("ListMessages(%d): %v", id, err)
	}
	return chatState{c.UnreadCount, c.Archived, c.Pinned, c.LastActivityAt, c.LastMessagePreview, len(msgs)}
}

// A sequence of history and live reports, checked on the final rows after
// each step: a report changes only the fields it carries, a new message
// not from me raises the unread count, activity and preview move forward
// only, and a replayed report changes nothing. With link, every report
// also links the person's LID, which sends the chunk through the Bun path
// on PostgreSQL too (on SQLite it is the only path).
func TestMergeKeepsChatState(t *testing.T) {
	t.Parallel()
	for _, link := range []bool{false, true} {
		t.Run(fmt.Sprintf("link=%v", link), func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				f := newFixture(t, s)
				report := func(at time.Time, msgs ...chatsync.MessageInput) chatsync.ChatInput {
					c := private(7, at, msgs...)
					if link {
						c.Contact.AltJID = "987654321012345@lid"
					}
					return c
				}
				t1, t2, t3 := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(3*time.Minute)
				fromMe := msg("me1", t2, "on my way")
				fromMe.FromMe = true

				history := report(t0, msg("h1", t0, "hi"), msg("h2", t0.Add(-time.Minute), "hello"))
				history.UnreadCount, history.Pinned, history.Archived = new(int32(2)), new(true), new(true)
				live := report(t1, msg("l1", t1, "are you there?"))
				live.Contact = nil // a live report knows the JID, type and activity
				mine := report(t2, fromMe)
				mine.Contact = nil
				read := report(t0)
				read.UnreadCount = new(int32(0))
				older := report(t0.Add(-time.Hour), chatsync.MessageInput{ID: "o1", Timestamp: t0.Add(-time.Hour), Text: "old", FromMe: true})
				older.Contact = nil
				unpin := report(time.Time{})
				unpin.Contact, unpin.Pinned = nil, new(false)
				later := report(t3, msg("l2", t3, "ping"), msg("l3", t3.Add(-time.Second), "ping?"), msg("me2", t3.Add(-2*time.Second), "pong"))
				later.Messages[2].FromMe = true
				later.Contact = nil

				steps := []struct {
					name string
					in   chatsync.ChatInput
					want chatState
				}{
					{"history", history, chatState{2, true, true, t0, "hi", 2}},
					{"live from them", live, chatState{3, true, true, t1, "are you there?", 3}},
					{"same live batch again", live, chatState{3, true, true, t1, "are you there?", 3}},
					{"live from me", mine, chatState{3, true, true, t2, "on my way", 4}},
					{"history with unread 0", read, chatState{0, true, true, t2, "on my way", 4}},
					{"same history batch again", read, chatState{0, true, true, t2, "on my way", 4}},
					{"an older report", older, chatState{0, true, true, t2, "on my way", 5}},
					{"unpinned, nothing else", unpin, chatState{0, true, false, t2, "on my way", 5}},
					{"two from them and one from me", later, chatState{2, true, false, t3, "ping", 8}},
					{"same batch again", later, chatState{2, true, false, t3, "ping", 8}},
				}
				var id int64
				for _, st := range steps {
					w := f.write(t, st.in)
					if len(w.ChatIDs) != 1 || (id != 0 && w.ChatIDs[0] != id) {
						t.Fatalf("%s: wrote chats %v, want the one chat %d", st.name, w.ChatIDs, id)
					}
					id = w.ChatIDs[0]
					got := f.state(t, id)
					if got.unread != st.want.unread || got.archived != st.want.archived || got.pinned != st.want.pinned ||
						!got.activity.Equal(st.want.activity) || got.preview != st.want.preview || got.messages != st.want.messages {
						t.Fatalf("after %s: %+v, want %+v", st.name, got, st.want)
					}
				}
			})
		})
	}
}

// A chat first seen in a live report starts with one unread message per
// message not from me; one seen first in a message of mine starts at 0.
func TestNewChatFromLiveReport(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		theirs := private(8, t0, msg("a", t0, "one"), msg("b", t0, "two"), msg("a", t0, "one again"))
		mine := private(9, t0, msg("c", t0, "mine"))
		mine.Messages[0].FromMe = true
		w := f.write(t, theirs, mine)
		if len(w.ChatIDs) != 2 {
			t.Fatalf("wrote %d chats", len(w.ChatIDs))
		}
		for i, want := range []int32{2, 0} {
			if got := f.state(t, w.ChatIDs[i]); got.unread != want || got.archived || got.pinned {
				t.Errorf("chat %d: %+v, want unread %d, not archived or pinned", i, got, want)
			}
		}
	})
}

// Two reports of one chat in one chunk: the newer one's state where it has
// any, the older one's where it does not.
func TestWriteChunkMergesStateOfRepeatedChats(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		older := private(10, t0)
		older.Archived, older.Pinned = new(true), new(true)
		newer := private(10, t1(), msg("n", t1(), "new"))
		newer.Pinned = new(false)
		w := f.write(t, older, newer)
		if got := f.state(t, w.ChatIDs[0]); got.unread != 1 || !got.archived || got.pinned {
			t.Fatalf("merged state = %+v, want unread 1, archived, not pinned", got)
		}
	})
}

func t1() time.Time { return t0.Add(time.Minute) }

// A message that could not be decrypted lands as a placeholder (counted as
// unread and as waiting), the real message replaces it under the same ID
// without counting again, and a placeholder never replaces real content.
func TestWaitingPlaceholderIsReplacedByTheMessage(t *testing.T) {
	t.Parallel()
	for _, link := range []bool{false, true} {
		t.Run(fmt.Sprintf("link=%v", link), func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				f := newFixture(t, s)
				report := func(m chatsync.MessageInput) chatsync.ChatInput {
					c := private(11, m.Timestamp, m)
					if link {
						c.Contact.AltJID = "987654321099999@lid"
					}
					return c
				}
				placeholder := chatsync.MessageInput{ID: "u1", Timestamp: t0, Waiting: true}
				real := msg("u1", t0, "the real text")
				waiting := func(want int64) {
					t.Helper()
					if n, err := s.WaitingMessages(t.Context(), f.session.ID); err != nil || n != want {
						t.Fatalf("WaitingMessages = %d, %v; want %d", n, err, want)
					}
				}
				w := f.write(t, report(placeholder))
				id := w.ChatIDs[0]
				if len(w.Messages) != 1 || !w.Messages[0].Waiting || w.Messages[0].Text != "" {
					t.Fatalf("placeholder written as %+v", w.Messages)
				}
				if got := f.state(t, id); got.unread != 1 || got.preview != "[waiting for this message]" || got.messages != 1 {
					t.Fatalf("after the placeholder: %+v", got)
				}
				waiting(1)
				f.write(t, report(placeholder)) // redelivered
				waiting(1)

				w = f.write(t, report(real))
				if len(w.Messages) != 1 || w.Messages[0].Waiting || w.Messages[0].Text != "the real text" {
					t.Fatalf("the real message was written as %+v", w.Messages)
				}
				if got := f.state(t, id); got.unread != 1 || got.preview != "the real text" || got.messages != 1 {
					t.Fatalf("after the real message: %+v, want unread 1 (counted once), its preview", got)
				}
				waiting(0)

				w = f.write(t, report(placeholder)) // late: must not hide the text
				if len(w.Messages) != 0 {
					t.Fatalf("a late placeholder was reported as %+v", w.Messages)
				}
				msgs, err := s.ListMessages(t.Context(), f.ws, id, nil, 10)
				if err != nil || len(msgs) != 1 || msgs[0].Waiting || msgs[0].Text != "the real text" {
					t.Fatalf("messages after a late placeholder: %+v, %v", msgs, err)
				}
				if got := f.state(t, id); got.unread != 1 || got.preview != "the real text" {
					t.Fatalf("after a late placeholder: %+v", got)
				}
				waiting(0)
			})
		})
	}
}

// A placeholder and its message in one report (a coalesced live batch):
// the message is stored, counted once, and is the preview.
func TestPlaceholderAndMessageInOneReport(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		c := private(12, t0, chatsync.MessageInput{ID: "u2", Timestamp: t0, Waiting: true}, msg("u2", t0, "decrypted"))
		w := f.write(t, c)
		if got := f.state(t, w.ChatIDs[0]); got.unread != 1 || got.preview != "decrypted" || got.messages != 1 {
			t.Fatalf("chat %+v, want one message, unread 1, its preview", got)
		}
		if len(w.Messages) != 1 || w.Messages[0].Waiting || w.Messages[0].Text != "decrypted" {
			t.Fatalf("written %+v", w.Messages)
		}
	})
}

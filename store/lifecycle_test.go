package store_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
)

func edit(id string, at time.Time, text string) chatsync.MessageInput {
	return chatsync.MessageInput{ID: id, Timestamp: at, Text: text, EditTime: new(at)}
}

func revoke(id string, at time.Time) chatsync.MessageInput {
	return chatsync.MessageInput{ID: id, Timestamp: at, Revoked: true}
}

func react(id, sender, emoji string, at time.Time) chatsync.MessageInput {
	return chatsync.MessageInput{ID: id, Timestamp: at, Reactions: []chatsync.ReactionInput{{SenderJID: sender, Emoji: emoji, Timestamp: at}}}
}

// listed returns the chat's visible message with a WhatsApp ID.
func (f fixture) listed(t *testing.T, chatID int64, waID string) (chatsync.Message, bool) {
	t.Helper()
	msgs, err := f.s.ListMessages(t.Context(), f.ws, chatID, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.WAID == waID {
			return m, true
		}
	}
	return chatsync.Message{}, false
}

// stored reads a message's content columns straight from the table.
func (f fixture) stored(t *testing.T, chatID int64, waID string) (text, media string) {
	t.Helper()
	err := f.s.DB().NewSelect().Table("messages").Column("text", "media_type").
		Where("chat_id = ? AND wa_id = ?", chatID, waID).Scan(t.Context(), &text, &media)
	if err != nil {
		t.Fatalf("read message %s: %v", waID, err)
	}
	return text, media
}

// Each case is a sequence of reports through the real store, checked on
// the final rows; with link, every report also links the person's LID,
// which sends the chunk through the Bun path on PostgreSQL too.
func TestMessageLifecycle(t *testing.T) {
	t.Parallel()
	for _, link := range []bool{false, true} {
		t.Run(fmt.Sprintf("link=%v", link), func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				f := newFixture(t, s)
				n := 0
				// report writes a report of a new chat per case (case n).
				report := func(t *testing.T, msgs ...chatsync.MessageInput) store.Written {
					t.Helper()
					c := private(n, time.Time{}, msgs...)
					if link {
						c.Contact.AltJID = fmt.Sprintf("98765432101%04d@lid", n)
					}
					return f.write(t, c)
				}
				t1, t2, t3 := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(3*time.Minute)

				t.Run("newest edit wins", func(t *testing.T) {
					n = 1
					chat := report(t, msg("A1", t0, "one")).Chats[0].ID
					w := report(t, edit("A1", t2, "three"))
					if len(w.Updated) != 1 || w.Updated[0].Text != "three" || len(w.Messages) != 0 {
						t.Fatalf("edit: updated %+v, added %+v", w.Updated, w.Messages)
					}
					if w := report(t, edit("A1", t1, "two")); len(w.Updated) != 0 {
						t.Errorf("an older edit changed the message: %+v", w.Updated)
					}
					if w := report(t, edit("A1", t2, "three")); len(w.Updated) != 0 {
						t.Errorf("a replayed edit changed the message: %+v", w.Updated)
					}
					m, ok := f.listed(t, chat, "A1")
					if !ok || m.Text != "three" || m.EditTime == nil || !m.EditTime.Equal(t2) || !m.SentAt.Equal(t0) {
						t.Errorf("final message %+v", m)
					}
					if got := f.state(t, chat).preview; got != "three" {
						t.Errorf("preview %q, want the edit's text", got)
					}
				})

				t.Run("revoke removes the text", func(t *testing.T) {
					n = 2
					first := msg("B1", t0, "secret")
					first.MediaType = chatsync.MediaImage
					chat := report(t, first).Chats[0].ID
					w := report(t, revoke("B1", t1))
					if len(w.Updated) != 1 || !w.Updated[0].Revoked || w.Updated[0].Text != "" {
						t.Fatalf("revoke: updated %+v", w.Updated)
					}
					if w := report(t, edit("B1", t2, "still secret")); len(w.Updated) != 1 || w.Updated[0].Text != "" {
						t.Errorf("an edit after the revoke: %+v", w.Updated)
					}
					if text, media := f.stored(t, chat, "B1"); text != "" || media != "" {
						t.Errorf("table holds text %q, media %q after the revoke", text, media)
					}
					m, ok := f.listed(t, chat, "B1")
					if !ok || !m.Revoked || m.Text != "" || m.MediaType != chatsync.MediaNone {
						t.Errorf("tombstone %+v, listed %v", m, ok)
					}
					if got := f.state(t, chat).preview; got != "This message was deleted" {
						t.Errorf("preview %q", got)
					}
				})

				t.Run("revoke before the message", func(t *testing.T) {
					n = 3
					w := report(t, revoke("C1", t1))
					chat := w.Chats[0].ID
					if len(w.Updated) != 0 || len(w.Messages) != 0 {
						t.Errorf("a pending revoke was reported: %+v %+v", w.Updated, w.Messages)
					}
					if _, ok := f.listed(t, chat, "C1"); ok {
						t.Error("a pending row is listed")
					}
					w = report(t, msg("C1", t0, "secret"))
					if len(w.Messages) != 1 || !w.Messages[0].Revoked || w.Messages[0].Text != "" {
						t.Fatalf("the message landing: %+v", w.Messages)
					}
					if text, _ := f.stored(t, chat, "C1"); text != "" {
						t.Errorf("table holds %q", text)
					}
					m, ok := f.listed(t, chat, "C1")
					if !ok || !m.Revoked || !m.SentAt.Equal(t0) {
						t.Errorf("tombstone %+v, listed %v", m, ok)
					}
					if st := f.state(t, chat); st.unread != 1 || st.preview != "This message was deleted" {
						t.Errorf("chat %+v", st)
					}
				})

				t.Run("reactions by two senders", func(t *testing.T) {
					n = 4
					a, b := "6281111111111@s.whatsapp.net", "6282222222222@s.whatsapp.net"
					chat := report(t, msg("D1", t0, "lunch?")).Chats[0].ID
					report(t, react("D1", a, "👍", t1), react("D1", b, "❤️", t1))
					report(t, react("D1", a, "😂", t2))
					report(t, react("D1", b, "", t3))
					if w := report(t, react("D1", a, "👎", t0)); len(w.Updated) != 0 {
						t.Errorf("an older reaction changed the message: %+v", w.Updated)
					}
					if w := report(t, react("D1", b, "❤️", t2)); len(w.Updated) != 0 {
						t.Errorf("a reaction older than its removal came back: %+v", w.Updated)
					}
					m, _ := f.listed(t, chat, "D1")
					want := []chatsync.Reaction{{SenderJID: a, Emoji: "😂", Time: t2}}
					if !slices.EqualFunc(m.Reactions, want, func(x, y chatsync.Reaction) bool {
						return x.SenderJID == y.SenderJID && x.Emoji == y.Emoji && x.Time.Equal(y.Time)
					}) {
						t.Errorf("reactions %+v, want %+v", m.Reactions, want)
					}
					if m.Text != "lunch?" || f.state(t, chat).preview != "lunch?" {
						t.Errorf("a reaction changed the message or preview: %+v", m)
					}
				})

				// Every order of the same reports ends in the same row.
				t.Run("any order", func(t *testing.T) {
					sender := "6283333333333@s.whatsapp.net"
					reports := []chatsync.MessageInput{
						msg("E1", t0, "first"), edit("E1", t1, "second"), edit("E1", t2, "third"),
						react("E1", sender, "🎉", t1), react("E1", sender, "🙏", t3),
					}
					r := rand.New(rand.NewPCG(1, 2))
					for i := range 6 {
						n = 10 + i
						order := slices.Clone(reports)
						r.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
						var chat int64
						for _, m := range order {
							chat = report(t, m).Chats[0].ID
						}
						m, ok := f.listed(t, chat, "E1")
						if !ok || m.Text != "third" || !m.EditTime.Equal(t2) || len(m.Reactions) != 1 || m.Reactions[0].Emoji != "🙏" || !m.SentAt.Equal(t0) {
							t.Errorf("order %d: %+v (listed %v)", i, m, ok)
						}
					}
				})
			})
		})
	}
}

package store_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
)

// pieces are the strings random inputs are built from: ordinary text and
// what stores and SQL builders trip on.
var pieces = []string{
	"", "a", "Alice", "ü", "日本語", "🙂", "👩‍👩‍👧", "\x00", "\xff", "\xed\xa0\x80", "'", "''", "\"", "\\", "?", "$1", "--", "/*",
	"\n", "\r\n", "\t", "\u2028", "\ufeff", "\u202e", "%", "_", ";", "NULL", strings.Repeat("x", 300), "+1 555 123 4567",
}

func randText(r *rand.Rand, maxPieces int) string {
	var b strings.Builder
	for range r.IntN(maxPieces + 1) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// randChat is a chat with random text in every free-text field; its JID
// and times are valid, so Validate judges the text.
func randChat(r *rand.Rand, n int, now time.Time) chatsync.ChatInput {
	c := chatsync.ChatInput{LastActivity: now.Add(-time.Duration(r.IntN(1000)) * time.Second), Name: randText(r, 3)}
	if r.IntN(4) == 0 {
		c.JID, c.Type = fmt.Sprintf("120363%012d@g.us", n), chatsync.ChatGroup
		c.Group = &chatsync.GroupInput{Subject: randText(r, 3), Description: randText(r, 5), Participants: []chatsync.ParticipantInput{
			{JID: fmt.Sprintf("1555%07d@s.whatsapp.net", n), Phone: randText(r, 1)},
		}}
	} else {
		c.JID, c.Type = fmt.Sprintf("1555%07d@s.whatsapp.net", n), chatsync.ChatPrivate
		c.Contact = &chatsync.ContactInput{PushName: randText(r, 2), FullName: randText(r, 2), Phone: randText(r, 1)}
		if r.IntN(3) == 0 {
			c.Contact.AltJID = fmt.Sprintf("9%014d@lid", n) // the Bun path on PostgreSQL
		}
	}
	for i := range r.IntN(3) {
		c.Messages = append(c.Messages, chatsync.MessageInput{
			ID: fmt.Sprintf("m%d-%d", n, i) + randText(r, 1), Timestamp: c.LastActivity, Text: randText(r, 4),
			SenderJID: "", FromMe: r.IntN(2) == 0, MediaType: chatsync.MediaType(randText(r, 1)),
		})
	}
	return c
}

// Whatever Validate accepts, the store can write, on PostgreSQL and
// SQLite: a chunk of accepted chats is never refused by the database.
func TestWhatValidateAcceptsCanBeStored(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		r := rand.New(rand.NewPCG(7, 11))
		now := time.Now().UTC().Truncate(time.Second)
		accepted, refused := 0, 0
		for round := range 40 {
			var chunk []chatsync.ChatInput
			for i := range 10 {
				c := randChat(r, round*10+i, now)
				if err := c.Validate(now); err != nil {
					refused++
					continue
				}
				chunk = append(chunk, c)
			}
			accepted += len(chunk)
			if _, err := s.WriteChunk(t.Context(), f.ws, f.session.ID, chunk, nil); err != nil {
				t.Fatalf("round %d: a chunk of %d accepted chats was refused: %v", round, len(chunk), err)
			}
		}
		if accepted < 50 || refused < 50 {
			t.Fatalf("%d accepted, %d refused: the generator does not exercise both sides", accepted, refused)
		}
	})
}

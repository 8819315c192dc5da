package store_test

import (
	"testing"
	"time"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
)

// TestListChatsKeysetWithSubMicrosecondTimes walks chats whose activity
// times differ by nanoseconds, and some by whole seconds, with ties, one
// per page: every chat comes back exactly once on both dialects, whatever
// precision the database keeps, as long as the cursor is the time the
// store returned.
func TestListChatsKeysetWithSubMicrosecondTimes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		f := newFixture(t, s)
		offsets := []time.Duration{0, 1, 1, 999, 1000, 1001, 1500, time.Second, time.Second + 1, time.Second + 1, 10 * time.Second}
		var in []chatsync.ChatInput
		for i, d := range offsets {
			in = append(in, private(i, t0.Add(d)))
		}
		f.write(t, in...)
		seen := map[int64]int{}
		var cur *store.ChatCursor
		for range 2 * len(in) {
			page, err := s.ListChats(ctx, store.ChatFilter{WorkspaceID: f.ws}, cur, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			seen[page[0].ID]++
			cur = &store.ChatCursor{LastActivityAt: page[0].LastActivityAt, ID: page[0].ID}
		}
		if len(seen) != len(in) {
			t.Fatalf("walk returned %d distinct chats, want %d", len(seen), len(in))
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("chat %d returned %d times", id, n)
			}
		}
	})
}

package store_test

import (
	"slices"
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

package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/server/servertest"
	"github.com/chatsync/chatsync/store"
)

// t0 is the activity time fixtures count back from.
var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// tenant is a workspace with its token and sessions.
type tenant struct {
	ws       int64
	token    string
	sessions []chatsync.Session
}

func newTenant(t *testing.T, env *servertest.Env, name string, providers ...chatsync.Provider) tenant {
	t.Helper()
	ws, token := env.Workspace(t, name)
	tn := tenant{ws: ws, token: token}
	for i, p := range providers {
		sess, err := env.Store.CreateSession(t.Context(), store.NewSession{
			WorkspaceID: ws, DisplayName: fmt.Sprintf("%s-%d", name, i), Provider: p, SecretNonce: []byte("nonce"),
		})
		if err != nil {
			t.Fatal(err)
		}
		tn.sessions = append(tn.sessions, sess)
	}
	return tn
}

// write stores chats of a session directly, as the worker would.
func (tn tenant) write(t *testing.T, env *servertest.Env, session int, chats ...chatsync.ChatInput) store.Written {
	t.Helper()
	var all store.Written
	for len(chats) > 0 {
		n := min(len(chats), 100)
		w, err := env.Store.WriteChunk(t.Context(), tn.ws, tn.sessions[session].ID, chats[:n], nil)
		if err != nil {
			t.Fatalf("WriteChunk: %v", err)
		}
		all.Chats = append(all.Chats, w.Chats...)
		all.Messages = append(all.Messages, w.Messages...)
		chats = chats[n:]
	}
	return all
}

// privateChat is a one-to-one chat with contact n (phone +62812000<n>).
func privateChat(n int, at time.Time, unread int32) chatsync.ChatInput {
	jid := fmt.Sprintf("62812%07d@s.whatsapp.net", n)
	return chatsync.ChatInput{
		JID: jid, Type: chatsync.ChatPrivate, LastActivity: at, UnreadCount: &unread,
		Contact: &chatsync.ContactInput{JID: jid, PushName: fmt.Sprintf("Person %d", n)},
	}
}

// groupChat is a group with a super admin, an admin and a member.
func groupChat(n int, at time.Time, subject string) chatsync.ChatInput {
	return chatsync.ChatInput{
		JID: fmt.Sprintf("1203630%011d@g.us", n), Type: chatsync.ChatGroup, LastActivity: at,
		Group: &chatsync.GroupInput{
			Subject: subject, Description: "about " + subject, OwnerJID: "628120000001@s.whatsapp.net",
			Participants: []chatsync.ParticipantInput{
				{JID: "628120000003@s.whatsapp.net", Role: chatsync.RoleMember},
				{JID: "628120000002@s.whatsapp.net", Role: chatsync.RoleAdmin},
				{JID: "628120000001@s.whatsapp.net", Role: chatsync.RoleSuperAdmin},
			},
		},
	}
}

// manyChats returns n private chats numbered from first, one minute apart,
// newest first; every third one is unread and every fifth a group.
func manyChats(first, n int, newest time.Time) []chatsync.ChatInput {
	out := make([]chatsync.ChatInput, 0, n)
	for i := range n {
		at := newest.Add(-time.Duration(i) * time.Minute)
		var c chatsync.ChatInput
		if (first+i)%5 == 0 {
			c = groupChat(first+i, at, fmt.Sprintf("Group %d", first+i))
		} else {
			c = privateChat(first+i, at, 0)
		}
		if (first+i)%3 == 0 {
			c.UnreadCount = new(int32(2))
		}
		out = append(out, c)
	}
	return out
}

// unreadOf is the unread count an input reports, 0 when it reports none.
func unreadOf(c chatsync.ChatInput) int32 {
	if c.UnreadCount == nil {
		return 0
	}
	return *c.UnreadCount
}

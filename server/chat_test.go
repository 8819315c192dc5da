package server_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/server/servertest"
)

// listAll walks every page of req and returns the chats in order.
func listAll(t *testing.T, c servertest.Clients, req *chatsyncv1.ListChatsRequest) []*chatsyncv1.Chat {
	t.Helper()
	req = proto.Clone(req).(*chatsyncv1.ListChatsRequest)
	var all []*chatsyncv1.Chat
	for {
		res, err := c.Chat.ListChats(t.Context(), req)
		if err != nil {
			t.Fatalf("ListChats: %v", err)
		}
		all = append(all, res.GetChats()...)
		if res.GetNextPageToken() == "" {
			return all
		}
		if len(res.GetChats()) == 0 {
			t.Fatal("empty page with a next_page_token")
		}
		req.PageToken = res.GetNextPageToken()
	}
}

func jids(chats []*chatsyncv1.Chat) []string {
	out := make([]string, len(chats))
	for i, c := range chats {
		out[i] = c.GetJid()
	}
	return out
}

// assertNewestFirst checks the keyset order: activity descending, then id
// descending.
func assertNewestFirst(t *testing.T, chats []*chatsyncv1.Chat) {
	t.Helper()
	for i := 1; i < len(chats); i++ {
		a, b := chats[i-1], chats[i]
		ta, tb := a.GetLastActivityTime().AsTime(), b.GetLastActivityTime().AsTime()
		ia, _ := strconv.ParseInt(a.GetId(), 10, 64)
		ib, _ := strconv.ParseInt(b.GetId(), 10, 64)
		if ta.Before(tb) || (ta.Equal(tb) && ia <= ib) {
			t.Fatalf("chats %d and %d out of order: %s %v, %s %v", i-1, i, a.GetId(), ta, b.GetId(), tb)
		}
	}
}

// listFixture is a workspace with two sessions of different providers, a
// few hundred chats, and another workspace whose chats must never show.
type listFixture struct {
	env   *servertest.Env
	a, b  tenant
	input [2][]chatsync.ChatInput // A's chats per session
	alice chatsync.ChatInput
	ops   chatsync.ChatInput
}

func newListFixture(t *testing.T) listFixture {
	t.Helper()
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	f := listFixture{env: env}
	f.a = newTenant(t, env, "a", chatsync.ProviderWebJS, chatsync.ProviderWhatsmeow)
	f.b = newTenant(t, env, "b", chatsync.ProviderWebJS)

	f.alice = privateChat(5001, t0.Add(time.Hour), 3)
	f.alice.Contact.FullName = "Alice Wonderland"
	f.alice.Archived, f.alice.Pinned, f.alice.MutedUntil = new(true), new(true), new(chatsync.MutedForever)
	f.alice.Messages = []chatsync.MessageInput{{ID: "m1", Timestamp: t0.Add(time.Hour), Text: "see you at noon"}}
	f.ops = groupChat(5002, t0.Add(30*time.Minute), "Ops Team")
	f.ops.MarkedUnread = new(true) // the dot, no count
	f.input[0] = append(manyChats(1, 130, t0), f.alice, f.ops)
	// Session 1's chats interleave with session 0's, 30 s apart.
	f.input[1] = manyChats(1001, 100, t0.Add(-30*time.Second))
	f.a.write(t, env, 0, f.input[0]...)
	f.a.write(t, env, 1, f.input[1]...)
	secret := privateChat(5003, t0.Add(2*time.Hour), 1)
	secret.Contact.FullName = "Alice Secret"
	f.b.write(t, env, 0, append(manyChats(1, 20, t0), secret)...)
	return f
}

// want returns the JIDs of A's chats that keep says to keep, in order.
func (f listFixture) want(sessions []int, keep func(chatsync.ChatInput) bool) []string {
	type row struct {
		jid string
		at  time.Time
	}
	var rows []row
	for _, s := range sessions {
		for _, c := range f.input[s] {
			if keep == nil || keep(c) {
				rows = append(rows, row{c.JID, c.LastActivity})
			}
		}
	}
	slices.SortStableFunc(rows, func(x, y row) int { return y.at.Compare(x.at) })
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.jid
	}
	return out
}

func TestListChatsFilters(t *testing.T) {
	f := newListFixture(t)
	s0, s1 := f.a.sessions[0], f.a.sessions[1]
	id := func(s chatsync.Session) string { return fmt.Sprint(s.ID) }
	both := []int{0, 1}
	tests := []struct {
		name string
		req  *chatsyncv1.ListChatsRequest
		want []string
		// each, when set, holds for every chat returned.
		each func(*chatsyncv1.Chat) bool
	}{
		{"everything", &chatsyncv1.ListChatsRequest{}, f.want(both, nil), nil},
		// The seed's check: every chat returned has the chosen session_id.
		{"one session", &chatsyncv1.ListChatsRequest{SessionIds: []string{id(s1)}}, f.want([]int{1}, nil),
			func(c *chatsyncv1.Chat) bool {
				return c.GetSessionId() == id(s1) && c.GetProvider() == chatsyncv1.Provider_PROVIDER_WHATSMEOW
			}},
		{"two sessions", &chatsyncv1.ListChatsRequest{SessionIds: []string{id(s1), id(s0), id(s1)}}, f.want(both, nil), nil},
		{"groups", &chatsyncv1.ListChatsRequest{Type: chatsyncv1.ChatType_CHAT_TYPE_GROUP},
			f.want(both, func(c chatsync.ChatInput) bool { return c.Type == chatsync.ChatGroup }),
			func(c *chatsyncv1.Chat) bool {
				return c.GetType() == chatsyncv1.ChatType_CHAT_TYPE_GROUP && c.GetParticipantCount() == 3
			}},
		{"private", &chatsyncv1.ListChatsRequest{Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE},
			f.want(both, func(c chatsync.ChatInput) bool { return c.Type == chatsync.ChatPrivate }),
			func(c *chatsyncv1.Chat) bool {
				return c.GetType() == chatsyncv1.ChatType_CHAT_TYPE_PRIVATE && c.GetPhone() != ""
			}},
		{"unread", &chatsyncv1.ListChatsRequest{UnreadOnly: true},
			f.want(both, func(c chatsync.ChatInput) bool { return unreadOf(c) > 0 || c.MarkedUnread != nil && *c.MarkedUnread }),
			func(c *chatsyncv1.Chat) bool { return c.GetUnreadCount() > 0 || c.GetMarkedUnread() }},
		{"session, groups, unread", &chatsyncv1.ListChatsRequest{SessionIds: []string{id(s0)}, Type: chatsyncv1.ChatType_CHAT_TYPE_GROUP, UnreadOnly: true},
			f.want([]int{0}, func(c chatsync.ChatInput) bool {
				return c.Type == chatsync.ChatGroup && (unreadOf(c) > 0 || c.MarkedUnread != nil && *c.MarkedUnread)
			}),
			func(c *chatsyncv1.Chat) bool { return c.GetSessionId() == id(s0) }},
		{"archived", &chatsyncv1.ListChatsRequest{Archived: new(true)}, []string{f.alice.JID},
			func(c *chatsyncv1.Chat) bool { return c.GetArchived() }},
		{"not archived", &chatsyncv1.ListChatsRequest{Archived: new(false)},
			f.want(both, func(c chatsync.ChatInput) bool { return c.JID != f.alice.JID }),
			func(c *chatsyncv1.Chat) bool { return !c.GetArchived() }},
		{"pinned", &chatsyncv1.ListChatsRequest{Pinned: new(true)}, []string{f.alice.JID},
			func(c *chatsyncv1.Chat) bool { return c.GetPinned() }},
		{"not pinned, groups", &chatsyncv1.ListChatsRequest{Pinned: new(false), Type: chatsyncv1.ChatType_CHAT_TYPE_GROUP},
			f.want(both, func(c chatsync.ChatInput) bool { return c.Type == chatsync.ChatGroup }), nil},
		{"search contact name", &chatsyncv1.ListChatsRequest{Query: "WONDER"}, []string{f.alice.JID}, nil},
		{"search first name, other workspace hidden", &chatsyncv1.ListChatsRequest{Query: "alice"}, []string{f.alice.JID}, nil},
		{"search phone", &chatsyncv1.ListChatsRequest{Query: "0005001"}, []string{f.alice.JID}, nil},
		{"search e164", &chatsyncv1.ListChatsRequest{Query: "+628120005001"}, []string{f.alice.JID}, nil},
		{"search group subject", &chatsyncv1.ListChatsRequest{Query: " ops te "}, []string{f.ops.JID}, nil},
		{"search push name", &chatsyncv1.ListChatsRequest{Query: "person 1001"}, []string{privateChat(1001, t0, 0).JID}, nil},
		{"search wildcard characters are literal", &chatsyncv1.ListChatsRequest{Query: "%"}, nil, nil},
		{"search with session filter", &chatsyncv1.ListChatsRequest{Query: "alice", SessionIds: []string{id(s1)}}, nil, nil},
	}
	for _, p := range servertest.Protocols {
		c := f.env.Clients(f.a.token, p.Opts...)
		for _, tt := range tests {
			t.Run(p.Name+"/"+tt.name, func(t *testing.T) {
				got := listAll(t, c, &chatsyncv1.ListChatsRequest{
					SessionIds: tt.req.SessionIds, Type: tt.req.Type, Query: tt.req.Query, UnreadOnly: tt.req.UnreadOnly,
					Archived: tt.req.Archived, Pinned: tt.req.Pinned, PageSize: 37,
				})
				if g := jids(got); !slices.Equal(tt.want, g) {
					t.Fatalf("chats: got %d %v\nwant %d %v", len(g), g, len(tt.want), tt.want)
				}
				assertNewestFirst(t, got)
				for _, ch := range got {
					if ch.GetSessionName() == "" || ch.GetProvider() == chatsyncv1.Provider_PROVIDER_UNSPECIFIED || ch.GetName() == "" {
						t.Fatalf("chat %s lacks session name, provider or name: %v", ch.GetId(), ch)
					}
					if tt.each != nil && !tt.each(ch) {
						t.Fatalf("chat %v does not match the filter", ch)
					}
				}
			})
		}
	}
}

// TestListChatsFillsEveryField checks each field DESIGN.md lists.
func TestListChatsFillsEveryField(t *testing.T) {
	f := newListFixture(t)
	s0 := f.a.sessions[0]
	for _, p := range servertest.Protocols {
		t.Run(p.Name, func(t *testing.T) {
			c := f.env.Clients(f.a.token, p.Opts...)
			res, err := c.Chat.ListChats(t.Context(), &chatsyncv1.ListChatsRequest{PageSize: 3})
			if err != nil {
				t.Fatal(err)
			}
			// alice (t0+1h) first, ops (t0+30m) second.
			if len(res.GetChats()) != 3 {
				t.Fatalf("got %d chats", len(res.GetChats()))
			}
			alice, ops := res.GetChats()[0], res.GetChats()[1]
			wantAlice := &chatsyncv1.Chat{
				Id: alice.GetId(), SessionId: fmt.Sprint(s0.ID), SessionName: s0.DisplayName, Provider: chatsyncv1.Provider_PROVIDER_WEBJS,
				Jid: f.alice.JID, Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE, Name: "Alice Wonderland", Phone: "+628120005001",
				UnreadCount: 3, LastActivityTime: alice.GetLastActivityTime(), LastMessagePreview: "see you at noon",
				Archived: true, Pinned: true, ContactName: "Alice Wonderland", MutedUntil: timestamppb.New(chatsync.MutedForever),
			}
			if !proto.Equal(wantAlice, alice) {
				t.Fatalf("private chat:\n got %v\nwant %v", alice, wantAlice)
			}
			if !alice.GetLastActivityTime().AsTime().Equal(t0.Add(time.Hour)) || alice.GetId() == "" {
				t.Fatalf("id %q, last activity %v", alice.GetId(), alice.GetLastActivityTime().AsTime())
			}
			wantOps := &chatsyncv1.Chat{
				Id: ops.GetId(), SessionId: fmt.Sprint(s0.ID), SessionName: s0.DisplayName, Provider: chatsyncv1.Provider_PROVIDER_WEBJS,
				Jid: f.ops.JID, Type: chatsyncv1.ChatType_CHAT_TYPE_GROUP, Name: "Ops Team", ParticipantCount: 3,
				LastActivityTime: ops.GetLastActivityTime(), Description: "about Ops Team", MarkedUnread: true,
			}
			if !proto.Equal(wantOps, ops) {
				t.Fatalf("group chat:\n got %v\nwant %v", ops, wantOps)
			}
		})
	}
}

func TestListChatsPageSize(t *testing.T) {
	f := newListFixture(t)
	c := f.env.Clients(f.a.token)
	tests := []struct {
		size int32
		want int
	}{{0, 50}, {1, 1}, {200, 200}, {201, 200}, {100000, 200}}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
			res, err := c.Chat.ListChats(t.Context(), &chatsyncv1.ListChatsRequest{PageSize: tt.size})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.GetChats()) != tt.want || res.GetNextPageToken() == "" {
				t.Fatalf("page of %d chats, token %q; want %d and a token", len(res.GetChats()), res.GetNextPageToken(), tt.want)
			}
		})
	}
	// The last page has no token.
	res, err := c.Chat.ListChats(t.Context(), &chatsyncv1.ListChatsRequest{PageSize: 200, Type: chatsyncv1.ChatType_CHAT_TYPE_GROUP})
	if err != nil || res.GetNextPageToken() != "" || len(res.GetChats()) == 0 {
		t.Fatalf("last page: %d chats, token %q, %v", len(res.GetChats()), res.GetNextPageToken(), err)
	}
}

func TestListChatsPageTokenIsBoundToFilters(t *testing.T) {
	f := newListFixture(t)
	s0, s1 := fmt.Sprint(f.a.sessions[0].ID), fmt.Sprint(f.a.sessions[1].ID)
	base := &chatsyncv1.ListChatsRequest{SessionIds: []string{s0}, Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE, Query: "person", PageSize: 5}
	ca, cb := f.env.Clients(f.a.token), f.env.Clients(f.b.token)
	first, err := ca.Chat.ListChats(t.Context(), base)
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v, token %q", err, first.GetNextPageToken())
	}
	tok := first.GetNextPageToken()
	msgs := messagesToken(t, f)
	with := func(edit func(r *chatsyncv1.ListChatsRequest)) *chatsyncv1.ListChatsRequest {
		r := proto.Clone(base).(*chatsyncv1.ListChatsRequest)
		r.PageToken = tok
		edit(r)
		return r
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		b[i] = map[bool]byte{true: 'A', false: 'B'}[b[i] != 'A']
		return string(b)
	}
	bad := []struct {
		name   string
		client servertest.Clients
		req    *chatsyncv1.ListChatsRequest
	}{
		{"other session", ca, with(func(r *chatsyncv1.ListChatsRequest) { r.SessionIds = []string{s1} })},
		{"no session", ca, with(func(r *chatsyncv1.ListChatsRequest) { r.SessionIds = nil })},
		{"more sessions", ca, with(func(r *chatsyncv1.ListChatsRequest) { r.SessionIds = []string{s0, s1} })},
		{"other type", ca, with(func(r *chatsyncv1.ListChatsRequest) { r.Type = chatsyncv1.ChatType_CHAT_TYPE_GROUP })},
		{"other query", ca, with(func(r *chatsyncv1.ListChatsRequest) { r.Query = "persons" })},
		{"unread only", ca, with(func(r *chatsyncv1.ListChatsRequest) { r.UnreadOnly = true })},
		{"archived", ca, with(func(r *chatsyncv1.ListChatsRequest) { r.Archived = new(false) })},
		{"pinned", ca, with(func(r *chatsyncv1.ListChatsRequest) { r.Pinned = new(false) })},
		{"tampered first byte", ca, with(func(r *chatsyncv1.ListChatsRequest) { r.PageToken = flip(tok, 0) })},
		{"tampered id", ca, with(func(r *chatsyncv1.ListChatsRequest) { r.PageToken = flip(tok, 14) })},
		{"tampered mac", ca, with(func(r *chatsyncv1.ListChatsRequest) { r.PageToken = flip(tok, len(tok)-1) })},
		{"truncated", ca, with(func(r *chatsyncv1.ListChatsRequest) { r.PageToken = tok[:len(tok)-4] })},
		{"not base64", ca, with(func(r *chatsyncv1.ListChatsRequest) { r.PageToken = "!!" + tok[2:] })},
		{"a ListMessages token", ca, with(func(r *chatsyncv1.ListChatsRequest) { r.PageToken = msgs })},
		{"another workspace", cb, with(func(r *chatsyncv1.ListChatsRequest) { r.SessionIds = []string{fmt.Sprint(f.b.sessions[0].ID)} })},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tt.client.Chat.ListChats(t.Context(), tt.req)
			if connect.CodeOf(err) != connect.CodeInvalidArgument || res != nil {
				t.Fatalf("code = %v (%v), want invalid_argument and no chats", connect.CodeOf(err), err)
			}
			if !strings.Contains(err.Error(), "page_token") {
				t.Fatalf("message %q does not name page_token", err)
			}
		})
	}
	t.Run("same filters, other page size", func(t *testing.T) {
		res, err := ca.Chat.ListChats(t.Context(), with(func(r *chatsyncv1.ListChatsRequest) { r.PageSize = 7; r.Query = "  person " }))
		if err != nil || len(res.GetChats()) != 7 {
			t.Fatalf("second page: %v, %d chats", err, len(res.GetChats()))
		}
		if res.GetChats()[0].GetId() == first.GetChats()[4].GetId() {
			t.Fatal("second page repeats the first page's last chat")
		}
	})
}

// messagesToken returns a ListMessages page token of a chat of A.
func messagesToken(t *testing.T, f listFixture) string {
	t.Helper()
	chat := privateChat(9001, t0, 0)
	for i := range 3 {
		chat.Messages = append(chat.Messages, chatsync.MessageInput{ID: fmt.Sprint("x", i), Timestamp: t0.Add(time.Duration(i) * time.Second), Text: "x"})
	}
	w := f.a.write(t, f.env, 0, chat)
	res, err := f.env.Clients(f.a.token).Chat.ListMessages(t.Context(), &chatsyncv1.ListMessagesRequest{ChatId: fmt.Sprint(w.Chats[0].ID), PageSize: 1})
	if err != nil || res.GetNextPageToken() == "" {
		t.Fatalf("ListMessages: %v", err)
	}
	return res.GetNextPageToken()
}

// TestListChatsWalkWhileChatsArrive walks every page while new chats with
// newer activity arrive after each page. They land before the cursor, so
// the walk returns exactly the chats that existed when it started (each
// once) and none of the new ones; a chat bumped after it was returned is
// not returned again; a chat bumped before the walk reached it moved
// before the cursor too and is not in this walk (the stream carries it).
func TestListChatsWalkWhileChatsArrive(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	for i, p := range servertest.Protocols {
		for _, filtered := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/session_filter=%t", p.Name, filtered), func(t *testing.T) {
				tn := newTenant(t, env, fmt.Sprintf("walk-%d-%t", i, filtered), chatsync.ProviderWebJS, chatsync.ProviderWhatsmeow)
				s0 := tn.write(t, env, 0, manyChats(1, 95, t0)...)
				s1 := tn.write(t, env, 1, manyChats(501, 40, t0.Add(-20*time.Second))...)
				want := map[int64]bool{}
				for _, ch := range s0.Chats {
					want[ch.ID] = true
				}
				req := &chatsyncv1.ListChatsRequest{PageSize: 10}
				if filtered {
					req.SessionIds = []string{fmt.Sprint(tn.sessions[0].ID)}
				} else {
					for _, ch := range s1.Chats {
						want[ch.ID] = true
					}
				}
				c := env.Clients(tn.token, p.Opts...)
				seen := map[string]int{}
				var bumpedUnseen string
				newer := t0.Add(time.Hour)
				for page := 0; ; page++ {
					res, err := c.Chat.ListChats(t.Context(), req)
					if err != nil {
						t.Fatalf("page %d: %v", page, err)
					}
					for _, ch := range res.GetChats() {
						seen[ch.GetId()]++
					}
					if res.GetNextPageToken() == "" {
						break
					}
					req.PageToken = res.GetNextPageToken()
					// New chats arrive in both sessions, newer than any.
					for k := range 3 {
						newer = newer.Add(time.Minute)
						tn.write(t, env, k%2, privateChat(10000+page*10+k, newer, 1))
					}
					// A chat already returned gets a new message.
					again := privateChat(1+page, newer.Add(time.Second), 4)
					tn.write(t, env, 0, again)
					if page == 2 {
						// A chat the walk has not reached yet gets one too.
						late := manyChats(90, 1, newer.Add(2*time.Second))[0]
						w := tn.write(t, env, 0, late)
						bumpedUnseen = fmt.Sprint(w.Chats[0].ID)
					}
				}
				for id, n := range seen {
					if n != 1 {
						t.Errorf("chat %s returned %d times", id, n)
					}
				}
				for id := range want {
					sid := fmt.Sprint(id)
					if sid == bumpedUnseen {
						if seen[sid] != 0 {
							t.Errorf("chat %s bumped ahead of the cursor was returned", sid)
						}
						continue
					}
					if seen[sid] != 1 {
						t.Errorf("chat %s present at the start was returned %d times", sid, seen[sid])
					}
				}
				if len(seen) != len(want)-1 {
					t.Errorf("walk returned %d chats, want the %d present at the start less the one bumped ahead", len(seen), len(want)-1)
				}
			})
		}
	}
}

func TestGetChat(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	a := newTenant(t, env, "a", chatsync.ProviderWhatsmeow)
	w := a.write(t, env, 0, groupChat(1, t0, "Family"), privateChat(2, t0, 1))
	ids := map[string]string{}
	for _, ch := range w.Chats {
		ids[ch.JID] = fmt.Sprint(ch.ID)
	}
	for _, p := range servertest.Protocols {
		c := env.Clients(a.token, p.Opts...)
		t.Run(p.Name+"/group", func(t *testing.T) {
			res, err := c.Chat.GetChat(t.Context(), &chatsyncv1.GetChatRequest{ChatId: ids[groupChat(1, t0, "").JID]})
			if err != nil {
				t.Fatal(err)
			}
			if res.GetChat().GetName() != "Family" || res.GetChat().GetParticipantCount() != 3 || res.GetChat().GetProvider() != chatsyncv1.Provider_PROVIDER_WHATSMEOW {
				t.Fatalf("chat = %v", res.GetChat())
			}
			want := []*chatsyncv1.Participant{
				{Jid: "628120000001@s.whatsapp.net", Phone: "+628120000001", Role: chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_SUPERADMIN},
				{Jid: "628120000002@s.whatsapp.net", Phone: "+628120000002", Role: chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_ADMIN},
				{Jid: "628120000003@s.whatsapp.net", Phone: "+628120000003", Role: chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_MEMBER},
			}
			got := res.GetParticipants()
			if len(got) != len(want) {
				t.Fatalf("participants = %v, want %v", got, want)
			}
			for i := range want {
				got[i].Name = ""
				if !proto.Equal(want[i], got[i]) {
					t.Fatalf("participant %d = %v, want %v", i, got[i], want[i])
				}
			}
		})
		t.Run(p.Name+"/private", func(t *testing.T) {
			res, err := c.Chat.GetChat(t.Context(), &chatsyncv1.GetChatRequest{ChatId: ids[privateChat(2, t0, 0).JID]})
			if err != nil {
				t.Fatal(err)
			}
			if res.GetChat().GetPhone() != "+628120000002" || res.GetChat().GetName() != "Person 2" || len(res.GetParticipants()) != 0 {
				t.Fatalf("private chat = %v, participants %v", res.GetChat(), res.GetParticipants())
			}
		})
		t.Run(p.Name+"/unknown", func(t *testing.T) {
			_, err := c.Chat.GetChat(t.Context(), &chatsyncv1.GetChatRequest{ChatId: "987654321"})
			if connect.CodeOf(err) != connect.CodeNotFound {
				t.Fatalf("code = %v, want not_found", connect.CodeOf(err))
			}
		})
	}
}

func TestListMessagesNewestFirst(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	a := newTenant(t, env, "a", chatsync.ProviderWebJS)
	chat := privateChat(1, t0, 0)
	other := privateChat(2, t0, 0)
	// 120 messages, two per second: pages must break ties by id.
	for i := range 120 {
		chat.Messages = append(chat.Messages, chatsync.MessageInput{
			ID: fmt.Sprintf("M%03d", i), Timestamp: t0.Add(-time.Duration(i/2) * time.Second), Text: fmt.Sprint("text ", i), FromMe: i%2 == 0,
		})
	}
	other.Messages = chat.Messages[:3]
	w := a.write(t, env, 0, chat, other)
	chatID, otherID := fmt.Sprint(w.Chats[0].ID), fmt.Sprint(w.Chats[1].ID)
	if w.Chats[0].JID != chat.JID {
		chatID, otherID = otherID, chatID
	}
	for _, p := range servertest.Protocols {
		t.Run(p.Name, func(t *testing.T) {
			c := env.Clients(a.token, p.Opts...)
			req := &chatsyncv1.ListMessagesRequest{ChatId: chatID}
			var got []*chatsyncv1.Message
			var sizes []int
			for {
				res, err := c.Chat.ListMessages(t.Context(), req)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, res.GetMessages()...)
				sizes = append(sizes, len(res.GetMessages()))
				if res.GetNextPageToken() == "" {
					break
				}
				req.PageToken = res.GetNextPageToken()
			}
			if !slices.Equal(sizes, []int{50, 50, 20}) {
				t.Fatalf("page sizes %v, want the default 50", sizes)
			}
			seen := map[string]bool{}
			for i, m := range got {
				if seen[m.GetId()] || m.GetChatId() != chatID || m.GetText() == "" {
					t.Fatalf("message %d = %v (duplicate or wrong chat)", i, m)
				}
				seen[m.GetId()] = true
				if i > 0 && m.GetTimestamp().AsTime().After(got[i-1].GetTimestamp().AsTime()) {
					t.Fatalf("message %d newer than %d", i, i-1)
				}
			}
			if len(seen) != 120 {
				t.Fatalf("%d distinct messages, want 120", len(seen))
			}
			// A token of one chat is refused for another.
			_, err := c.Chat.ListMessages(t.Context(), &chatsyncv1.ListMessagesRequest{ChatId: otherID, PageToken: firstToken(t, c, chatID)})
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("token of another chat: %v, want invalid_argument", err)
			}
			_, err = c.Chat.ListMessages(t.Context(), &chatsyncv1.ListMessagesRequest{ChatId: "987654321"})
			if connect.CodeOf(err) != connect.CodeNotFound {
				t.Fatalf("unknown chat: %v, want not_found", err)
			}
		})
	}
}

func firstToken(t *testing.T, c servertest.Clients, chatID string) string {
	t.Helper()
	res, err := c.Chat.ListMessages(t.Context(), &chatsyncv1.ListMessagesRequest{ChatId: chatID, PageSize: 1})
	if err != nil || res.GetNextPageToken() == "" {
		t.Fatalf("ListMessages: %v", err)
	}
	return res.GetNextPageToken()
}

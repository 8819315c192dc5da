package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/server/servertest"
)

// unnamed are the RPCs that name no session, chat or batch: they act on
// the caller's own workspace, so they succeed for the intruder and must
// return none of the victim's data (checked after the matrix).
var unnamed = map[string]bool{"SessionService.CreateSession": true, "SessionService.ListSessions": true}

// TestTenantMatrix calls every RPC of the three services with a token of
// workspace B naming a session, chat and batch of workspace A. Every one
// answers not_found (or permission_denied) with no data, including the RPCs
// still unimplemented, which check ownership before anything else; and
// nothing of A changes.
func TestTenantMatrix(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	a := newTenant(t, env, "victim", chatsync.ProviderWebJS)
	b := newTenant(t, env, "intruder", chatsync.ProviderWebJS)
	victim := groupChat(1, t0, "Victim Board")
	victim.Messages = []chatsync.MessageInput{{ID: "secret-1", Timestamp: t0, Text: "the victim's secret"}}
	w := a.write(t, env, 0, victim)
	sessionID, chatID := fmt.Sprint(a.sessions[0].ID), fmt.Sprint(w.Chats[0].ID)
	ca := env.Clients(a.token)
	if _, err := ca.Sync.SyncBatch(t.Context(), &chatsyncv1.SyncBatchRequest{
		SessionId: sessionID, BatchId: "b1", Kind: chatsyncv1.BatchKind_BATCH_KIND_LIVE,
		Chats: []*chatsyncv1.SyncChat{{Jid: "628120000009@s.whatsapp.net", Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE}},
	}); err != nil {
		t.Fatal(err)
	}
	leaks := []string{a.sessions[0].DisplayName, victim.JID, "Victim Board", "the victim's secret"}

	covered := 0
	for _, p := range servertest.Protocols {
		cb := env.Clients(b.token, p.Opts...)
		for _, rpc := range allRPCs {
			t.Run(p.Name+"/"+rpc.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				err := rpc.do(ctx, cb, sessionID, chatID)
				if unnamed[rpc.name] {
					if err != nil {
						t.Fatalf("%s on the caller's own workspace: %v", rpc.name, err)
					}
					return
				}
				code := connect.CodeOf(err)
				if code != connect.CodeNotFound && code != connect.CodePermissionDenied {
					t.Fatalf("code = %v (%v), want not_found or permission_denied", code, err)
				}
				for _, l := range leaks {
					if strings.Contains(err.Error(), l) {
						t.Fatalf("error %q leaks %q", err, l)
					}
				}
			})
			covered++
		}
	}
	if covered != len(servertest.Protocols)*len(allRPCs) {
		t.Fatalf("matrix covered %d calls", covered)
	}
	assertEveryRPCListed(t)

	t.Run("intruder's own lists hold nothing of the victim", func(t *testing.T) {
		cb := env.Clients(b.token)
		sessions, err := cb.Session.ListSessions(t.Context(), &chatsyncv1.ListSessionsRequest{PageSize: 200})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sessions.GetSessions() {
			if s.GetId() == sessionID {
				t.Fatalf("ListSessions of B returned A's session %v", s)
			}
		}
		chats, err := cb.Chat.ListChats(t.Context(), &chatsyncv1.ListChatsRequest{Query: "victim"})
		if err != nil || len(chats.GetChats()) != 0 {
			t.Fatalf("ListChats of B: %v, %v", chats.GetChats(), err)
		}
	})
	t.Run("the victim's data is unchanged", func(t *testing.T) {
		got, err := ca.Session.GetSession(t.Context(), &chatsyncv1.GetSessionRequest{SessionId: sessionID})
		if err != nil || got.GetSession().GetDisplayName() != a.sessions[0].DisplayName {
			t.Fatalf("A's session after the matrix: %v, %v", got.GetSession(), err)
		}
		chat, err := ca.Chat.GetChat(t.Context(), &chatsyncv1.GetChatRequest{ChatId: chatID})
		if err != nil || chat.GetChat().GetName() != "Victim Board" || len(chat.GetParticipants()) != 3 {
			t.Fatalf("A's chat after the matrix: %v, %v", chat, err)
		}
		batch, err := ca.Sync.GetSyncBatch(t.Context(), &chatsyncv1.GetSyncBatchRequest{SessionId: sessionID, BatchId: "b1"})
		if err != nil || batch.GetBatch().GetAcceptedCount() != 1 {
			t.Fatalf("A's batch after the matrix: %v, %v", batch, err)
		}
	})
}

// assertEveryRPCListed fails when a service gains an RPC that allRPCs (and
// so the matrix) does not call.
func assertEveryRPCListed(t *testing.T) {
	t.Helper()
	listed := map[string]bool{}
	for _, c := range allRPCs {
		listed[c.name] = true
	}
	files := []protoreflect.FileDescriptor{
		chatsyncv1.File_chatsync_v1_session_service_proto, chatsyncv1.File_chatsync_v1_sync_service_proto, chatsyncv1.File_chatsync_v1_chat_service_proto,
	}
	n := 0
	for _, f := range files {
		svc := f.Services().Get(0)
		for i := range svc.Methods().Len() {
			name := string(svc.Name()) + "." + string(svc.Methods().Get(i).Name())
			if !listed[name] {
				t.Errorf("%s is not in allRPCs: the tenant matrix does not cover it", name)
			}
			n++
		}
	}
	if n != len(allRPCs) {
		t.Errorf("allRPCs has %d entries, the services %d RPCs", len(allRPCs), n)
	}
}

// TestTokensAreHashedAndRevocable: the database holds only the SHA-256 of
// a token, and a revoked token is refused on the very next call.
func TestTokensAreHashedAndRevocable(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	ws, token := env.Workspace(t, "tokens")
	var plain, hashed int
	db := env.Store.DB().DB
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM api_tokens WHERE position($1::bytea in token_hash) > 0 OR name = $2", []byte(token), token).Scan(&plain); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM api_tokens WHERE token_hash = sha256($1::bytea) AND workspace_id = $2", []byte(token), ws).Scan(&hashed); err != nil {
		t.Fatal(err)
	}
	if plain != 0 || hashed != 1 {
		t.Fatalf("rows holding the plain token: %d, rows holding its SHA-256: %d", plain, hashed)
	}
	for _, p := range servertest.Protocols {
		if _, err := env.Clients(token, p.Opts...).Session.ListSessions(t.Context(), &chatsyncv1.ListSessionsRequest{}); err != nil {
			t.Fatalf("%s: live token refused: %v", p.Name, err)
		}
	}
	if err := env.Store.RevokeToken(t.Context(), ws, token); err != nil {
		t.Fatal(err)
	}
	for _, p := range servertest.Protocols {
		for _, rpc := range allRPCs {
			t.Run(p.Name+"/"+rpc.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				if err := rpc.do(ctx, env.Clients(token, p.Opts...), "1", "1"); connect.CodeOf(err) != connect.CodeUnauthenticated {
					t.Fatalf("revoked token: %v, want unauthenticated", err)
				}
			})
		}
	}
}

// TestSessionFiltersNameOnlyOwnSessions: a session filter naming another
// workspace's session is not_found even when the caller's own sessions in
// the same filter have chats on the page; the caller's own session without
// chats is an empty page.
func TestSessionFiltersNameOnlyOwnSessions(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	a := newTenant(t, env, "a", chatsync.ProviderWebJS, chatsync.ProviderWebJS)
	b := newTenant(t, env, "b", chatsync.ProviderWebJS)
	a.write(t, env, 0, manyChats(1, 5, t0)...)
	b.write(t, env, 0, manyChats(1, 5, t0)...)
	own, empty, foreign := fmt.Sprint(a.sessions[0].ID), fmt.Sprint(a.sessions[1].ID), fmt.Sprint(b.sessions[0].ID)
	tests := []struct {
		name     string
		sessions []string
		want     connect.Code
		chats    int
	}{
		{"own session", []string{own}, 0, 5},
		{"own session without chats", []string{empty}, 0, 0},
		{"own sessions", []string{own, empty}, 0, 5},
		{"foreign session", []string{foreign}, connect.CodeNotFound, 0},
		{"own and foreign", []string{own, foreign}, connect.CodeNotFound, 0},
		{"unknown session", []string{own, "987654321"}, connect.CodeNotFound, 0},
	}
	for _, p := range servertest.Protocols {
		c := env.Clients(a.token, p.Opts...)
		for _, tt := range tests {
			t.Run(p.Name+"/"+tt.name, func(t *testing.T) {
				res, err := c.Chat.ListChats(t.Context(), &chatsyncv1.ListChatsRequest{SessionIds: tt.sessions})
				if tt.want != 0 {
					if connect.CodeOf(err) != tt.want || res != nil {
						t.Fatalf("code = %v (%v), want %v and no chats", connect.CodeOf(err), err, tt.want)
					}
					return
				}
				if err != nil || len(res.GetChats()) != tt.chats {
					t.Fatalf("ListChats: %d chats, %v; want %d", len(res.GetChats()), err, tt.chats)
				}
			})
		}
	}
}

package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/server/servertest"
)

// redisDB is the Redis database of this package's tests.
const redisDB = 3

// call is one RPC invocation for table tests; streaming RPCs report the
// error of their first receive.
type call struct {
	name string
	do   func(ctx context.Context, c servertest.Clients, sessionID, chatID string) error
}

// allRPCs calls every RPC of the three services with a well-formed request
// naming sessionID and chatID.
var allRPCs = []call{
	{"SessionService.CreateSession", func(ctx context.Context, c servertest.Clients, _, _ string) error {
		_, err := c.Session.CreateSession(ctx, &chatsyncv1.CreateSessionRequest{DisplayName: "x", Provider: chatsyncv1.Provider_PROVIDER_WEBJS})
		return err
	}},
	{"SessionService.GetSession", func(ctx context.Context, c servertest.Clients, s, _ string) error {
		_, err := c.Session.GetSession(ctx, &chatsyncv1.GetSessionRequest{SessionId: s})
		return err
	}},
	{"SessionService.ListSessions", func(ctx context.Context, c servertest.Clients, _, _ string) error {
		_, err := c.Session.ListSessions(ctx, &chatsyncv1.ListSessionsRequest{})
		return err
	}},
	{"SessionService.UpdateSession", func(ctx context.Context, c servertest.Clients, s, _ string) error {
		name := "renamed"
		_, err := c.Session.UpdateSession(ctx, &chatsyncv1.UpdateSessionRequest{SessionId: s, DisplayName: &name})
		return err
	}},
	{"SessionService.DeleteSession", func(ctx context.Context, c servertest.Clients, s, _ string) error {
		_, err := c.Session.DeleteSession(ctx, &chatsyncv1.DeleteSessionRequest{SessionId: s})
		return err
	}},
	{"SessionService.RotateSessionSecret", func(ctx context.Context, c servertest.Clients, s, _ string) error {
		_, err := c.Session.RotateSessionSecret(ctx, &chatsyncv1.RotateSessionSecretRequest{SessionId: s})
		return err
	}},
	{"SessionService.PairSession", func(ctx context.Context, c servertest.Clients, s, _ string) error {
		st, err := c.Session.PairSession(ctx, &chatsyncv1.PairSessionRequest{SessionId: s})
		if err != nil {
			return err
		}
		defer st.Close()
		st.Receive()
		return st.Err()
	}},
	{"SessionService.GetSessionHealth", func(ctx context.Context, c servertest.Clients, s, _ string) error {
		_, err := c.Session.GetSessionHealth(ctx, &chatsyncv1.GetSessionHealthRequest{SessionId: s})
		return err
	}},
	{"SessionService.ResyncSession", func(ctx context.Context, c servertest.Clients, s, _ string) error {
		_, err := c.Session.ResyncSession(ctx, &chatsyncv1.ResyncSessionRequest{SessionId: s})
		return err
	}},
	{"SyncService.SyncBatch", func(ctx context.Context, c servertest.Clients, s, _ string) error {
		_, err := c.Sync.SyncBatch(ctx, &chatsyncv1.SyncBatchRequest{SessionId: s, BatchId: "b1", Kind: chatsyncv1.BatchKind_BATCH_KIND_LIVE})
		return err
	}},
	{"SyncService.GetSyncBatch", func(ctx context.Context, c servertest.Clients, s, _ string) error {
		_, err := c.Sync.GetSyncBatch(ctx, &chatsyncv1.GetSyncBatchRequest{SessionId: s, BatchId: "b1"})
		return err
	}},
	{"SyncService.WatchCommands", func(ctx context.Context, c servertest.Clients, s, _ string) error {
		st, err := c.Sync.WatchCommands(ctx, &chatsyncv1.WatchCommandsRequest{SessionId: s})
		if err != nil {
			return err
		}
		defer st.Close()
		st.Receive()
		return st.Err()
	}},
	{"SyncService.CompleteCommand", func(ctx context.Context, c servertest.Clients, s, _ string) error {
		_, err := c.Sync.CompleteCommand(ctx, &chatsyncv1.CompleteCommandRequest{SessionId: s, CommandId: "1"})
		return err
	}},
	{"SyncService.ReportSidecarState", func(ctx context.Context, c servertest.Clients, s, _ string) error {
		_, err := c.Sync.ReportSidecarState(ctx, &chatsyncv1.ReportSidecarStateRequest{SessionId: s, State: chatsyncv1.SidecarState_SIDECAR_STATE_READY})
		return err
	}},
	{"ChatService.ListChats", func(ctx context.Context, c servertest.Clients, s, _ string) error {
		_, err := c.Chat.ListChats(ctx, &chatsyncv1.ListChatsRequest{SessionIds: []string{s}})
		return err
	}},
	{"ChatService.GetChat", func(ctx context.Context, c servertest.Clients, _, chat string) error {
		_, err := c.Chat.GetChat(ctx, &chatsyncv1.GetChatRequest{ChatId: chat})
		return err
	}},
	{"ChatService.ListMessages", func(ctx context.Context, c servertest.Clients, _, chat string) error {
		_, err := c.Chat.ListMessages(ctx, &chatsyncv1.ListMessagesRequest{ChatId: chat})
		return err
	}},
	{"ChatService.StreamChatUpdates", func(ctx context.Context, c servertest.Clients, s, _ string) error {
		st, err := c.Chat.StreamChatUpdates(ctx, &chatsyncv1.StreamChatUpdatesRequest{SessionIds: []string{s}})
		if err != nil {
			return err
		}
		defer st.Close()
		st.Receive()
		return st.Err()
	}},
	{"ChatService.SendMessage", func(ctx context.Context, c servertest.Clients, _, chat string) error {
		_, err := c.Chat.SendMessage(ctx, &chatsyncv1.SendMessageRequest{ChatId: chat, Text: "hi"})
		return err
	}},
}

func TestEveryRPCRefusesMissingAndInvalidTokens(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	for _, p := range servertest.Protocols {
		for _, token := range []string{"", "not-a-token"} {
			c := env.Clients(token, p.Opts...)
			for _, rpc := range allRPCs {
				t.Run(p.Name+"/"+rpc.name+"/token="+token, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
					defer cancel()
					err := rpc.do(ctx, c, "1", "1")
					if got := connect.CodeOf(err); got != connect.CodeUnauthenticated {
						t.Fatalf("code = %v (%v), want unauthenticated", got, err)
					}
					var ce *connect.Error
					if !errors.As(err, &ce) || !strings.Contains(ce.Message(), "token") {
						t.Fatalf("message %q does not say what is wrong", ce.Message())
					}
				})
			}
		}
	}
}

func TestMalformedRequestsNameTheField(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	_, token := env.Workspace(t, "a")
	c := env.Clients(token)
	ctx := t.Context()
	tests := []struct {
		name  string
		field string
		do    func() error
	}{
		{"GetSession bad id", "session_id", func() error {
			_, err := c.Session.GetSession(ctx, &chatsyncv1.GetSessionRequest{SessionId: "abc"})
			return err
		}},
		{"CreateSession no provider", "provider", func() error {
			_, err := c.Session.CreateSession(ctx, &chatsyncv1.CreateSessionRequest{DisplayName: "x"})
			return err
		}},
		{"CreateSession empty name", "display_name", func() error {
			_, err := c.Session.CreateSession(ctx, &chatsyncv1.CreateSessionRequest{Provider: chatsyncv1.Provider_PROVIDER_WEBJS})
			return err
		}},
		{"CreateSession meta without config", "meta_cloud", func() error {
			_, err := c.Session.CreateSession(ctx, &chatsyncv1.CreateSessionRequest{DisplayName: "x", Provider: chatsyncv1.Provider_PROVIDER_META_CLOUD})
			return err
		}},
		{"CreateSession negative max_chats", "max_chats", func() error {
			_, err := c.Session.CreateSession(ctx, &chatsyncv1.CreateSessionRequest{DisplayName: "x", Provider: chatsyncv1.Provider_PROVIDER_WEBJS, SyncConfig: &chatsyncv1.SyncConfig{MaxChats: -1}})
			return err
		}},
		{"SyncBatch bad batch_id", "batch_id", func() error {
			_, err := c.Sync.SyncBatch(ctx, &chatsyncv1.SyncBatchRequest{SessionId: "1", BatchId: "has space", Kind: chatsyncv1.BatchKind_BATCH_KIND_LIVE})
			return err
		}},
		{"SyncBatch long batch_id", "batch_id", func() error {
			_, err := c.Sync.SyncBatch(ctx, &chatsyncv1.SyncBatchRequest{SessionId: "1", BatchId: strings.Repeat("a", 65), Kind: chatsyncv1.BatchKind_BATCH_KIND_LIVE})
			return err
		}},
		{"SyncBatch no kind", "kind", func() error {
			_, err := c.Sync.SyncBatch(ctx, &chatsyncv1.SyncBatchRequest{SessionId: "1", BatchId: "b"})
			return err
		}},
		{"SyncBatch 501 chats", "chats", func() error {
			_, err := c.Sync.SyncBatch(ctx, &chatsyncv1.SyncBatchRequest{SessionId: "1", BatchId: "b", Kind: chatsyncv1.BatchKind_BATCH_KIND_LIVE, Chats: make([]*chatsyncv1.SyncChat, 501)})
			return err
		}},
		{"ListChats negative page_size", "page_size", func() error {
			_, err := c.Chat.ListChats(ctx, &chatsyncv1.ListChatsRequest{PageSize: -1})
			return err
		}},
		{"ListChats bad session id", "session_ids", func() error {
			_, err := c.Chat.ListChats(ctx, &chatsyncv1.ListChatsRequest{SessionIds: []string{"x"}})
			return err
		}},
		{"ListChats forged page token", "page_token", func() error {
			_, err := c.Chat.ListChats(ctx, &chatsyncv1.ListChatsRequest{PageToken: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
			return err
		}},
		{"ListMessages bad chat id", "chat_id", func() error {
			_, err := c.Chat.ListMessages(ctx, &chatsyncv1.ListMessagesRequest{ChatId: "-1"})
			return err
		}},
		{"SendMessage empty text", "text", func() error {
			_, err := c.Chat.SendMessage(ctx, &chatsyncv1.SendMessageRequest{ChatId: "1"})
			return err
		}},
		{"StreamChatUpdates bad resume token", "resume_token", func() error {
			st, err := c.Chat.StreamChatUpdates(ctx, &chatsyncv1.StreamChatUpdatesRequest{ResumeToken: "nope"})
			if err != nil {
				return err
			}
			defer st.Close()
			for st.Receive() {
			}
			return st.Err()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("code = %v (%v), want invalid_argument", connect.CodeOf(err), err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("message %q does not name %s", err.Error(), tt.field)
			}
		})
	}
}

// The Authorization scheme is case-insensitive (RFC 7235 §2.1); other
// schemes and an empty token are refused.
func TestAuthorizationScheme(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	_, token := env.Workspace(t, "schemes")
	for header, want := range map[string]int{
		"Bearer " + token:       http.StatusOK,
		"bearer " + token:       http.StatusOK,
		"BEARER " + token:       http.StatusOK,
		"Bearer   " + token:     http.StatusOK,
		"Basic " + token:        http.StatusUnauthorized,
		"Bearer":                http.StatusUnauthorized,
		"Bearer ":               http.StatusUnauthorized,
		"Bearer " + token + "x": http.StatusUnauthorized,
		"Token " + token:        http.StatusUnauthorized,
	} {
		t.Run(header, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, env.URL+"/chatsync.v1.SessionService/ListSessions", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", header)
			res, err := env.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != want {
				t.Fatalf("status %d, want %d", res.StatusCode, want)
			}
		})
	}
}

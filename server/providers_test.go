package server_test

import (
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/server/servertest"
)

// An API server built without providers answers what needs one with
// unavailable, naming what is missing, and stores nothing.
func TestServerWithoutProviders(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, NoProviders: true})
	tn := newTenant(t, env, "acme", chatsync.ProviderWebJS, chatsync.ProviderMetaCloud)
	sidecarSess := tn.sessions[0]
	api := env.Clients(tn.token)
	ctx := t.Context()

	sidecar := signedSync(env, sidecarSess)
	st, err := sidecar.WatchCommands(ctx, &chatsyncv1.WatchCommandsRequest{SessionId: id(sidecarSess.ID)})
	if err != nil {
		t.Fatal(err)
	}
	if st.Receive() {
		t.Fatalf("WatchCommands delivered %v without a command channel", st.Msg())
	}
	if connect.CodeOf(st.Err()) != connect.CodeUnavailable || !strings.Contains(st.Err().Error(), "command channel is not enabled") {
		t.Errorf("WatchCommands = %v, want unavailable: not enabled", st.Err())
	}
	st.Close()
	if _, err := sidecar.CompleteCommand(ctx, &chatsyncv1.CompleteCommandRequest{SessionId: id(sidecarSess.ID), CommandId: "1"}); connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("CompleteCommand = %v, want unavailable", err)
	}
	if _, err := api.Session.ResyncSession(ctx, &chatsyncv1.ResyncSessionRequest{SessionId: id(sidecarSess.ID)}); connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("ResyncSession of a sidecar = %v, want unavailable", err)
	}
	if n, err := env.Store.OpenCommands(ctx, sidecarSess.ID, 0, 10); err != nil || len(n) != 0 {
		t.Errorf("open commands %v, %v; want none", n, err)
	}

	chat := tn.write(t, env, 1, privateChat(1, time.Now().Add(-time.Hour), 0)).Chats[0]
	count := func() int {
		t.Helper()
		res, err := api.Chat.ListMessages(ctx, &chatsyncv1.ListMessagesRequest{ChatId: id(chat.ID), PageSize: 200})
		if err != nil {
			t.Fatal(err)
		}
		return len(res.GetMessages())
	}
	before := count()
	_, err = api.Chat.SendMessage(ctx, &chatsyncv1.SendMessageRequest{ChatId: id(chat.ID), Text: "hi"})
	if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "meta_cloud is not enabled on this server") {
		t.Errorf("SendMessage through meta_cloud = %v, want unavailable: not enabled", err)
	}
	if after := count(); after != before {
		t.Errorf("messages %d after a failed send, want %d: a message not sent was stored", after, before)
	}
}

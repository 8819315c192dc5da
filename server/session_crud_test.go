package server_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/server"
	"github.com/chatsync/chatsync/server/servertest"
	"github.com/chatsync/chatsync/store"
)

func TestSessionCRUD(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	tn := newTenant(t, env, "acme")
	api := env.Clients(tn.token)
	ctx := t.Context()

	created := map[string]*chatsyncv1.CreateSessionResponse{}
	for _, tt := range []struct {
		name string
		req  *chatsyncv1.CreateSessionRequest
		want connect.Code
	}{
		{"whatsmeow", &chatsyncv1.CreateSessionRequest{DisplayName: "Phone", Provider: chatsyncv1.Provider_PROVIDER_WHATSMEOW, SyncConfig: &chatsyncv1.SyncConfig{MaxChats: 100, SyncWindowDays: 30}}, codeOK},
		{"webjs", &chatsyncv1.CreateSessionRequest{DisplayName: "Sidecar", Provider: chatsyncv1.Provider_PROVIDER_WEBJS, Backup: true}, codeOK},
		{"meta", &chatsyncv1.CreateSessionRequest{DisplayName: "Cloud", Provider: chatsyncv1.Provider_PROVIDER_META_CLOUD, MetaCloud: &chatsyncv1.MetaCloudConfig{PhoneNumberId: metaPhoneID, AccessToken: metaToken}}, codeOK},
		{"meta without config", &chatsyncv1.CreateSessionRequest{DisplayName: "Cloud", Provider: chatsyncv1.Provider_PROVIDER_META_CLOUD}, connect.CodeInvalidArgument},
		{"meta config on webjs", &chatsyncv1.CreateSessionRequest{DisplayName: "X", Provider: chatsyncv1.Provider_PROVIDER_WEBJS, MetaCloud: &chatsyncv1.MetaCloudConfig{PhoneNumberId: metaPhoneID, AccessToken: metaToken}}, connect.CodeInvalidArgument},
	} {
		res, err := api.Session.CreateSession(ctx, tt.req)
		if (err != nil || tt.want != codeOK) && connect.CodeOf(err) != tt.want {
			t.Fatalf("create %s: %v, want %s", tt.name, err, tt.want)
		}
		if err == nil {
			if len(res.GetSidecarSecret()) != 64 || res.GetSession().GetStatus() != chatsyncv1.SessionStatus_SESSION_STATUS_PENDING {
				t.Errorf("create %s: %v", tt.name, res)
			}
			created[tt.name] = res
		}
	}
	if got := created["meta"].GetSession().GetMetaPhoneNumberId(); got != metaPhoneID {
		t.Errorf("meta phone number ID %q", got)
	}
	wm := created["whatsmeow"].GetSession()

	got, err := api.Session.GetSession(ctx, &chatsyncv1.GetSessionRequest{SessionId: wm.GetId()})
	// Times come back at the database's microsecond precision.
	g := proto.Clone(got.GetSession()).(*chatsyncv1.Session)
	g.CreateTime, g.UpdateTime = wm.GetCreateTime(), wm.GetUpdateTime()
	if err != nil || !proto.Equal(g, wm) {
		t.Errorf("GetSession = %v, %v; want %v", got, err, wm)
	}

	// Pages of one, oldest first.
	var ids []string
	tok := ""
	for {
		page, err := api.Session.ListSessions(ctx, &chatsyncv1.ListSessionsRequest{PageSize: 1, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.GetSessions() {
			ids = append(ids, s.GetId())
		}
		if tok = page.GetNextPageToken(); tok == "" {
			break
		}
	}
	if len(ids) != 3 || ids[0] != wm.GetId() {
		t.Errorf("listed %v", ids)
	}
	if _, err := api.Session.ListSessions(ctx, &chatsyncv1.ListSessionsRequest{PageToken: "bogus"}); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("bad page token: %v", err)
	}

	name, backup := "Front desk", true
	up, err := api.Session.UpdateSession(ctx, &chatsyncv1.UpdateSessionRequest{
		SessionId: wm.GetId(), DisplayName: &name, Backup: &backup, SyncConfig: &chatsyncv1.SyncConfig{MaxChats: 5, RatePerMinute: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := up.GetSession()
	if s.GetDisplayName() != name || !s.GetBackup() || s.GetSyncConfig().GetMaxChats() != 5 || s.GetSyncConfig().GetSyncWindowDays() != 0 || s.GetSyncConfig().GetRatePerMinute() != 10 {
		t.Errorf("updated %v", s)
	}
	// The backup flag moved from the webjs session.
	if w, _ := api.Session.GetSession(ctx, &chatsyncv1.GetSessionRequest{SessionId: created["webjs"].GetSession().GetId()}); w.GetSession().GetBackup() {
		t.Error("two backup sessions")
	}
	if _, err := api.Session.UpdateSession(ctx, &chatsyncv1.UpdateSessionRequest{SessionId: wm.GetId(), MetaCloud: &chatsyncv1.MetaCloudConfig{PhoneNumberId: "1", AccessToken: "x"}}); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("meta config on whatsmeow: %v", err)
	}
	metaID := created["meta"].GetSession().GetId()
	if up, err := api.Session.UpdateSession(ctx, &chatsyncv1.UpdateSessionRequest{SessionId: metaID, MetaCloud: &chatsyncv1.MetaCloudConfig{PhoneNumberId: "2", AccessToken: "new"}}); err != nil || up.GetSession().GetMetaPhoneNumberId() != "2" {
		t.Errorf("update meta config: %v, %v", up, err)
	}
	sealed, err := env.Store.MetaToken(ctx, tn.ws, mustParse(t, metaID))
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := env.Keys.Open(sealed); err != nil || string(plain) != "new" {
		t.Errorf("stored token %q, %v", plain, err)
	}

	// Rotating the secret: the old one stops working at once.
	webjs := created["webjs"]
	sess := chatsync.Session{ID: mustParse(t, webjs.GetSession().GetId())}
	rot, err := api.Session.RotateSessionSecret(ctx, &chatsyncv1.RotateSessionSecretRequest{SessionId: webjs.GetSession().GetId()})
	if err != nil || len(rot.GetSidecarSecret()) != 64 || rot.GetSidecarSecret() == webjs.GetSidecarSecret() {
		t.Fatalf("rotate: %v, %v", rot, err)
	}
	oldSigned := signedWith(env, sess, webjs.GetSidecarSecret())
	if _, err := oldSigned.GetSyncBatch(ctx, &chatsyncv1.GetSyncBatchRequest{SessionId: webjs.GetSession().GetId(), BatchId: "x"}); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("old secret after rotation: %v", err)
	}
	newSigned := signedWith(env, sess, rot.GetSidecarSecret())
	if _, err := newSigned.GetSyncBatch(ctx, &chatsyncv1.GetSyncBatchRequest{SessionId: webjs.GetSession().GetId(), BatchId: "x"}); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("new secret after rotation: %v, want not_found (signature accepted)", err)
	}

	// Deleting a sidecar session; then it is gone.
	if _, err := api.Session.DeleteSession(ctx, &chatsyncv1.DeleteSessionRequest{SessionId: webjs.GetSession().GetId()}); err != nil {
		t.Fatal(err)
	}
	for _, call := range []func() error{
		func() error {
			_, err := api.Session.DeleteSession(ctx, &chatsyncv1.DeleteSessionRequest{SessionId: webjs.GetSession().GetId()})
			return err
		},
		func() error {
			_, err := api.Session.RotateSessionSecret(ctx, &chatsyncv1.RotateSessionSecretRequest{SessionId: webjs.GetSession().GetId()})
			return err
		},
		func() error {
			_, err := api.Session.UpdateSession(ctx, &chatsyncv1.UpdateSessionRequest{SessionId: webjs.GetSession().GetId(), DisplayName: &name})
			return err
		},
	} {
		if err := call(); connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("on a deleted session: %v", err)
		}
	}
}

func TestSendThroughSidecarTimesOut(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Tune: func(p *server.Params) { p.SendTimeout = 300 * time.Millisecond }})
	tn := newTenant(t, env, "acme", chatsync.ProviderWebJS)
	sess := tn.sessions[0]
	chat := tn.write(t, env, 0, privateChat(1, t0, 0)).Chats[0]
	sidecar := signedSync(env, sess)
	cs := watchCommands(t, t.Context(), sidecar, id(sess.ID))
	cs.attached(t)
	_, err := env.Clients(tn.token).Chat.SendMessage(t.Context(), &chatsyncv1.SendMessageRequest{ChatId: id(chat.ID), Text: "hi"})
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("send to a silent sidecar: %v", err)
	}
	cmd := cs.next(t)
	got, err := env.Store.Command(t.Context(), sess.ID, mustParse(t, cmd.GetCommandId()))
	if err != nil || got.Status != store.CommandFailed {
		t.Fatalf("command after the timeout %+v, %v; want failed", got, err)
	}
	// Too late: the sidecar learns chatsync gave up.
	_, err = sidecar.CompleteCommand(t.Context(), &chatsyncv1.CompleteCommandRequest{SessionId: id(sess.ID), CommandId: cmd.GetCommandId(), MessageId: "late"})
	if connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("late completion: %v", err)
	}
	// A sidecar that reports failure: the send fails with its reason.
	go func() {
		for m := range cs.msgs {
			if c := m.GetCommand(); c.GetSend() != nil {
				_, _ = sidecar.CompleteCommand(t.Context(), &chatsyncv1.CompleteCommandRequest{SessionId: id(sess.ID), CommandId: c.GetCommandId(), Error: "chat not found on the phone"})
			}
		}
	}()
	_, err = env.Clients(tn.token).Chat.SendMessage(t.Context(), &chatsyncv1.SendMessageRequest{ChatId: id(chat.ID), Text: "hi"})
	if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "chat not found on the phone") {
		t.Errorf("send the sidecar failed: %v", err)
	}
}

// A whatsmeow session's new sync config wakes the processes running
// sessions (through Params.WakeSessions), so the limits apply now; a
// display-name change does not.
func TestUpdateSyncConfigWakesSessions(t *testing.T) {
	var wakes atomic.Int32
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Tune: func(p *server.Params) {
		p.WakeSessions = func(context.Context) error { wakes.Add(1); return nil }
	}})
	_, token := env.Workspace(t, "wake")
	api := env.Clients(token)
	created, err := api.Session.CreateSession(t.Context(), &chatsyncv1.CreateSessionRequest{DisplayName: "Phone", Provider: chatsyncv1.Provider_PROVIDER_WHATSMEOW})
	if err != nil {
		t.Fatal(err)
	}
	id := created.GetSession().GetId()
	if _, err := api.Session.UpdateSession(t.Context(), &chatsyncv1.UpdateSessionRequest{SessionId: id, DisplayName: new("Renamed")}); err != nil {
		t.Fatal(err)
	}
	if n := wakes.Load(); n != 0 {
		t.Fatalf("a rename woke the sessions %d times", n)
	}
	if _, err := api.Session.UpdateSession(t.Context(), &chatsyncv1.UpdateSessionRequest{SessionId: id, SyncConfig: &chatsyncv1.SyncConfig{MaxChats: 10}}); err != nil {
		t.Fatal(err)
	}
	if n := wakes.Load(); n != 1 {
		t.Fatalf("a new sync config woke the sessions %d times, want 1", n)
	}
}

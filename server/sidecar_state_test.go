package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/server"
	"github.com/chatsync/chatsync/server/servertest"
	"github.com/chatsync/chatsync/store"
)

// TestSidecarStateIsVisible: a sidecar's reports show in GetSession (state,
// error), GetSessionHealth (with its last sync's unreadable chats), the
// session's status and the session_status events; the answer carries the
// session's sync config, which is also on every WatchCommands message.
func TestSidecarStateIsVisible(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Tune: func(p *server.Params) { p.Heartbeat = 100 * time.Millisecond }})
	tn := newTenant(t, env, "acme", chatsync.ProviderWebJS)
	sess := tn.sessions[0]
	ctx := t.Context()
	api := env.Clients(tn.token)
	sidecar := signedSync(env, sess)
	cfg := chatsync.SyncConfig{MaxChats: 300, SyncWindowDays: 90, MessagesPerChat: 250}
	if _, err := env.Store.UpdateSession(ctx, tn.ws, sess.ID, store.SessionUpdate{SyncConfig: &cfg}); err != nil {
		t.Fatal(err)
	}

	report := func(req *chatsyncv1.ReportSidecarStateRequest) *chatsyncv1.ReportSidecarStateResponse {
		t.Helper()
		req.SessionId = id(sess.ID)
		res, err := sidecar.ReportSidecarState(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := report(&chatsyncv1.ReportSidecarStateRequest{State: chatsyncv1.SidecarState_SIDECAR_STATE_STARTING})
	if c := res.GetSyncConfig(); c.GetMaxChats() != 300 || c.GetSyncWindowDays() != 90 || c.GetMessagesPerChat() != 250 {
		t.Errorf("sync config in the answer %v", c)
	}

	// Cannot reach WhatsApp: the session shows it.
	report(&chatsyncv1.ReportSidecarStateRequest{State: chatsyncv1.SidecarState_SIDECAR_STATE_UNREACHABLE, LastError: "net::ERR_NAME_NOT_RESOLVED at https://web.whatsapp.com/"})
	got, err := api.Session.GetSession(ctx, &chatsyncv1.GetSessionRequest{SessionId: id(sess.ID)})
	if err != nil {
		t.Fatal(err)
	}
	sc := got.GetSession().GetSidecar()
	if sc.GetState() != chatsyncv1.SidecarState_SIDECAR_STATE_UNREACHABLE || !strings.Contains(sc.GetLastError(), "ERR_NAME_NOT_RESOLVED") || sc.GetReportTime() == nil ||
		got.GetSession().GetStatus() != chatsyncv1.SessionStatus_SESSION_STATUS_DISCONNECTED {
		t.Errorf("GetSession after unreachable: status %s, sidecar %v", got.GetSession().GetStatus(), sc)
	}

	// A QR code to scan: pairing.
	report(&chatsyncv1.ReportSidecarStateRequest{State: chatsyncv1.SidecarState_SIDECAR_STATE_QR_WANTED})
	if s, _ := env.Store.SessionByID(ctx, sess.ID); s.Status != chatsync.SessionPairing {
		t.Errorf("status after qr_wanted: %s", s.Status)
	}

	// Ready, with a finished sync that could not read one chat.
	report(&chatsyncv1.ReportSidecarStateRequest{
		State: chatsyncv1.SidecarState_SIDECAR_STATE_READY,
		LastSync: &chatsyncv1.SidecarSyncReport{Total: 120, Synced: 119, UnreadableChatCount: 1, UnreadableChats: []*chatsyncv1.UnreadableChat{
			{ChatJid: "15550000037@s.whatsapp.net", Reason: "Cannot read properties of undefined (reading 'waitForChatLoading')"},
		}},
	})
	h, err := api.Session.GetSessionHealth(ctx, &chatsyncv1.GetSessionHealthRequest{SessionId: id(sess.ID)})
	if err != nil {
		t.Fatal(err)
	}
	sh := h.GetHealth().GetSidecar()
	if sh.GetStatus().GetState() != chatsyncv1.SidecarState_SIDECAR_STATE_READY || sh.GetStatus().GetLastError() != "" ||
		sh.GetLastSyncTotal() != 120 || sh.GetLastSyncSynced() != 119 || sh.GetUnreadableChatCount() != 1 || sh.GetLastSyncTime() == nil ||
		len(sh.GetUnreadableChats()) != 1 || sh.GetUnreadableChats()[0].GetChatJid() != "15550000037@s.whatsapp.net" {
		t.Errorf("GetSessionHealth sidecar %v", sh)
	}

	// Logged out from the phone.
	report(&chatsyncv1.ReportSidecarStateRequest{State: chatsyncv1.SidecarState_SIDECAR_STATE_LOGGED_OUT})
	if s, _ := env.Store.SessionByID(ctx, sess.ID); s.Status != chatsync.SessionLoggedOut || s.Sidecar.State != chatsync.SidecarLoggedOut {
		t.Errorf("after logged_out: status %s, sidecar %+v", s.Status, s.Sidecar)
	}

	var reasons []string
	for _, ev := range publishedEvents(t, env, tn.ws) {
		if ev.Type == chatsync.EventSessionStatus && ev.SessionID == sess.ID {
			reasons = append(reasons, string(ev.Status.Status)+" "+ev.Status.Reason)
		}
	}
	want := []string{
		"pending sidecar starting",
		"disconnected sidecar unreachable: net::ERR_NAME_NOT_RESOLVED at https://web.whatsapp.com/",
		"pairing scan the QR code the sidecar shows (WhatsApp → Settings → Linked devices)",
		"pairing sidecar ready (last sync: 1 of 120 chats could not be read)",
		"logged_out logged out from the phone; the sidecar shows a new QR code to scan",
	}
	if strings.Join(reasons, "\n") != strings.Join(want, "\n") {
		t.Errorf("session_status events:\n%s\nwant\n%s", strings.Join(reasons, "\n"), strings.Join(want, "\n"))
	}

	// The command stream carries the sync config, and a change within a
	// heartbeat.
	cs := watchCommands(t, ctx, sidecar, id(sess.ID))
	first := <-cs.msgs
	if first.GetSyncConfig().GetMessagesPerChat() != 250 {
		t.Errorf("first WatchCommands message sync config %v", first.GetSyncConfig())
	}
	cfg.MessagesPerChat = 40
	if _, err := env.Store.UpdateSession(ctx, tn.ws, sess.ID, store.SessionUpdate{SyncConfig: &cfg}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for changed := false; !changed; {
		select {
		case m := <-cs.msgs:
			changed = m.GetSyncConfig().GetMessagesPerChat() == 40
		case <-deadline:
			t.Fatal("the changed sync config never reached the stream")
		}
	}
}

func TestReportSidecarStateRefusals(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	tn := newTenant(t, env, "acme", chatsync.ProviderWebJS, chatsync.ProviderWhatsmeow, chatsync.ProviderWebJS)
	webjs, wm, other := tn.sessions[0], tn.sessions[1], tn.sessions[2]
	otherTenant := newTenant(t, env, "globex", chatsync.ProviderWebJS)
	ctx := t.Context()
	ready := chatsyncv1.SidecarState_SIDECAR_STATE_READY
	tests := []struct {
		name string
		sync chatsyncv1connectSync
		req  *chatsyncv1.ReportSidecarStateRequest
		want connect.Code
	}{
		{"no state", signedSync(env, webjs), &chatsyncv1.ReportSidecarStateRequest{SessionId: id(webjs.ID)}, connect.CodeInvalidArgument},
		{"unknown state", signedSync(env, webjs), &chatsyncv1.ReportSidecarStateRequest{SessionId: id(webjs.ID), State: 99}, connect.CodeInvalidArgument},
		{"error too long", signedSync(env, webjs), &chatsyncv1.ReportSidecarStateRequest{SessionId: id(webjs.ID), State: ready, LastError: strings.Repeat("x", 1025)}, connect.CodeInvalidArgument},
		{"too many unreadable chats", signedSync(env, webjs), &chatsyncv1.ReportSidecarStateRequest{SessionId: id(webjs.ID), State: ready,
			LastSync: &chatsyncv1.SidecarSyncReport{UnreadableChats: make([]*chatsyncv1.UnreadableChat, 101)}}, connect.CodeInvalidArgument},
		{"a whatsmeow session", env.Clients(tn.token).Sync, &chatsyncv1.ReportSidecarStateRequest{SessionId: id(wm.ID), State: ready}, connect.CodeFailedPrecondition},
		{"signature of another session", signedSync(env, webjs), &chatsyncv1.ReportSidecarStateRequest{SessionId: id(other.ID), State: ready}, connect.CodeUnauthenticated},
		{"token of another workspace", env.Clients(otherTenant.token).Sync, &chatsyncv1.ReportSidecarStateRequest{SessionId: id(webjs.ID), State: ready}, connect.CodeNotFound},
		{"no credentials", env.Clients("").Sync, &chatsyncv1.ReportSidecarStateRequest{SessionId: id(webjs.ID), State: ready}, connect.CodeUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.sync.ReportSidecarState(ctx, tt.req); connect.CodeOf(err) != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
	if s, _ := env.Store.SessionByID(ctx, webjs.ID); s.Sidecar.State != "" {
		t.Errorf("a refused report was recorded: %+v", s.Sidecar)
	}
}

type chatsyncv1connectSync interface {
	ReportSidecarState(ctx context.Context, req *chatsyncv1.ReportSidecarStateRequest) (*chatsyncv1.ReportSidecarStateResponse, error)
}

// TestLoggedOutOutlivesTheStreamsEnd: a sidecar logged out from the phone
// reports it and closes its command stream; whichever reaches chatsync
// first, the session ends logged out, not "disconnected".
func TestLoggedOutOutlivesTheStreamsEnd(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Tune: func(p *server.Params) { p.Heartbeat = 100 * time.Millisecond }})
	tn := newTenant(t, env, "acme", chatsync.ProviderWebJS)
	sess := tn.sessions[0]
	sidecar := signedSync(env, sess)
	status := func() chatsync.SessionStatus {
		s, err := env.Store.SessionByID(t.Context(), sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		return s.Status
	}
	ctx, closeStream := context.WithCancel(t.Context())
	cs := watchCommands(t, ctx, sidecar, id(sess.ID))
	cs.attached(t)
	waitUntil(t, "connected", func() bool { return status() == chatsync.SessionConnected })
	if _, err := sidecar.ReportSidecarState(t.Context(), &chatsyncv1.ReportSidecarStateRequest{
		SessionId: id(sess.ID), State: chatsyncv1.SidecarState_SIDECAR_STATE_LOGGED_OUT, LastError: "logged out from the phone",
	}); err != nil {
		t.Fatal(err)
	}
	closeStream()
	if err := <-cs.errc; err != nil && connect.CodeOf(err) != connect.CodeCanceled {
		t.Fatalf("stream ended with %v, want it cancelled", err)
	}
	// The detach runs when the server sees the stream go; give it time.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if st := status(); st != chatsync.SessionLoggedOut {
			t.Fatalf("status %s after the stream closed, want logged_out kept", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

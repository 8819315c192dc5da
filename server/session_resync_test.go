package server_test

import (
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.mau.fi/whatsmeow/types"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/provider/wa"
	"github.com/chatsync/chatsync/store"
)

// codeOK stands for success in tables of codes.
const codeOK connect.Code = 0

func TestResyncSession(t *testing.T) {
	e := newWAEnv(t, nil, nil)
	tn := newTenant(t, e.Env, "acme", chatsync.ProviderWhatsmeow, chatsync.ProviderWhatsmeow, chatsync.ProviderWebJS)
	owned, unowned, webjs := tn.sessions[0], tn.sessions[1], tn.sessions[2]
	meta := createMeta(t, e, tn.token, metaToken, false)
	oldest := t0.Add(-48 * time.Hour)
	chat := privateChat(1, t0, 0)
	chat.Messages = []chatsync.MessageInput{
		{ID: "3EB0NEWER", Timestamp: t0.Add(-time.Hour), Text: "newer"},
		{ID: "3EB0OLDEST", FromMe: true, Timestamp: oldest, Text: "oldest"},
	}
	tn.write(t, e.Env, 0, chat, privateChat(2, t0.Add(-time.Minute), 0))
	tn.write(t, e.Env, 1, chat)
	o := e.own(t, owned.ID, func(req wa.Request) wa.Response { return wa.Response{} })
	api := e.Clients(tn.token)

	res, err := api.Session.ResyncSession(t.Context(), &chatsyncv1.ResyncSessionRequest{SessionId: id(owned.ID), ChatJid: chat.JID})
	if err != nil {
		t.Fatalf("ResyncSession: %v", err)
	}
	if res.GetCommandId() != "" {
		t.Errorf("command_id %q for whatsmeow", res.GetCommandId())
	}
	reqs := o.requests()
	if len(reqs) != 1 || reqs[0].Kind != wa.RequestHistory || reqs[0].Count != wa.DefaultHistoryCount || len(reqs[0].Anchors) != 1 {
		t.Fatalf("owner got %+v", reqs)
	}
	a := reqs[0].Anchors[0]
	if a.ChatJID != chat.JID || a.MessageID != "3EB0OLDEST" || !a.FromMe || !a.Timestamp.Equal(oldest) {
		t.Errorf("anchor %+v: want the chat's oldest message", a)
	}

	// A real whatsmeow client builds the request from that anchor: an
	// on-demand history request for the chat, before the oldest message.
	info, _ := types.ParseJID(a.ChatJID)
	msg := e.devicesClient(t).BuildHistorySyncRequest(&types.MessageInfo{MessageSource: types.MessageSource{Chat: info, IsFromMe: a.FromMe}, ID: a.MessageID, Timestamp: a.Timestamp}, 50)
	od := msg.GetProtocolMessage().GetPeerDataOperationRequestMessage().GetHistorySyncOnDemandRequest()
	if od.GetChatJID() != chat.JID || od.GetOldestMsgID() != "3EB0OLDEST" || od.GetOldestMsgTimestampMS() != oldest.UnixMilli() {
		t.Errorf("on-demand request %v", od)
	}

	tests := []struct {
		name string
		req  *chatsyncv1.ResyncSessionRequest
		want connect.Code
	}{
		{"whole session: one request per chat with messages", &chatsyncv1.ResyncSessionRequest{SessionId: id(owned.ID)}, codeOK},
		{"no process runs the session", &chatsyncv1.ResyncSessionRequest{SessionId: id(unowned.ID)}, connect.CodeUnavailable},
		{"no stored message to anchor", &chatsyncv1.ResyncSessionRequest{SessionId: id(owned.ID), ChatJid: privateChat(2, t0, 0).JID}, connect.CodeFailedPrecondition},
		{"Meta keeps no history", &chatsyncv1.ResyncSessionRequest{SessionId: id(meta.ID)}, connect.CodeFailedPrecondition},
		{"bad chat JID", &chatsyncv1.ResyncSessionRequest{SessionId: id(owned.ID), ChatJid: "not a jid"}, connect.CodeInvalidArgument},
		{"sidecar: a resync command", &chatsyncv1.ResyncSessionRequest{SessionId: id(webjs.ID), ChatJid: chat.JID}, codeOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := api.Session.ResyncSession(t.Context(), tt.req)
			if got := connect.CodeOf(err); (err != nil || tt.want != codeOK) && got != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
	if reqs := o.requests(); len(reqs) != 2 || len(reqs[1].Anchors) != 1 {
		t.Errorf("whole-session resync sent %+v; want one anchor (the chat without messages has none)", reqs)
	}
	cmds, err := e.Store.OpenCommands(t.Context(), webjs.ID, 0, 10)
	if err != nil || len(cmds) != 1 || cmds[0].Kind != store.CommandResync || cmds[0].ChatJID != chat.JID {
		t.Errorf("sidecar commands %+v, %v", cmds, err)
	}
}

func TestDeleteSession(t *testing.T) {
	e := newWAEnv(t, nil, nil)
	tn := newTenant(t, e.Env, "acme", chatsync.ProviderWhatsmeow, chatsync.ProviderWhatsmeow, chatsync.ProviderWhatsmeow)
	owned, unowned, busy := tn.sessions[0], tn.sessions[1], tn.sessions[2]
	e.linkDevice(t, owned.ID, "15550001111:1@s.whatsapp.net")
	e.linkDevice(t, unowned.ID, "15550002222:2@s.whatsapp.net")
	e.linkDevice(t, busy.ID, "15550003333:3@s.whatsapp.net")
	tn.write(t, e.Env, 0, privateChat(1, t0, 0))
	o := e.own(t, owned.ID, func(req wa.Request) wa.Response { return wa.Response{} })
	if _, _, err := e.Store.AcceptBatch(t.Context(), store.NewBatch{WorkspaceID: tn.ws, SessionID: busy.ID, BatchID: "b1", Kind: chatsync.BatchLive}); err != nil {
		t.Fatal(err)
	}
	api := e.Clients(tn.token)
	del := func(s chatsync.Session) error {
		_, err := api.Session.DeleteSession(t.Context(), &chatsyncv1.DeleteSessionRequest{SessionId: id(s.ID)})
		return err
	}
	device := func(jid string) bool {
		j, _ := types.ParseJID(jid)
		d, err := e.devices.GetDevice(t.Context(), j)
		if err != nil {
			t.Fatal(err)
		}
		return d != nil
	}

	// Refused while a batch is pending: nothing is logged out or removed.
	if err := del(busy); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("delete with a pending batch: %v", err)
	}
	if !device("15550003333:3@s.whatsapp.net") {
		t.Error("the refused delete removed the device")
	}

	// Run by a worker: logged out through it, then removed with its chats.
	if err := del(owned); err != nil {
		t.Fatal(err)
	}
	if reqs := o.requests(); len(reqs) != 1 || reqs[0].Kind != wa.RequestLogout {
		t.Errorf("owner got %+v, want one logout", reqs)
	}
	if device("15550001111:1@s.whatsapp.net") {
		t.Error("device keys left behind")
	}
	if _, err := api.Session.GetSession(t.Context(), &chatsyncv1.GetSessionRequest{SessionId: id(owned.ID)}); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("deleted session: %v", err)
	}
	if ok, _ := e.Store.HasChat(t.Context(), owned.ID, privateChat(1, t0, 0).JID); ok {
		t.Error("chats of the deleted session remain")
	}

	// Run by no one: the device keys go all the same.
	if err := del(unowned); err != nil {
		t.Fatal(err)
	}
	if device("15550002222:2@s.whatsapp.net") {
		t.Error("device keys left behind")
	}
}

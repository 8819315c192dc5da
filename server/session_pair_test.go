package server_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/provider/wa"
	"github.com/chatsync/chatsync/server/servertest"
)

// pairStream is an open PairSession stream.
type pairStream struct {
	msgs chan *chatsyncv1.PairSessionResponse
	errc chan error
}

func pair(t *testing.T, ctx context.Context, c servertest.Clients, req *chatsyncv1.PairSessionRequest) *pairStream {
	t.Helper()
	st, err := c.Session.PairSession(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	ps := &pairStream{msgs: make(chan *chatsyncv1.PairSessionResponse, 16), errc: make(chan error, 1)}
	go func() {
		defer st.Close()
		for st.Receive() {
			ps.msgs <- st.Msg()
		}
		ps.errc <- st.Err()
	}()
	return ps
}

func (ps *pairStream) next(t *testing.T) *chatsyncv1.PairSessionResponse {
	t.Helper()
	select {
	case m := <-ps.msgs:
		return m
	case err := <-ps.errc:
		t.Fatalf("pairing stream ended: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a pairing step")
	}
	return nil
}

func (ps *pairStream) end(t *testing.T) error {
	t.Helper()
	select {
	case err := <-ps.errc:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("pairing stream did not end")
	}
	return nil
}

func TestPairSession(t *testing.T) {
	tests := []struct {
		name  string
		phone string
		first func(*chatsyncv1.PairSessionResponse) bool
	}{
		{"QR codes", "", func(m *chatsyncv1.PairSessionResponse) bool {
			return m.GetQrCode().GetCode() == "2@first,abc" && m.GetQrCode().GetExpireTime().AsTime().After(time.Now())
		}},
		{"phone code", "+1 555-000-1111", func(m *chatsyncv1.PairSessionResponse) bool { return m.GetPhoneCode().GetCode() == "ABCD-EFGH" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			whatsapp := newFakeWhatsApp("2@first,abc", "2@second,def")
			e := newWAEnv(t, whatsapp, nil)
			tn := newTenant(t, e.Env, "acme", chatsync.ProviderWhatsmeow)
			sess := tn.sessions[0]
			api := e.Clients(tn.token)
			ps := pair(t, t.Context(), api, &chatsyncv1.PairSessionRequest{SessionId: id(sess.ID), PhoneNumber: tt.phone})
			if m := ps.next(t); !tt.first(m) {
				t.Fatalf("first step %v", m)
			}
			if got := sessionStatus(t, e.Env, sess.ID).Status; got != chatsync.SessionPairing {
				t.Errorf("status while pairing %s", got)
			}
			if h, _ := wa.Holder(t.Context(), e.Redis, sess.ID); h == "" {
				t.Error("the pairing server holds no lease")
			}
			phoneLinks(t, whatsapp.client(t), "15550001111:12@s.whatsapp.net", "Front desk")
			m := ps.next(t)
			if m.GetSuccess().GetJid() != "15550001111@s.whatsapp.net" || m.GetSuccess().GetPushName() != "Front desk" {
				t.Fatalf("final step %v", m)
			}
			if err := ps.end(t); err != nil {
				t.Fatalf("stream: %v", err)
			}
			got := sessionStatus(t, e.Env, sess.ID)
			if got.JID != "15550001111@s.whatsapp.net" || got.PushName != "Front desk" || got.Status != chatsync.SessionDisconnected {
				t.Errorf("session after pairing %+v", got)
			}
			if jid, _ := e.Store.DeviceJID(t.Context(), sess.ID); jid != "15550001111:12@s.whatsapp.net" {
				t.Errorf("device %q", jid)
			}
			if h, _ := wa.Holder(t.Context(), e.Redis, sess.ID); h != "" {
				t.Errorf("lease still held by %q: no worker could take the session over", h)
			}
			// Already paired.
			again := pair(t, t.Context(), api, &chatsyncv1.PairSessionRequest{SessionId: id(sess.ID)})
			if err := again.end(t); connect.CodeOf(err) != connect.CodeFailedPrecondition {
				t.Errorf("pairing again: %v, want failed_precondition", err)
			}
		})
	}
}

func TestPairSessionCancel(t *testing.T) {
	whatsapp := newFakeWhatsApp("2@first,abc")
	e := newWAEnv(t, whatsapp, nil)
	tn := newTenant(t, e.Env, "acme", chatsync.ProviderWhatsmeow)
	sess := tn.sessions[0]
	ctx, cancel := context.WithCancel(t.Context())
	ps := pair(t, ctx, e.Clients(tn.token), &chatsyncv1.PairSessionRequest{SessionId: id(sess.ID)})
	if m := ps.next(t); m.GetQrCode() == nil {
		t.Fatalf("first step %v", m)
	}
	cancel()
	if err := ps.end(t); connect.CodeOf(err) != connect.CodeCanceled {
		t.Errorf("stream after cancel: %v", err)
	}
	waitUntil(t, "pairing to be cancelled", func() bool {
		h, _ := wa.Holder(t.Context(), e.Redis, sess.ID)
		return h == "" && sessionStatus(t, e.Env, sess.ID).Status == chatsync.SessionPending
	})
	if jid, _ := e.Store.DeviceJID(t.Context(), sess.ID); jid != "" {
		t.Errorf("device %q linked by a cancelled pairing", jid)
	}
	if all, _ := e.devices.GetAllDevices(t.Context()); len(all) != 0 {
		t.Errorf("%d devices left by a cancelled pairing", len(all))
	}
}

func TestPairSessionRefusals(t *testing.T) {
	e := newWAEnv(t, newFakeWhatsApp("2@x"), nil)
	tn := newTenant(t, e.Env, "acme", chatsync.ProviderWebJS, chatsync.ProviderWhatsmeow, chatsync.ProviderWhatsmeow)
	if ok, _ := wa.NewLeases(e.Redis, "worker-x", time.Minute).Acquire(t.Context(), tn.sessions[2].ID); !ok {
		t.Fatal("could not take the lease")
	}
	tests := []struct {
		name string
		req  *chatsyncv1.PairSessionRequest
		want connect.Code
	}{
		{"sidecar session", &chatsyncv1.PairSessionRequest{SessionId: id(tn.sessions[0].ID)}, connect.CodeFailedPrecondition},
		{"bad phone number", &chatsyncv1.PairSessionRequest{SessionId: id(tn.sessions[1].ID), PhoneNumber: "call me"}, connect.CodeInvalidArgument},
		{"national phone number", &chatsyncv1.PairSessionRequest{SessionId: id(tn.sessions[1].ID), PhoneNumber: "0812 345 678"}, connect.CodeInvalidArgument},
		{"another process runs it", &chatsyncv1.PairSessionRequest{SessionId: id(tn.sessions[2].ID)}, connect.CodeFailedPrecondition},
		{"unknown session", &chatsyncv1.PairSessionRequest{SessionId: "999999"}, connect.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := pair(t, t.Context(), e.Clients(tn.token), tt.req)
			if err := ps.end(t); connect.CodeOf(err) != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
	t.Run("whatsmeow off", func(t *testing.T) {
		env := servertest.New(t, servertest.Options{RedisDB: redisDB})
		tn := newTenant(t, env, "acme", chatsync.ProviderWhatsmeow)
		ps := pair(t, t.Context(), env.Clients(tn.token), &chatsyncv1.PairSessionRequest{SessionId: id(tn.sessions[0].ID)})
		if err := ps.end(t); connect.CodeOf(err) != connect.CodeFailedPrecondition {
			t.Errorf("got %v, want failed_precondition", err)
		}
	})
}

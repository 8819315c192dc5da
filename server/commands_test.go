package server_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/server"
	"github.com/chatsync/chatsync/server/servertest"
)

// commandStream is an open WatchCommands stream.
type commandStream struct {
	msgs chan *chatsyncv1.WatchCommandsResponse
	errc chan error
}

func watchCommands(t *testing.T, ctx context.Context, c interface {
	WatchCommands(context.Context, *chatsyncv1.WatchCommandsRequest) (*connect.ServerStreamForClient[chatsyncv1.WatchCommandsResponse], error)
}, sessionID string) *commandStream {
	t.Helper()
	st, err := c.WatchCommands(ctx, &chatsyncv1.WatchCommandsRequest{SessionId: sessionID})
	if err != nil {
		t.Fatal(err)
	}
	cs := &commandStream{msgs: make(chan *chatsyncv1.WatchCommandsResponse, 64), errc: make(chan error, 1)}
	go func() {
		defer st.Close()
		for st.Receive() {
			cs.msgs <- st.Msg()
		}
		cs.errc <- st.Err()
	}()
	return cs
}

// next returns the next command, skipping heartbeats.
func (cs *commandStream) next(t *testing.T) *chatsyncv1.SidecarCommand {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-cs.msgs:
			if m.GetCommand() != nil {
				return m.GetCommand()
			}
		case err := <-cs.errc:
			t.Fatalf("stream ended: %v", err)
		case <-deadline:
			t.Fatal("timed out waiting for a command")
		}
	}
}

// attached waits for the first heartbeat: the stream is registered.
func (cs *commandStream) attached(t *testing.T) {
	t.Helper()
	select {
	case m := <-cs.msgs:
		if m.GetCommand() != nil {
			t.Fatalf("first message is a command, want the heartbeat: %v", m)
		}
	case err := <-cs.errc:
		t.Fatalf("stream ended: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for the first heartbeat")
	}
}

func TestWatchCommandsDeliversOpenThenNewCommands(t *testing.T) {
	for _, proto := range servertest.Protocols {
		t.Run(proto.Name, func(t *testing.T) {
			env := servertest.New(t, servertest.Options{RedisDB: redisDB, Tune: func(p *server.Params) { p.Heartbeat = 200 * time.Millisecond }})
			tn := newTenant(t, env, "acme", chatsync.ProviderWebJS)
			sess := tn.sessions[0]
			api := env.Clients(tn.token, proto.Opts...)
			ctx := t.Context()

			// Issued before any sidecar listens: delivered first.
			res, err := api.Session.ResyncSession(ctx, &chatsyncv1.ResyncSessionRequest{SessionId: id(sess.ID)})
			if err != nil {
				t.Fatal(err)
			}
			if res.GetCommandId() == "" {
				t.Fatal("no command_id for a sidecar resync")
			}
			sidecar := signedSync(env, sess, proto.Opts...)
			wctx, stop := context.WithCancel(ctx)
			cs := watchCommands(t, wctx, sidecar, id(sess.ID))
			cs.attached(t)
			if got := sessionStatus(t, env, sess.ID).Status; got != chatsync.SessionConnected {
				t.Errorf("status with a stream open = %s, want connected", got)
			}
			first := cs.next(t)
			if first.GetCommandId() != res.GetCommandId() || first.GetResync() == nil || first.GetResync().GetChatJid() != "" || first.GetCreateTime() == nil {
				t.Fatalf("first command = %v", first)
			}
			// Issued while it listens: delivered at once.
			res2, err := api.Session.ResyncSession(ctx, &chatsyncv1.ResyncSessionRequest{SessionId: id(sess.ID), ChatJid: "15551234567@s.whatsapp.net"})
			if err != nil {
				t.Fatal(err)
			}
			second := cs.next(t)
			if second.GetCommandId() != res2.GetCommandId() || second.GetResync().GetChatJid() != "15551234567@s.whatsapp.net" {
				t.Fatalf("second command = %v", second)
			}

			complete := func(cmd, errMsg, msgID string) error {
				_, err := sidecar.CompleteCommand(ctx, &chatsyncv1.CompleteCommandRequest{SessionId: id(sess.ID), CommandId: cmd, Error: errMsg, MessageId: msgID})
				return err
			}
			if err := complete(first.GetCommandId(), "", ""); err != nil {
				t.Fatalf("CompleteCommand: %v", err)
			}
			if err := complete(first.GetCommandId(), "", ""); err != nil {
				t.Errorf("CompleteCommand retried with the same outcome: %v", err)
			}
			for _, tt := range []struct {
				name, cmd, errMsg string
				want              connect.Code
			}{
				{"other outcome", first.GetCommandId(), "boom", connect.CodeFailedPrecondition},
				{"unknown command", "999999", "", connect.CodeNotFound},
				{"not a command ID", "abc", "", connect.CodeInvalidArgument},
			} {
				if err := complete(tt.cmd, tt.errMsg, ""); connect.CodeOf(err) != tt.want {
					t.Errorf("%s: %v, want %s", tt.name, err, tt.want)
				}
			}
			if err := complete(second.GetCommandId(), "phone offline", ""); err != nil {
				t.Fatal(err)
			}

			// Closing the stream detaches the sidecar.
			stop()
			waitUntil(t, "disconnected", func() bool { return sessionStatus(t, env, sess.ID).Status == chatsync.SessionDisconnected })
			// The event is published after the status is stored: wait for it too.
			var statuses []chatsync.SessionStatus
			waitUntil(t, "two session_status events", func() bool {
				statuses = statuses[:0]
				for _, ev := range publishedEvents(t, env, tn.ws) {
					if ev.Type == chatsync.EventSessionStatus {
						statuses = append(statuses, ev.Status.Status)
					}
				}
				return len(statuses) >= 2
			})
			if len(statuses) != 2 || statuses[0] != chatsync.SessionConnected || statuses[1] != chatsync.SessionDisconnected {
				t.Errorf("session_status events %v, want connected then disconnected", statuses)
			}
		})
	}
}

func TestWatchCommandsRedeliversOpenCommandsAndHeartbeats(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Tune: func(p *server.Params) { p.Heartbeat = 50 * time.Millisecond }})
	tn := newTenant(t, env, "acme", chatsync.ProviderWebJS)
	sess := tn.sessions[0]
	api := env.Clients(tn.token)
	res, err := api.Session.ResyncSession(t.Context(), &chatsyncv1.ResyncSessionRequest{SessionId: id(sess.ID)})
	if err != nil {
		t.Fatal(err)
	}
	// Two sidecars (an API token works as well as the signature): both get
	// the open command, the session stays connected until both leave.
	ctxA, stopA := context.WithCancel(t.Context())
	a := watchCommands(t, ctxA, api.Sync, id(sess.ID))
	a.attached(t)
	b := watchCommands(t, t.Context(), signedSync(env, sess), id(sess.ID))
	b.attached(t)
	for _, cs := range []*commandStream{a, b} {
		if got := cs.next(t); got.GetCommandId() != res.GetCommandId() {
			t.Errorf("command %v, want %s", got, res.GetCommandId())
		}
	}
	// Heartbeats keep coming while idle.
	for range 2 {
		select {
		case m := <-b.msgs:
			if m.GetCommand() != nil {
				t.Fatalf("unexpected command %v", m)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no heartbeat")
		}
	}
	stopA()
	if err := <-a.errc; err != nil && connect.CodeOf(err) != connect.CodeCanceled {
		t.Errorf("stream A ended with %v, want its cancellation", err)
	}
	if got := sessionStatus(t, env, sess.ID).Status; got != chatsync.SessionConnected {
		t.Errorf("status with one stream left = %s, want connected", got)
	}
}

func TestCommandChannelRefusals(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	tn := newTenant(t, env, "acme", chatsync.ProviderWebJS, chatsync.ProviderWhatsmeow, chatsync.ProviderWebJS)
	webjs, wm, other := tn.sessions[0], tn.sessions[1], tn.sessions[2]
	api := env.Clients(tn.token)
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
		want connect.Code
	}{
		{"watch a whatsmeow session", func() error {
			cs := watchCommands(t, ctx, api.Sync, id(wm.ID))
			return <-cs.errc
		}, connect.CodeFailedPrecondition},
		{"complete on a whatsmeow session", func() error {
			_, err := api.Sync.CompleteCommand(ctx, &chatsyncv1.CompleteCommandRequest{SessionId: id(wm.ID), CommandId: "1"})
			return err
		}, connect.CodeFailedPrecondition},
		{"signature of another session", func() error {
			cs := watchCommands(t, ctx, signedSync(env, webjs), id(other.ID))
			return <-cs.errc
		}, connect.CodeUnauthenticated},
		{"unknown session", func() error {
			_, err := api.Sync.CompleteCommand(ctx, &chatsyncv1.CompleteCommandRequest{SessionId: "999999", CommandId: "1"})
			return err
		}, connect.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); connect.CodeOf(err) != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
}

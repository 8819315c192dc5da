package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/store"
)

// Sidecars is the command channel to sidecar (webjs) sessions:
// provider/sidecar's Channel, wired by cmd/chatsync. The server serves its
// two RPCs (WatchCommands, CompleteCommand) and issues resync and send
// commands through it.
type Sidecars interface {
	chatsync.Sender
	Issue(ctx context.Context, sess chatsync.Session, kind store.CommandKind, chatJID, text string) (store.Command, error)
	Watch(ctx context.Context, sess chatsync.Session, deliver func(*store.Command) error) error
	Complete(ctx context.Context, sessionID, id int64, errMsg, messageID string) (store.Command, error)
	Report(ctx context.Context, sess chatsync.Session, r store.SidecarReport) (chatsync.Session, error)
}

// commandStore is what the command RPCs need of the store.
type commandStore interface {
	Session(ctx context.Context, workspaceID, id int64) (chatsync.Session, error)
}

// eventPublisher publishes realtime events.
type eventPublisher interface {
	Publish(ctx context.Context, evs ...chatsync.Event) ([]string, error)
}

// errNoSidecars answers the command channel's calls on a server without
// one.
var errNoSidecars = connect.NewError(connect.CodeUnavailable, errors.New("the sidecar command channel is not enabled on this server"))

// commandServer serves SyncService.WatchCommands and CompleteCommand.
type commandServer struct {
	store   commandStore
	channel Sidecars // nil: no command channel on this server
}

// sidecarSession resolves the session a sidecar call names: with a
// signature it must be the signing session; with an API token, a session
// of the token's workspace. Another workspace's session is not_found.
func (s *commandServer) sidecarSession(ctx context.Context, raw string) (chatsync.Session, error) {
	sess, err := callerSession(ctx, s.store, raw)
	if err != nil {
		return sess, toConnect(err)
	}
	if sess.Provider != chatsync.ProviderWebJS {
		return sess, connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("the command channel is for sidecar sessions (PROVIDER_WEBJS); this session's provider is %s", sess.Provider))
	}
	return sess, nil
}

// WatchCommands streams a sidecar session's commands: a heartbeat (an
// empty message) first and then every idle interval, each open command
// until it is completed.
func (s *commandServer) WatchCommands(ctx context.Context, req *chatsyncv1.WatchCommandsRequest, stream *connect.ServerStream[chatsyncv1.WatchCommandsResponse]) error {
	sess, err := s.sidecarSession(ctx, req.GetSessionId())
	if err != nil {
		return err
	}
	if s.channel == nil {
		return errNoSidecars
	}
	err = s.channel.Watch(ctx, sess, func(c *store.Command) error {
		// Each message carries the session's sync config as it is now, so
		// a change reaches the sidecar within a heartbeat.
		if now, err := s.store.Session(ctx, sess.WorkspaceID, sess.ID); err == nil {
			sess = now
		}
		msg := &chatsyncv1.WatchCommandsResponse{SyncConfig: syncConfigToProto(sess.SyncConfig)}
		if c != nil {
			msg.Command = commandToProto(*c)
		}
		return stream.Send(msg)
	})
	return streamEnd(ctx, err)
}

// ReportSidecarState records a sidecar's state and answers with the
// session's sync config.
func (s *commandServer) ReportSidecarState(ctx context.Context, req *chatsyncv1.ReportSidecarStateRequest) (*chatsyncv1.ReportSidecarStateResponse, error) {
	sess, err := s.sidecarSession(ctx, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	if s.channel == nil {
		return nil, errNoSidecars
	}
	r := store.SidecarReport{State: sidecarStateFromProto(req.GetState()), LastError: req.GetLastError()}
	if ls := req.GetLastSync(); ls != nil {
		r.Sync = &store.SidecarSync{Total: ls.GetTotal(), Synced: ls.GetSynced(), UnreadableCount: ls.GetUnreadableChatCount()}
		for _, c := range ls.GetUnreadableChats() {
			r.Sync.Unreadable = append(r.Sync.Unreadable, store.UnreadableChat{JID: c.GetChatJid(), Reason: c.GetReason()})
		}
	}
	sess, err = s.channel.Report(ctx, sess, r)
	if err != nil {
		return nil, toConnect(err)
	}
	return &chatsyncv1.ReportSidecarStateResponse{SyncConfig: syncConfigToProto(sess.SyncConfig)}, nil
}

// streamEnd is how a command stream ends on err: quietly when the client
// went away, unavailable otherwise (the sidecar reconnects).
func streamEnd(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		return nil
	}
	return unavailable("commands cannot be delivered right now; reconnect", err)
}

// CompleteCommand records a command's outcome. Completing a command again
// with the same outcome is accepted (a retried call); with another outcome,
// or after chatsync gave up on it, it is failed_precondition.
func (s *commandServer) CompleteCommand(ctx context.Context, req *chatsyncv1.CompleteCommandRequest) (*chatsyncv1.CompleteCommandResponse, error) {
	sess, err := s.sidecarSession(ctx, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	id, err := strconv.ParseInt(req.GetCommandId(), 10, 64)
	if err != nil || id <= 0 {
		return nil, invalidArgument("command_id: not a command ID")
	}
	if s.channel == nil {
		return nil, errNoSidecars
	}
	cmd, err := s.channel.Complete(ctx, sess.ID, id, req.GetError(), req.GetMessageId())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, notFound("command")
	case errors.Is(err, store.ErrBusy):
		same := (cmd.Status == store.CommandDone && req.GetError() == "" && cmd.MessageID == req.GetMessageId()) ||
			(cmd.Status == store.CommandFailed && req.GetError() == cmd.Error)
		if same {
			return &chatsyncv1.CompleteCommandResponse{}, nil
		}
		msg := "the command is already " + string(cmd.Status)
		if cmd.Error != "" {
			msg += ": " + cmd.Error
		}
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New(msg))
	case err != nil:
		return nil, toConnect(err)
	}
	return &chatsyncv1.CompleteCommandResponse{}, nil
}

func commandToProto(c store.Command) *chatsyncv1.SidecarCommand {
	out := &chatsyncv1.SidecarCommand{CommandId: strconv.FormatInt(c.ID, 10), CreateTime: ts(c.CreatedAt)}
	switch c.Kind {
	case store.CommandResync:
		out.Command = &chatsyncv1.SidecarCommand_Resync{Resync: &chatsyncv1.ResyncCommand{ChatJid: c.ChatJID}}
	case store.CommandSend:
		out.Command = &chatsyncv1.SidecarCommand_Send{Send: &chatsyncv1.SendCommand{ChatJid: c.ChatJID, Text: c.Text}}
	}
	return out
}

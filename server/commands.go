package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"github.com/redis/go-redis/v9"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/store"
)

// The sidecar command channel. chatsync asks a sidecar session (webjs) for
// work by inserting a sidecar_commands row; the sidecar holds a
// WatchCommands stream open, which delivers the session's open commands
// first and then each new one as it is issued (a Redis message on the
// session's wake channel reaches whichever server replica holds the
// stream); the sidecar reports each outcome with CompleteCommand, which
// wakes whoever waits for it (SendMessage) through the session's done
// channel. A command stays open, and is delivered again on the next
// stream, until it is completed: delivery is at least once.
//
// While at least one stream of a session is open the sidecar counts as
// attached: each stream keeps a member in the session's presence set (a
// Redis sorted set scored by expiry, refreshed with every heartbeat), and
// the session's status becomes connected when the first stream opens and
// disconnected when the last one closes.

// commandStore is what the command channel needs of the store.
type commandStore interface {
	Session(ctx context.Context, workspaceID, id int64) (chatsync.Session, error)
	CreateCommand(ctx context.Context, nc store.NewCommand) (store.Command, error)
	OpenCommands(ctx context.Context, sessionID, afterID int64, limit int) ([]store.Command, error)
	Command(ctx context.Context, sessionID, id int64) (store.Command, error)
	CompleteCommand(ctx context.Context, sessionID, id int64, errMsg, messageID string) (store.Command, error)
	SetSessionStatus(ctx context.Context, id int64, st chatsync.SessionStatus, jid, pushName string, banExpire time.Time) (chatsync.Session, error)
}

// eventPublisher publishes realtime events.
type eventPublisher interface {
	Publish(ctx context.Context, evs ...chatsync.Event) ([]string, error)
}

func sidecarKey(sessionID int64, what string) string {
	return "chatsync:sidecar:{" + strconv.FormatInt(sessionID, 10) + "}:" + what
}

// sidecarChannel issues commands to sidecars and tracks their presence.
type sidecarChannel struct {
	store     commandStore
	rdb       redis.UniversalClient
	pub       eventPublisher
	log       *slog.Logger
	heartbeat time.Duration
	now       func() time.Time
}

// commandBatch is how many open commands one store read delivers.
const commandBatch = 100

// issue creates an open command and wakes the session's streams.
func (c *sidecarChannel) issue(ctx context.Context, sess chatsync.Session, kind store.CommandKind, chatJID, text string) (store.Command, error) {
	cmd, err := c.store.CreateCommand(ctx, store.NewCommand{WorkspaceID: sess.WorkspaceID, SessionID: sess.ID, Kind: kind, ChatJID: chatJID, Text: text})
	if err != nil {
		return cmd, err
	}
	if err := c.rdb.Publish(ctx, sidecarKey(sess.ID, "wake"), strconv.FormatInt(cmd.ID, 10)).Err(); err != nil {
		// The command is stored: the next stream, or this one's next
		// heartbeat, delivers it.
		c.log.WarnContext(ctx, "wake sidecar streams", slog.Int64("session_id", sess.ID), slog.String("error", err.Error()))
	}
	return cmd, nil
}

// presenceTTL is how long a stream counts as open without a heartbeat.
func (c *sidecarChannel) presenceTTL() time.Duration { return 3 * c.heartbeat }

// attached reports whether a sidecar holds a WatchCommands stream of the
// session open now.
func (c *sidecarChannel) attached(ctx context.Context, sessionID int64) (bool, error) {
	n, err := c.rdb.ZCount(ctx, sidecarKey(sessionID, "presence"), strconv.FormatInt(c.now().UnixMilli(), 10), "+inf").Result()
	if err != nil {
		return false, fmt.Errorf("sidecar presence of session %d: %w", sessionID, err)
	}
	return n > 0, nil
}

// attach registers a stream; first reports whether it is the only one.
func (c *sidecarChannel) attach(ctx context.Context, sessionID int64, streamID string) (first bool, err error) {
	key := sidecarKey(sessionID, "presence")
	now := c.now()
	pipe := c.rdb.TxPipeline()
	pipe.ZRemRangeByScore(ctx, key, "-inf", "("+strconv.FormatInt(now.UnixMilli(), 10))
	pipe.ZAdd(ctx, key, redis.Z{Score: float64(now.Add(c.presenceTTL()).UnixMilli()), Member: streamID})
	card := pipe.ZCard(ctx, key)
	pipe.PExpire(ctx, key, c.presenceTTL())
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("attach sidecar stream: %w", err)
	}
	return card.Val() == 1, nil
}

// detach removes a stream; last reports whether no other one is open.
func (c *sidecarChannel) detach(ctx context.Context, sessionID int64, streamID string) (last bool, err error) {
	key := sidecarKey(sessionID, "presence")
	pipe := c.rdb.TxPipeline()
	pipe.ZRem(ctx, key, streamID)
	pipe.ZRemRangeByScore(ctx, key, "-inf", "("+strconv.FormatInt(c.now().UnixMilli(), 10))
	card := pipe.ZCard(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("detach sidecar stream: %w", err)
	}
	return card.Val() == 0, nil
}

// setStatus records and publishes a sidecar session's connection state.
func (c *sidecarChannel) setStatus(ctx context.Context, sessionID int64, st chatsync.SessionStatus, reason string) {
	sess, err := c.store.SetSessionStatus(ctx, sessionID, st, "", "", time.Time{})
	if err != nil {
		c.log.ErrorContext(ctx, "set sidecar session status", slog.Int64("session_id", sessionID), slog.String("error", err.Error()))
		return
	}
	ev := chatsync.Event{
		Type: chatsync.EventSessionStatus, WorkspaceID: sess.WorkspaceID, SessionID: sess.ID, Time: c.now().UTC(),
		Status: &chatsync.SessionStatusEvent{Status: st, Reason: reason},
	}
	if _, err := c.pub.Publish(ctx, ev); err != nil {
		c.log.WarnContext(ctx, "publish session status", slog.Int64("session_id", sessionID), slog.String("error", err.Error()))
	}
}

// errNotAttached: no sidecar holds a WatchCommands stream of the session.
var errNotAttached = errors.New("no sidecar is attached (no WatchCommands stream is open)")

// errCommandTimeout: the sidecar did not complete the command in time.
var errCommandTimeout = errors.New("the sidecar did not complete the command in time")

// sendAndWait issues a send command and waits for its outcome; on timeout
// the command is failed, so a late sidecar does not send it after chatsync
// gave up (its CompleteCommand is then refused).
func (c *sidecarChannel) sendAndWait(ctx context.Context, sess chatsync.Session, chatJID, text string, timeout time.Duration) (string, error) {
	ok, err := c.attached(ctx, sess.ID)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errNotAttached
	}
	// Subscribed before issuing, so the completion cannot slip past.
	sub := c.rdb.Subscribe(ctx, sidecarKey(sess.ID, "done"))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		return "", fmt.Errorf("subscribe to command outcomes: %w", err)
	}
	cmd, err := c.issue(ctx, sess, store.CommandSend, chatJID, text)
	if err != nil {
		return "", err
	}
	want := strconv.FormatInt(cmd.ID, 10)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	// A slow poll covers a completion whose message was lost.
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	msgs := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			c.abandon(context.WithoutCancel(ctx), cmd, "the caller went away")
			return "", ctx.Err()
		case <-deadline.C:
			got, err := c.abandon(context.WithoutCancel(ctx), cmd, "timed out after "+timeout.String())
			if err == nil && got.Status == store.CommandDone {
				return got.MessageID, nil // completed at the last moment
			}
			return "", errCommandTimeout
		case m, ok := <-msgs:
			if !ok {
				msgs = nil // closed: the poll carries on
				continue
			}
			if m.Payload != want {
				continue
			}
		case <-poll.C:
		}
		got, err := c.store.Command(ctx, sess.ID, cmd.ID)
		if err != nil {
			return "", err
		}
		switch got.Status {
		case store.CommandDone:
			return got.MessageID, nil
		case store.CommandFailed:
			return "", fmt.Errorf("the sidecar could not send: %s", got.Error)
		}
	}
}

// abandon fails an open command; when it was completed meanwhile, it
// returns the command as completed.
func (c *sidecarChannel) abandon(ctx context.Context, cmd store.Command, reason string) (store.Command, error) {
	got, err := c.store.CompleteCommand(ctx, cmd.SessionID, cmd.ID, "chatsync gave up: "+reason, "")
	if errors.Is(err, store.ErrBusy) {
		return got, nil
	}
	return got, err
}

// commandServer serves SyncService.WatchCommands and CompleteCommand.
type commandServer struct {
	store   commandStore
	channel *sidecarChannel
	log     *slog.Logger
	newID   func() string
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

// WatchCommands streams a sidecar session's commands.
func (s *commandServer) WatchCommands(ctx context.Context, req *chatsyncv1.WatchCommandsRequest, stream *connect.ServerStream[chatsyncv1.WatchCommandsResponse]) error {
	sess, err := s.sidecarSession(ctx, req.GetSessionId())
	if err != nil {
		return err
	}
	log := s.log.With(slog.Int64("workspace_id", sess.WorkspaceID), slog.Int64("session_id", sess.ID))
	// Subscribed before the first read of open commands, so a command
	// issued in between is not missed.
	wake := s.channel.rdb.Subscribe(ctx, sidecarKey(sess.ID, "wake"))
	defer wake.Close()
	if _, err := wake.Receive(ctx); err != nil {
		return unavailable("the command stream is unavailable right now; retry", fmt.Errorf("subscribe to commands: %w", err))
	}
	streamID := s.newID()
	first, err := s.channel.attach(ctx, sess.ID, streamID)
	if err != nil {
		return connect.NewError(connect.CodeUnavailable, err)
	}
	if first {
		s.channel.setStatus(ctx, sess.ID, chatsync.SessionConnected, "sidecar attached")
	}
	log.InfoContext(ctx, "sidecar attached")
	defer func() {
		ctx := context.WithoutCancel(ctx)
		last, err := s.channel.detach(ctx, sess.ID, streamID)
		if err != nil {
			log.WarnContext(ctx, "detach sidecar stream", slog.String("error", err.Error()))
			return
		}
		if last {
			s.channel.setStatus(ctx, sess.ID, chatsync.SessionDisconnected, "sidecar detached")
		}
		log.InfoContext(ctx, "sidecar detached")
	}()
	// A heartbeat first sends the headers: the sidecar knows it is
	// attached before the first command.
	if err := stream.Send(&chatsyncv1.WatchCommandsResponse{}); err != nil {
		return nil
	}
	var last int64
	deliver := func() error {
		for {
			cmds, err := s.store.OpenCommands(ctx, sess.ID, last, commandBatch)
			if err != nil {
				return err
			}
			for _, c := range cmds {
				if err := stream.Send(&chatsyncv1.WatchCommandsResponse{Command: commandToProto(c)}); err != nil {
					return err
				}
				last = c.ID
			}
			if len(cmds) < commandBatch {
				return nil
			}
		}
	}
	if err := deliver(); err != nil {
		return streamEnd(ctx, err)
	}
	t := time.NewTicker(s.channel.heartbeat)
	defer t.Stop()
	wakes := wake.Channel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-wakes:
			if !ok {
				wakes = nil // closed: heartbeats still deliver
				continue
			}
			if err := deliver(); err != nil {
				return streamEnd(ctx, err)
			}
		case <-t.C:
			if _, err := s.channel.attach(ctx, sess.ID, streamID); err != nil {
				log.WarnContext(ctx, "refresh sidecar presence", slog.String("error", err.Error()))
			}
			// Also catches a command whose wake-up was lost.
			if err := deliver(); err != nil {
				return streamEnd(ctx, err)
			}
			if err := stream.Send(&chatsyncv1.WatchCommandsResponse{}); err != nil {
				return nil
			}
		}
	}
}

// streamEnd is how a command stream ends on err: quietly when the client
// went away, unavailable otherwise (the sidecar reconnects).
func streamEnd(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return unavailable("commands cannot be delivered right now; reconnect", fmt.Errorf("deliver commands: %w", err))
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
	cmd, err := s.store.CompleteCommand(ctx, sess.ID, id, req.GetError(), req.GetMessageId())
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
	if err := s.channel.rdb.Publish(ctx, sidecarKey(sess.ID, "done"), strconv.FormatInt(cmd.ID, 10)).Err(); err != nil {
		s.log.WarnContext(ctx, "announce command outcome; waiters poll", slog.Int64("session_id", sess.ID), slog.String("error", err.Error()))
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

func newStreamID() string { return rand.Text() }

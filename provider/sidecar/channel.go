// Package sidecar is the command channel to sidecar sessions (webjs):
// how chatsync asks an external sidecar for work and learns the outcome.
//
// chatsync issues a command by inserting a sidecar_commands row; the
// sidecar holds a WatchCommands stream open (served by package server
// through Channel.Watch), which delivers the session's open commands first
// and then each new one as it is issued (a Redis message on the session's
// wake channel reaches whichever server replica holds the stream); the
// sidecar reports each outcome with CompleteCommand (Channel.Complete),
// which wakes whoever waits for it (Channel.Send) through the session's
// done channel. A command stays open, and is delivered again on the next
// stream, until it is completed: delivery is at least once.
//
// While at least one stream of a session is open the sidecar counts as
// attached: each stream keeps a member in the session's presence set (a
// Redis sorted set scored by expiry, refreshed with every heartbeat), and
// the session's status becomes connected when the first stream opens and
// disconnected when the last one closes.
package sidecar

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
)

// Store is what the command channel needs of the store.
type Store interface {
	CreateCommand(ctx context.Context, nc store.NewCommand) (store.Command, error)
	OpenCommands(ctx context.Context, sessionID, afterID int64, limit int) ([]store.Command, error)
	Command(ctx context.Context, sessionID, id int64) (store.Command, error)
	CompleteCommand(ctx context.Context, sessionID, id int64, errMsg, messageID string) (store.Command, error)
	SetSessionStatus(ctx context.Context, id int64, st chatsync.SessionStatus, jid, pushName string, banExpire time.Time) (chatsync.Session, error)
	ReportSidecar(ctx context.Context, sessionID int64, r store.SidecarReport) (chatsync.Session, error)
	SessionByID(ctx context.Context, id int64) (chatsync.Session, error)
}

// Publisher publishes realtime events.
type Publisher interface {
	Publish(ctx context.Context, evs ...chatsync.Event) ([]string, error)
}

// Params configures a Channel.
type Params struct {
	Store Store
	Redis redis.UniversalClient
	Pub   Publisher
	Log   *slog.Logger
	// Heartbeat is the idle interval of command streams (default 15 s); a
	// stream counts as open for three of them without a heartbeat.
	Heartbeat time.Duration
	// SendTimeout bounds waiting for a sidecar to send a message (default
	// 30 s).
	SendTimeout time.Duration
}

// Channel issues commands to sidecars and tracks their presence. It is a
// chatsync.Sender for webjs sessions.
type Channel struct {
	store     Store
	rdb       redis.UniversalClient
	pub       Publisher
	log       *slog.Logger
	heartbeat time.Duration
	timeout   time.Duration
	now       func() time.Time
	newID     func() string
}

var _ chatsync.Sender = (*Channel)(nil)

// NewChannel returns a command channel.
func NewChannel(p Params) (*Channel, error) {
	if p.Store == nil || p.Redis == nil || p.Pub == nil || p.Log == nil {
		return nil, errors.New("sidecar: Store, Redis, Pub and Log are required")
	}
	c := &Channel{store: p.Store, rdb: p.Redis, pub: p.Pub, log: p.Log, heartbeat: p.Heartbeat, timeout: p.SendTimeout, now: time.Now, newID: rand.Text}
	if c.heartbeat <= 0 {
		c.heartbeat = 15 * time.Second
	}
	if c.timeout <= 0 {
		c.timeout = 30 * time.Second
	}
	return c, nil
}

func key(sessionID int64, what string) string {
	return "chatsync:sidecar:{" + strconv.FormatInt(sessionID, 10) + "}:" + what
}

// commandBatch is how many open commands one store read delivers.
const commandBatch = 100

// Issue creates an open command and wakes the session's streams.
func (c *Channel) Issue(ctx context.Context, sess chatsync.Session, kind store.CommandKind, chatJID, text string) (store.Command, error) {
	cmd, err := c.store.CreateCommand(ctx, store.NewCommand{WorkspaceID: sess.WorkspaceID, SessionID: sess.ID, Kind: kind, ChatJID: chatJID, Text: text})
	if err != nil {
		return cmd, err
	}
	if err := c.rdb.Publish(ctx, key(sess.ID, "wake"), strconv.FormatInt(cmd.ID, 10)).Err(); err != nil {
		// The command is stored: the next stream, or this one's next
		// heartbeat, delivers it.
		c.log.WarnContext(ctx, "wake sidecar streams", slog.Int64("session_id", sess.ID), slog.String("error", err.Error()))
	}
	return cmd, nil
}

// presenceTTL is how long a stream counts as open without a heartbeat.
func (c *Channel) presenceTTL() time.Duration { return 3 * c.heartbeat }

// attached reports whether a sidecar holds a WatchCommands stream of the
// session open now.
func (c *Channel) attached(ctx context.Context, sessionID int64) (bool, error) {
	n, err := c.rdb.ZCount(ctx, key(sessionID, "presence"), strconv.FormatInt(c.now().UnixMilli(), 10), "+inf").Result()
	if err != nil {
		return false, fmt.Errorf("sidecar presence of session %d: %w", sessionID, err)
	}
	return n > 0, nil
}

// attach registers a stream; first reports whether it is the only one.
func (c *Channel) attach(ctx context.Context, sessionID int64, streamID string) (first bool, err error) {
	k := key(sessionID, "presence")
	now := c.now()
	pipe := c.rdb.TxPipeline()
	pipe.ZRemRangeByScore(ctx, k, "-inf", "("+strconv.FormatInt(now.UnixMilli(), 10))
	pipe.ZAdd(ctx, k, redis.Z{Score: float64(now.Add(c.presenceTTL()).UnixMilli()), Member: streamID})
	card := pipe.ZCard(ctx, k)
	pipe.PExpire(ctx, k, c.presenceTTL())
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("attach sidecar stream: %w", err)
	}
	return card.Val() == 1, nil
}

// detach removes a stream; last reports whether no other one is open.
func (c *Channel) detach(ctx context.Context, sessionID int64, streamID string) (last bool, err error) {
	k := key(sessionID, "presence")
	pipe := c.rdb.TxPipeline()
	pipe.ZRem(ctx, k, streamID)
	pipe.ZRemRangeByScore(ctx, k, "-inf", "("+strconv.FormatInt(c.now().UnixMilli(), 10))
	card := pipe.ZCard(ctx, k)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("detach sidecar stream: %w", err)
	}
	return card.Val() == 0, nil
}

// setStatus records and publishes a sidecar session's connection state.
func (c *Channel) setStatus(ctx context.Context, sessionID int64, st chatsync.SessionStatus, reason string) {
	sess, err := c.store.SetSessionStatus(ctx, sessionID, st, "", "", time.Time{})
	if err != nil {
		c.log.ErrorContext(ctx, "set sidecar session status", slog.Int64("session_id", sessionID), slog.String("error", err.Error()))
		return
	}
	c.publishStatus(ctx, sess, reason)
}

// publishStatus publishes a session's status as a session_status event.
func (c *Channel) publishStatus(ctx context.Context, sess chatsync.Session, reason string) {
	ev := chatsync.Event{
		Type: chatsync.EventSessionStatus, WorkspaceID: sess.WorkspaceID, SessionID: sess.ID, Time: c.now().UTC(),
		Status: &chatsync.SessionStatusEvent{Status: sess.Status, Reason: reason},
	}
	if _, err := c.pub.Publish(ctx, ev); err != nil {
		c.log.WarnContext(ctx, "publish session status", slog.Int64("session_id", sess.ID), slog.String("error", err.Error()))
	}
}

// reportedLoggedOut reports whether the session is logged out, as a
// sidecar's report leaves it.
func (c *Channel) reportedLoggedOut(ctx context.Context, sessionID int64) bool {
	s, err := c.store.SessionByID(ctx, sessionID)
	return err == nil && s.Status == chatsync.SessionLoggedOut
}

// Report records a sidecar's report on its session and shows it: a state
// that says what the session is (a QR code to scan, WhatsApp unreachable,
// logged out) becomes its status, and every report is published as a
// session_status event whose reason names the sidecar's state. It returns
// the session as it is now.
func (c *Channel) Report(ctx context.Context, sess chatsync.Session, r store.SidecarReport) (chatsync.Session, error) {
	now, err := c.store.ReportSidecar(ctx, sess.ID, r)
	if err != nil {
		return sess, err
	}
	reason := "sidecar " + string(r.State)
	if r.LastError != "" {
		reason += ": " + r.LastError
	}
	st := now.Status
	switch r.State {
	case chatsync.SidecarQRWanted:
		st, reason = chatsync.SessionPairing, "scan the QR code the sidecar shows (WhatsApp → Settings → Linked devices)"
	case chatsync.SidecarUnreachable:
		st = chatsync.SessionDisconnected
	case chatsync.SidecarLoggedOut:
		st, reason = chatsync.SessionLoggedOut, "logged out from the phone; the sidecar shows a new QR code to scan"
	}
	if r.Sync != nil && r.Sync.UnreadableCount > 0 {
		reason += fmt.Sprintf(" (last sync: %d of %d chats could not be read)", r.Sync.UnreadableCount, r.Sync.Total)
	}
	if st != now.Status {
		if now, err = c.store.SetSessionStatus(ctx, sess.ID, st, "", "", time.Time{}); err != nil {
			return sess, err
		}
	}
	c.publishStatus(ctx, now, reason)
	c.log.InfoContext(ctx, "sidecar state", slog.Int64("workspace_id", now.WorkspaceID), slog.Int64("session_id", now.ID),
		slog.String("state", string(r.State)), slog.String("error", r.LastError))
	return now, nil
}

// ErrNotAttached: no sidecar holds a WatchCommands stream of the session.
var ErrNotAttached = errors.New("no sidecar is attached (no WatchCommands stream is open)")

// ErrCommandTimeout: the sidecar did not complete the command in time.
var ErrCommandTimeout = errors.New("the sidecar did not complete the command in time")

// Send issues a send command and waits for its outcome; on timeout the
// command is failed, so a late sidecar does not send it after chatsync
// gave up (its CompleteCommand is then refused).
func (c *Channel) Send(ctx context.Context, sess chatsync.Session, chatJID, text string) (string, error) {
	ok, err := c.attached(ctx, sess.ID)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", ErrNotAttached
	}
	// Subscribed before issuing, so the completion cannot slip past.
	sub := c.rdb.Subscribe(ctx, key(sess.ID, "done"))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		return "", fmt.Errorf("subscribe to command outcomes: %w", err)
	}
	cmd, err := c.Issue(ctx, sess, store.CommandSend, chatJID, text)
	if err != nil {
		return "", err
	}
	want := strconv.FormatInt(cmd.ID, 10)
	deadline := time.NewTimer(c.timeout)
	defer deadline.Stop()
	// A slow poll covers a completion whose message was lost.
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	msgs := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			_, _ = c.abandon(context.WithoutCancel(ctx), cmd, "the caller went away")
			return "", ctx.Err()
		case <-deadline.C:
			got, err := c.abandon(context.WithoutCancel(ctx), cmd, "timed out after "+c.timeout.String())
			if err == nil && got.Status == store.CommandDone {
				return got.MessageID, nil // completed at the last moment
			}
			return "", ErrCommandTimeout
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
		case store.CommandOpen:
		}
	}
}

// abandon fails an open command; when it was completed meanwhile, it
// returns the command as completed.
func (c *Channel) abandon(ctx context.Context, cmd store.Command, reason string) (store.Command, error) {
	got, err := c.store.CompleteCommand(ctx, cmd.SessionID, cmd.ID, "chatsync gave up: "+reason, "")
	if errors.Is(err, store.ErrBusy) {
		return got, nil
	}
	return got, err
}

// Complete records a command's outcome and wakes whoever waits for it.
// Completing a completed command is store.ErrBusy with the command as it
// is.
func (c *Channel) Complete(ctx context.Context, sessionID, id int64, errMsg, messageID string) (store.Command, error) {
	cmd, err := c.store.CompleteCommand(ctx, sessionID, id, errMsg, messageID)
	if err != nil {
		return cmd, err
	}
	if err := c.rdb.Publish(ctx, key(sessionID, "done"), strconv.FormatInt(cmd.ID, 10)).Err(); err != nil {
		c.log.WarnContext(ctx, "announce command outcome; waiters poll", slog.Int64("session_id", sessionID), slog.String("error", err.Error()))
	}
	return cmd, nil
}

// ErrUnavailable wraps what keeps a command stream from being served
// (Redis or the store failing); the stream's client reconnects.
var ErrUnavailable = fmt.Errorf("the command channel is unavailable: %w", chatsync.ErrProviderUnavailable)

// Watch serves one command stream of a sidecar session until ctx ends:
// it marks the sidecar attached, calls deliver with nil first (a heartbeat,
// so the sidecar knows it is attached before the first command), then with
// each open command in order, new ones as they are issued, and nil again
// every heartbeat. It returns nil when ctx ends or deliver fails (the
// client went away), and an error wrapping ErrUnavailable when commands
// cannot be read.
func (c *Channel) Watch(ctx context.Context, sess chatsync.Session, deliver func(*store.Command) error) error {
	log := c.log.With(slog.Int64("workspace_id", sess.WorkspaceID), slog.Int64("session_id", sess.ID))
	// Subscribed before the first read of open commands, so a command
	// issued in between is not missed.
	wake := c.rdb.Subscribe(ctx, key(sess.ID, "wake"))
	defer wake.Close()
	if _, err := wake.Receive(ctx); err != nil {
		return fmt.Errorf("%w: subscribe to commands: %w", ErrUnavailable, err)
	}
	streamID := c.newID()
	first, err := c.attach(ctx, sess.ID, streamID)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if first {
		c.setStatus(ctx, sess.ID, chatsync.SessionConnected, "sidecar attached")
	}
	log.InfoContext(ctx, "sidecar attached")
	defer func() {
		ctx := context.WithoutCancel(ctx)
		last, err := c.detach(ctx, sess.ID, streamID)
		if err != nil {
			log.WarnContext(ctx, "detach sidecar stream", slog.String("error", err.Error()))
			return
		}
		switch {
		case !last:
		case c.reportedLoggedOut(ctx, sess.ID):
			// The sidecar said why it went (its report and the stream's end
			// race): logged out stays, it says what to do.
		default:
			c.setStatus(ctx, sess.ID, chatsync.SessionDisconnected, "sidecar detached")
		}
		log.InfoContext(ctx, "sidecar detached")
	}()
	if err := deliver(nil); err != nil {
		return nil
	}
	var last int64
	var gone bool // deliver failed: the client went away
	open := func() error {
		for {
			cmds, err := c.store.OpenCommands(ctx, sess.ID, last, commandBatch)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("%w: deliver commands: %w", ErrUnavailable, err)
			}
			for i := range cmds {
				if err := deliver(&cmds[i]); err != nil {
					gone = true
					return nil
				}
				last = cmds[i].ID
			}
			if len(cmds) < commandBatch {
				return nil
			}
		}
	}
	if err := open(); err != nil || gone {
		return err
	}
	t := time.NewTicker(c.heartbeat)
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
			if err := open(); err != nil || gone {
				return err
			}
		case <-t.C:
			if _, err := c.attach(ctx, sess.ID, streamID); err != nil {
				log.WarnContext(ctx, "refresh sidecar presence", slog.String("error", err.Error()))
			}
			// Also catches a command whose wake-up was lost.
			if err := open(); err != nil || gone {
				return err
			}
			if err := deliver(nil); err != nil {
				return nil
			}
		}
	}
}

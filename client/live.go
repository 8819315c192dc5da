package client

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
)

// Defaults of a Live sender.
const (
	// DefaultFlushInterval is how long a live report waits for others to
	// share its batch: at most about 4 calls a second per session.
	DefaultFlushInterval = 250 * time.Millisecond
	// DefaultFlushMessages sends a batch early once it holds this many
	// messages.
	DefaultFlushMessages = 100
	// DefaultLiveBacklog is how many messages may wait unsent before Add
	// blocks.
	DefaultLiveBacklog = 10_000
)

// ErrLiveClosed is returned by Add after Close.
var ErrLiveClosed = errors.New("live sender is closed")

// Live coalesces live reports of one session into one BATCH_KIND_LIVE batch
// per flush (every FlushInterval, or at FlushMessages messages) and sends
// each batch until the server accepts it: no attempt cap, the server's
// retry-after or jittered exponential backoff between attempts. A batch's ID
// is derived from its contents, so an attempt whose answer was lost makes
// the next one a duplicate on the server, not a second copy. Memory is
// bounded: Add blocks while Backlog messages wait.
//
// Create it with Client.Live; it is safe for concurrent use.
type Live struct {
	c   *Client
	cfg LiveConfig

	mu      sync.Mutex
	queue   []liveItem // waiting to be sent, oldest first
	msgs    int        // messages in queue and in the batch being sent
	queued  int        // messages in queue
	closed  bool
	wake    chan struct{} // a report arrived
	full    chan struct{} // FlushMessages reached
	room    *sync.Cond    // backlog has room again
	flushed *sync.Cond    // msgs dropped
	stop    context.CancelFunc
	done    chan struct{}
}

// LiveConfig tunes a Live sender; zero fields take the defaults.
type LiveConfig struct {
	FlushInterval time.Duration
	FlushMessages int
	Backlog       int
	// OnSent is called after a batch is accepted with the batch, the
	// server's answer and when each of its reports was added (in the
	// batch's order of reports, before coalescing); for latency figures.
	OnSent func(req *chatsyncv1.SyncBatchRequest, res *chatsyncv1.SyncBatchResponse, added []time.Time)
}

type liveItem struct {
	chat  *chatsyncv1.SyncChat
	added time.Time
}

// Live starts a coalescing live sender for the client's session. Close it
// to send what is left and stop it.
func (c *Client) Live(cfg LiveConfig) *Live {
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.FlushMessages <= 0 {
		cfg.FlushMessages = DefaultFlushMessages
	}
	if cfg.Backlog < cfg.FlushMessages {
		cfg.Backlog = max(DefaultLiveBacklog, cfg.FlushMessages)
	}
	ctx, stop := context.WithCancel(context.Background())
	l := &Live{c: c, cfg: cfg, wake: make(chan struct{}, 1), full: make(chan struct{}, 1), stop: stop, done: make(chan struct{})}
	l.room = sync.NewCond(&l.mu)
	l.flushed = sync.NewCond(&l.mu)
	go l.run(ctx)
	return l
}

// Add queues a live report of one chat (usually its identity, last
// activity and one new message; leave the state fields unset). It blocks
// while the backlog is full, until ctx ends (returning its error, the
// report not queued) or the sender is closed.
func (l *Live) Add(ctx context.Context, chat *chatsyncv1.SyncChat) error {
	n := max(len(chat.GetMessages()), 1)
	stopWaiting := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.room.Broadcast()
		l.mu.Unlock()
	})
	defer stopWaiting()
	l.mu.Lock()
	defer l.mu.Unlock()
	for !l.closed && l.msgs > 0 && l.msgs+n > l.cfg.Backlog {
		if err := ctx.Err(); err != nil {
			return err
		}
		l.room.Wait()
	}
	if l.closed {
		return ErrLiveClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	l.queue = append(l.queue, liveItem{chat: chat, added: l.c.now()})
	l.msgs += n
	l.queued += n
	signal(l.wake)
	if l.queued >= l.cfg.FlushMessages {
		signal(l.full)
	}
	return nil
}

// Flush waits until every report added before it was accepted, or ctx
// ends.
func (l *Live) Flush(ctx context.Context) error {
	stopWaiting := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.flushed.Broadcast()
		l.mu.Unlock()
	})
	defer stopWaiting()
	l.mu.Lock()
	defer l.mu.Unlock()
	signal(l.full) // no reason to wait for more
	for l.msgs > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("flush live reports: %d messages not yet accepted: %w", l.msgs, err)
		}
		l.flushed.Wait()
	}
	return nil
}

// Close sends what is queued (waiting at most until ctx ends) and stops the
// sender. It returns an error saying how many messages were not accepted
// when ctx ended first.
func (l *Live) Close(ctx context.Context) error {
	l.mu.Lock()
	l.closed = true
	l.room.Broadcast()
	l.mu.Unlock()
	err := l.Flush(ctx)
	l.stop()
	<-l.done
	return err
}

// Pending is how many messages wait to be accepted.
func (l *Live) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msgs
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// run sends batches until stopped.
func (l *Live) run(ctx context.Context) {
	defer close(l.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		}
		// Wait for more reports to share the batch, unless it is full.
		wait, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-l.full:
				cancel()
			case <-wait.Done():
			}
		}()
		_ = l.c.sleep(wait, l.cfg.FlushInterval)
		cancel()
		for l.sendOne(ctx) {
		}
	}
}

// sendOne sends the oldest FlushMessages worth of reports until accepted;
// false when the queue is empty or the sender is stopped.
func (l *Live) sendOne(ctx context.Context) bool {
	l.mu.Lock()
	var items []liveItem
	n := 0
	for len(l.queue) > 0 && (len(items) == 0 || n+max(len(l.queue[0].chat.GetMessages()), 1) <= l.cfg.FlushMessages) {
		n += max(len(l.queue[0].chat.GetMessages()), 1)
		items = append(items, l.queue[0])
		l.queue = l.queue[1:]
	}
	l.queued -= n
	l.mu.Unlock()
	if len(items) == 0 {
		return false
	}
	req := liveBatch(l.c.sessionID, items)
	res, err := l.c.sendUntilAccepted(ctx, req)
	if err != nil {
		// Stopped: put the reports back for Pending's count.
		l.mu.Lock()
		l.queue = append(items, l.queue...)
		l.queued += n
		l.mu.Unlock()
		return false
	}
	if l.cfg.OnSent != nil {
		added := make([]time.Time, len(items))
		for i, it := range items {
			added[i] = it.added
		}
		l.cfg.OnSent(req, res, added)
	}
	l.mu.Lock()
	l.msgs -= n
	l.room.Broadcast()
	l.flushed.Broadcast()
	l.mu.Unlock()
	return true
}

// liveBatch coalesces reports into one live batch: the reports of one chat
// into one SyncChat (messages in order, the newest last activity, the
// latest identity fields), and an ID from the contents.
func liveBatch(sessionID string, items []liveItem) *chatsyncv1.SyncBatchRequest {
	byJID := make(map[string]*chatsyncv1.SyncChat, len(items))
	var chats []*chatsyncv1.SyncChat
	for _, it := range items {
		c := it.chat
		have, ok := byJID[c.GetJid()]
		if !ok {
			have = proto.CloneOf(c)
			byJID[c.GetJid()] = have
			chats = append(chats, have)
			continue
		}
		mergeLive(have, c)
	}
	req := &chatsyncv1.SyncBatchRequest{SessionId: sessionID, Kind: chatsyncv1.BatchKind_BATCH_KIND_LIVE, Chats: chats}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		// A message built from generated types always marshals.
		panic(fmt.Sprintf("client: marshal live batch: %v", err))
	}
	sum := sha256.Sum256(b)
	req.BatchId = "live-" + hex.EncodeToString(sum[:20])
	return req
}

// mergeLive folds a later report of a chat into dst.
func mergeLive(dst, src *chatsyncv1.SyncChat) {
	dst.Messages = append(dst.Messages, proto.CloneOf(src).GetMessages()...)
	if src.GetLastActivityTime().AsTime().After(dst.GetLastActivityTime().AsTime()) {
		dst.LastActivityTime = src.GetLastActivityTime()
	}
	if src.Name != nil {
		dst.Name = src.Name
	}
	if src.UnreadCount != nil {
		dst.UnreadCount = src.UnreadCount
	}
	if src.Archived != nil {
		dst.Archived = src.Archived
	}
	if src.Pinned != nil {
		dst.Pinned = src.Pinned
	}
	if src.GetContact() != nil {
		dst.Contact = src.GetContact()
	}
	if src.GetGroup() != nil {
		dst.Group = src.GetGroup()
	}
}

// sendUntilAccepted sends a batch until the server accepts it or ctx ends:
// after resource_exhausted it waits the server's retry-after, after any
// other failure a jittered exponential backoff (capped at the policy's
// maximum). Codes a retry cannot fix (unauthenticated, invalid_argument,
// ...) are logged as errors and retried at the maximum wait: the data is
// kept, never dropped, and goes through once the cause is fixed.
func (c *Client) sendUntilAccepted(ctx context.Context, req *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
	log := c.logger.With(slog.String("batch_id", req.GetBatchId()))
	procedure := chatsyncv1connect.SyncServiceSyncBatchProcedure
	for n := 1; ; n++ {
		start := c.now()
		res, err := callWithTimeout(ctx, c.timeout, func(ctx context.Context) (*chatsyncv1.SyncBatchResponse, error) {
			return c.rpc.SyncBatch(ctx, req)
		})
		a := Attempt{Procedure: procedure, BatchID: req.GetBatchId(), Number: n, Duration: c.now().Sub(start), Err: err}
		if err == nil {
			c.observe(a)
			return res, nil
		}
		if ctx.Err() != nil {
			c.observe(a)
			return nil, ctx.Err()
		}
		code := connect.CodeOf(err)
		transient := retryable(code)
		var wait time.Duration
		switch d, ok := retryAfter(err); {
		case code == connect.CodeResourceExhausted && ok:
			wait = c.policy.capped(d)
		case transient:
			wait = jitter(c.policy.backoff(n))
		default:
			wait = cmp.Or(c.policy.max, DefaultMaxBackoff)
		}
		a.Wait = wait
		c.observe(a)
		level := slog.LevelWarn
		if !transient {
			level = slog.LevelError
		}
		log.Log(ctx, level, "live batch not accepted; retrying until it is",
			slog.String("code", code.String()), slog.Int("attempt", n), slog.Duration("wait", wait), slog.Any("error", err))
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, serr
		}
	}
}

// jitter spreads a wait over [d/2, d], so senders refused together do not
// retry together.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

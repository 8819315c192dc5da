package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chatsync/chatsync"
)

// ErrSlow ends a subscription whose reader fell behind: the hub never waits
// for a reader, so it drops the subscription instead. The client resumes
// from its last event ID and loses nothing.
var ErrSlow = errors.New("subscriber fell behind")

// ErrStopped ends subscriptions when the hub stops (server shutdown).
var ErrStopped = errors.New("event hub stopped")

// Hub fans a workspace's events out to the subscribers of one server
// process. Events are always read from the workspace's stream, in order,
// by one reader per workspace with local subscribers; pub/sub only wakes
// that reader. A lost wake-up (a pub/sub reconnect) therefore delays events
// until the next wake-up or poll, and never loses them.
type Hub struct {
	rdb    redis.UniversalClient
	log    *slog.Logger
	buffer int
	poll   time.Duration

	mu     sync.Mutex
	starts chan *workspace // new workspaces whose reader Run starts
	ps     *redis.PubSub
	ws     map[int64]*workspace
	closed bool
}

type workspace struct {
	id         int64
	subs       map[*Subscription]struct{}
	last       string        // stream ID read up to
	ready      chan struct{} // closed when Redis confirmed the subscription
	positioned chan struct{} // closed when last is set
	wake       chan struct{}
	stop       chan struct{}
}

// NewHub returns a hub; buffer is each subscriber's queue length, poll how
// often readers look at their stream without a wake-up.
func NewHub(rdb redis.UniversalClient, log *slog.Logger, buffer int, poll time.Duration) *Hub {
	if buffer <= 0 {
		buffer = 1024
	}
	if poll <= 0 {
		poll = 5 * time.Second
	}
	return &Hub{rdb: rdb, log: log, buffer: buffer, poll: poll, ws: map[int64]*workspace{}, starts: make(chan *workspace)}
}

// Run receives wake-ups until ctx ends, then ends every subscription with
// ErrStopped.
func (h *Hub) Run(ctx context.Context) error {
	h.mu.Lock()
	h.ps = h.rdb.Subscribe(ctx)
	ps := h.ps
	h.mu.Unlock()
	defer h.shutdown(ps)
	ch := ps.ChannelWithSubscriptions(redis.WithChannelSize(4096))
	for {
		select {
		case <-ctx.Done():
			return nil
		case w := <-h.starts:
			// Readers live as long as the hub, not as the request that
			// brought their first subscriber.
			go h.read(ctx, w)
		case m, ok := <-ch:
			if !ok {
				return errors.New("pub/sub channel closed")
			}
			switch m := m.(type) {
			case *redis.Message:
				h.wakeup(m.Channel, false)
			case *redis.Subscription:
				// Also sent again after go-redis reconnects: read what a
				// lost wake-up may have left behind.
				if m.Kind == "subscribe" {
					h.wakeup(m.Channel, true)
				}
			}
		}
	}
}

func (h *Hub) shutdown(ps *redis.PubSub) {
	h.mu.Lock()
	h.closed = true
	for _, w := range h.ws {
		close(w.stop)
		for s := range w.subs {
			s.end(ErrStopped)
		}
	}
	h.ws = map[int64]*workspace{}
	h.mu.Unlock()
	_ = ps.Close()
}

func (h *Hub) wakeup(channel string, confirmed bool) {
	id, ok := workspaceOf(channel)
	if !ok {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.ws[id]
	if w == nil {
		return
	}
	if confirmed {
		select {
		case <-w.ready:
		default:
			close(w.ready)
		}
	}
	select {
	case w.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

func workspaceOf(channel string) (int64, bool) {
	s, ok := strings.CutPrefix(channel, "chatsync:events:{")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "}:live")
	if !ok {
		return 0, false
	}
	ws, err := strconv.ParseInt(s, 10, 64)
	return ws, err == nil
}

// Subscribe opens a subscription to a workspace's events committed after
// resumeID, or from now on when resumeID is empty. ErrTooOld and ErrBadToken
// refuse resume tokens that cannot resume without a gap.
func (h *Hub) Subscribe(ctx context.Context, wsID int64, resumeID string) (*Subscription, error) {
	var from streamID
	if resumeID != "" {
		var err error
		if from, err = parseID(resumeID); err != nil {
			return nil, err
		}
	}
	w, err := h.workspace(ctx, wsID)
	if err != nil {
		return nil, err
	}
	// Events at or before the resume point are never delivered, even when
	// this replica's reader lags the one the client came from.
	s := &Subscription{hub: h, ws: wsID, c: make(chan *chatsync.Event, h.buffer), done: make(chan struct{}), last: from}
	// Registering and reading the reader's position happen under one lock:
	// the backlog is (resumeID, upTo], live delivery starts after upTo.
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrStopped
	}
	w.subs[s] = struct{}{}
	upTo := w.last
	h.mu.Unlock()
	if resumeID == "" {
		return s, nil
	}
	backlog, err := h.backlog(ctx, wsID, resumeID, from, upTo)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.mu.Lock()
	s.pending = backlog
	s.mu.Unlock()
	return s, nil
}

// workspace returns the reader of a workspace, starting it (subscribed and
// positioned at the stream's end) when it is the first subscriber's.
func (h *Hub) workspace(ctx context.Context, id int64) (*workspace, error) {
	h.mu.Lock()
	if h.closed || h.ps == nil {
		h.mu.Unlock()
		return nil, errors.New("event hub is not running")
	}
	w := h.ws[id]
	created := w == nil
	if created {
		w = &workspace{
			id: id, subs: map[*Subscription]struct{}{}, ready: make(chan struct{}), positioned: make(chan struct{}),
			wake: make(chan struct{}, 1), stop: make(chan struct{}),
		}
		h.ws[id] = w
		if err := h.ps.Subscribe(ctx, channelKey(id)); err != nil {
			delete(h.ws, id)
			h.mu.Unlock()
			return nil, fmt.Errorf("subscribe to workspace %d: %w", id, err)
		}
	}
	h.mu.Unlock()
	if created {
		// Run's loop takes it at once (it only ever waits on channels).
		select {
		case h.starts <- w:
		case <-w.stop: // the hub stopped
			return nil, ErrStopped
		}
	}
	select {
	case <-w.positioned:
	case <-w.stop:
		return nil, ErrStopped
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return w, nil
}

// read delivers a workspace's new stream entries to its subscribers until
// the workspace has none left.
func (h *Hub) read(ctx context.Context, w *workspace) {
	// Position at the stream's end only once Redis confirmed the
	// subscription: no wake-up after the position can be missed.
	select {
	case <-w.ready:
	case <-w.stop:
		return
	}
	for {
		err := h.position(ctx, w)
		if err == nil {
			break
		}
		h.log.WarnContext(ctx, "read event stream position", slog.Int64("workspace_id", w.id), slog.String("error", err.Error()))
		select {
		case <-w.stop:
			return
		case <-time.After(h.poll):
		}
	}
	close(w.positioned)
	tick := time.NewTicker(h.poll)
	defer tick.Stop()
	for {
		if err := h.drain(ctx, w); err != nil && ctx.Err() == nil {
			h.log.WarnContext(ctx, "read event stream", slog.Int64("workspace_id", w.id), slog.String("error", err.Error()))
		}
		select {
		case <-w.stop:
			return
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-tick.C:
		}
	}
}

func (h *Hub) position(ctx context.Context, w *workspace) error {
	msgs, err := h.rdb.XRevRangeN(ctx, streamKey(w.id), "+", "-", 1).Result()
	if err != nil {
		return err
	}
	last := "0-0"
	if len(msgs) > 0 {
		last = msgs[0].ID
	}
	h.mu.Lock()
	w.last = last
	h.mu.Unlock()
	return nil
}

func (h *Hub) drain(ctx context.Context, w *workspace) error {
	h.mu.Lock()
	last := w.last
	h.mu.Unlock()
	for {
		msgs, err := h.rdb.XRangeN(ctx, streamKey(w.id), "("+last, "+", 1000).Result()
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return nil
		}
		evs := make([]chatsync.Event, 0, len(msgs))
		for _, m := range msgs {
			payload, _ := m.Values["e"].(string)
			ev, err := decode(m.ID, payload)
			if err != nil {
				h.log.ErrorContext(ctx, "skip undecodable event", slog.Int64("workspace_id", w.id), slog.String("error", err.Error()))
				continue
			}
			evs = append(evs, ev)
		}
		last = msgs[len(msgs)-1].ID
		h.mu.Lock()
		w.last = last
		for s := range w.subs {
			for i := range evs {
				if !s.offer(&evs[i]) {
					break
				}
			}
		}
		h.mu.Unlock()
		if len(msgs) < 1000 {
			return nil
		}
	}
}

func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.ws[s.ws]
	if w == nil {
		return
	}
	if _, ok := w.subs[s]; !ok {
		return
	}
	delete(w.subs, s)
	if len(w.subs) == 0 && !h.closed {
		delete(h.ws, s.ws)
		close(w.stop)
		_ = h.ps.Unsubscribe(context.Background(), channelKey(s.ws)) // only writes the command
	}
}

// backlog reads the events in (from, upTo]. It refuses (ErrTooOld) a
// token it cannot resume from without a possible gap: one older than the
// oldest retained event, or one the stream never held because the stream
// is gone or newer than the token's (Redis restarted or was flushed; the
// embedded mode's in-process Redis does that on every restart).
func (h *Hub) backlog(ctx context.Context, ws int64, raw string, from streamID, upTo string) ([]chatsync.Event, error) {
	pipe := h.rdb.Pipeline()
	firstCmd := pipe.XRangeN(ctx, streamKey(ws), "-", "+", 1)
	lastCmd := pipe.XRevRangeN(ctx, streamKey(ws), "+", "-", 1)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read event stream: %w", err)
	}
	first, last := firstCmd.Val(), lastCmd.Val()
	if len(first) == 0 || len(last) == 0 {
		return nil, ErrTooOld
	}
	oldest, err := parseID(first[0].ID)
	if err != nil {
		return nil, err
	}
	newest, err := parseID(last[0].ID)
	if err != nil {
		return nil, err
	}
	if from.less(oldest) || newest.less(from) {
		return nil, ErrTooOld
	}
	msgs, err := h.rdb.XRange(ctx, streamKey(ws), "("+raw, upTo).Result()
	if err != nil {
		return nil, fmt.Errorf("read event stream: %w", err)
	}
	out := make([]chatsync.Event, 0, len(msgs))
	for _, m := range msgs {
		payload, _ := m.Values["e"].(string)
		ev, err := decode(m.ID, payload)
		if err != nil {
			// As live delivery does: one bad entry must not make every
			// resume past it fail.
			h.log.ErrorContext(ctx, "skip undecodable event", slog.Int64("workspace_id", ws), slog.String("error", err.Error()))
			continue
		}
		out = append(out, ev)
	}
	return out, nil
}

// Subscription is one subscriber's view of a workspace's events.
type Subscription struct {
	hub *Hub
	ws  int64
	// c holds live events, shared read-only by every subscription of the
	// workspace: a pointer a slot keeps an idle stream's queue small
	// (8 KiB for 1,024 slots, not 115 KiB).
	c    chan *chatsync.Event
	done chan struct{}

	mu      sync.Mutex
	pending []chatsync.Event // the backlog, delivered before live events
	last    streamID
	err     error
	once    sync.Once
}

// offer queues a live event without blocking; false when the subscriber is
// too slow and was ended. Called with the hub locked.
func (s *Subscription) offer(ev *chatsync.Event) bool {
	select {
	case s.c <- ev:
		return true
	default:
		s.end(ErrSlow)
		return false
	}
}

func (s *Subscription) end(err error) {
	s.once.Do(func() {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(s.done)
	})
}

// ErrIdle is NextUntil's answer when its idle channel fires first.
var ErrIdle = errors.New("no event before the idle deadline")

// Next returns the next event in stream order, blocking until one arrives,
// the subscription ends (ErrSlow, ErrStopped) or ctx is done.
func (s *Subscription) Next(ctx context.Context) (chatsync.Event, error) {
	return s.NextUntil(ctx, nil)
}

// NextUntil is Next that also gives up with ErrIdle when idle fires (a
// timer's channel; nil never fires). Streams wait with one reusable timer
// instead of a deadline context per event.
func (s *Subscription) NextUntil(ctx context.Context, idle <-chan time.Time) (chatsync.Event, error) {
	for {
		s.mu.Lock()
		if len(s.pending) > 0 {
			ev := s.pending[0]
			s.pending = s.pending[1:]
			s.mu.Unlock()
			if s.advance(ev.ID) {
				return ev, nil
			}
			continue
		}
		s.mu.Unlock()
		select {
		case ev := <-s.c:
			if s.advance(ev.ID) {
				return *ev, nil
			}
		case <-s.done:
			// Deliver what was queued before the end.
			select {
			case ev := <-s.c:
				if s.advance(ev.ID) {
					return *ev, nil
				}
				continue
			default:
			}
			s.mu.Lock()
			err := s.err
			s.mu.Unlock()
			return chatsync.Event{}, err
		case <-ctx.Done():
			return chatsync.Event{}, ctx.Err()
		case <-idle:
			return chatsync.Event{}, ErrIdle
		}
	}
}

// advance records id as delivered; false for an ID at or before the last
// one (the backlog and live delivery may overlap by one read).
func (s *Subscription) advance(id string) bool {
	sid, err := parseID(id)
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.last.less(sid) {
		return false
	}
	s.last = sid
	return true
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.hub.remove(s)
	s.end(ErrStopped)
}

package events_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/events"
)

func startHub(t *testing.T, h *events.Hub) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub: %v", err)
		}
	})
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func chatEvent(ws int64, name string) chatsync.Event {
	return chatsync.Event{Type: chatsync.EventChatUpserted, WorkspaceID: ws, SessionID: 1, Time: time.Now().UTC(),
		Chat: &chatsync.ChatView{ID: 1, JID: "1@s.whatsapp.net", Name: name}}
}

func next(t *testing.T, s *events.Subscription) chatsync.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ev, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return ev
}

func expectNothing(t *testing.T, s *events.Subscription) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if ev, err := s.Next(ctx); err == nil {
		t.Fatalf("unexpected event %+v", ev)
	}
}

func TestLiveFanOutAcrossReplicasAndWorkspaces(t *testing.T) {
	rdb := testRedis(t)
	pub := events.NewPublisher(rdb, 100)
	a, b := events.NewHub(rdb, quiet(), 16, time.Minute), events.NewHub(rdb, quiet(), 16, time.Minute)
	startHub(t, a)
	startHub(t, b)
	ctx := t.Context()
	waitRunning(t, a)
	waitRunning(t, b)
	sa, err := a.Subscribe(ctx, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	defer sa.Close()
	sb, err := b.Subscribe(ctx, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	other, err := a.Subscribe(ctx, 2, "")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	ids, err := pub.Publish(ctx, chatEvent(1, "one"), chatEvent(1, "two"))
	if err != nil || len(ids) != 2 || ids[0] == "" {
		t.Fatalf("Publish = %v, %v", ids, err)
	}
	for _, s := range []*events.Subscription{sa, sb} {
		if e := next(t, s); e.Chat.Name != "one" || e.ID != ids[0] || e.WorkspaceID != 1 {
			t.Fatalf("first event = %+v", e)
		}
		if e := next(t, s); e.Chat.Name != "two" || e.ID != ids[1] {
			t.Fatalf("second event = %+v", e)
		}
	}
	expectNothing(t, other)
}

// waitRunning subscribes until the hub accepts (Run starts asynchronously).
func waitRunning(t *testing.T, h *events.Hub) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := h.Subscribe(t.Context(), 999, "")
		if err == nil {
			s.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("hub not running: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestResumeDeliversExactlyTheMissedEvents(t *testing.T) {
	rdb := testRedis(t)
	pub := events.NewPublisher(rdb, 100)
	h := events.NewHub(rdb, quiet(), 16, time.Minute)
	startHub(t, h)
	waitRunning(t, h)
	ctx := t.Context()
	s, err := h.Subscribe(ctx, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(ctx, chatEvent(1, "a"), chatEvent(1, "b")); err != nil {
		t.Fatal(err)
	}
	next(t, s)
	last := next(t, s).ID
	s.Close() // the client disconnects
	ids, err := pub.Publish(ctx, chatEvent(1, "c"), chatEvent(1, "d"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := h.Subscribe(ctx, 1, last)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if e := next(t, r); e.ID != ids[0] || e.Chat.Name != "c" {
		t.Fatalf("first resumed = %+v", e)
	}
	if e := next(t, r); e.ID != ids[1] || e.Chat.Name != "d" {
		t.Fatalf("second resumed = %+v", e)
	}
	more, _ := pub.Publish(ctx, chatEvent(1, "e"))
	if e := next(t, r); e.ID != more[0] {
		t.Fatalf("live after resume = %+v", e)
	}
	expectNothing(t, r)
}

func TestResumeTokens(t *testing.T) {
	rdb := testRedis(t)
	pub := events.NewPublisher(rdb, 10)
	h := events.NewHub(rdb, quiet(), 16, time.Minute)
	startHub(t, h)
	waitRunning(t, h)
	ctx := t.Context()
	first, _ := pub.Publish(ctx, chatEvent(1, "first"))
	for i := 0; i < 300; i++ { // trims the stream well past "first"
		if _, err := pub.Publish(ctx, chatEvent(1, "x")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Subscribe(ctx, 1, first[0]); !errors.Is(err, events.ErrTooOld) {
		t.Fatalf("evicted token: %v, want ErrTooOld", err)
	}
	for _, bad := range []string{"abc", "1-x", "-", "12"} {
		if _, err := h.Subscribe(ctx, 1, bad); !errors.Is(err, events.ErrBadToken) {
			t.Fatalf("token %q: %v, want ErrBadToken", bad, err)
		}
	}
	// A token the stream never held cannot resume without a possible gap:
	// the stream is gone (Redis restarted or flushed), or it is newer than
	// the token's stream.
	for _, tt := range []struct {
		name  string
		ws    int64
		token string
	}{{"no stream", 3, "1-0"}, {"newer than the stream", 1, "99999999999999-0"}} {
		if _, err := h.Subscribe(ctx, tt.ws, tt.token); !errors.Is(err, events.ErrTooOld) {
			t.Fatalf("%s: %v, want ErrTooOld", tt.name, err)
		}
	}
	// The newest event's ID resumes with nothing missed.
	last, _ := pub.Publish(ctx, chatEvent(1, "last"))
	s, err := h.Subscribe(ctx, 1, last[0])
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	live, _ := pub.Publish(ctx, chatEvent(1, "live"))
	if e := next(t, s); e.ID != live[0] {
		t.Fatalf("after resuming from the newest: %+v", e)
	}
}

func TestUndecodableEventsAreSkipped(t *testing.T) {
	rdb := testRedis(t)
	pub := events.NewPublisher(rdb, 0)     // default retention
	h := events.NewHub(rdb, quiet(), 0, 0) // default buffer and poll
	startHub(t, h)
	waitRunning(t, h)
	ctx := t.Context()
	if ids, err := pub.Publish(ctx); err != nil || ids != nil {
		t.Fatalf("Publish() = %v, %v", ids, err)
	}
	first, _ := pub.Publish(ctx, chatEvent(1, "first"))
	s, err := h.Subscribe(ctx, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A foreign writer's garbage lands between two events.
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: "chatsync:events:{1}", Values: map[string]any{"e": "{not json"}}).Err(); err != nil {
		t.Fatal(err)
	}
	good, _ := pub.Publish(ctx, chatEvent(1, "good"))
	if e := next(t, s); e.ID != good[0] {
		t.Fatalf("live: %+v, want the good event", e)
	}
	r, err := h.Subscribe(ctx, 1, first[0])
	if err != nil {
		t.Fatalf("resume across garbage: %v", err)
	}
	defer r.Close()
	if e := next(t, r); e.ID != good[0] {
		t.Fatalf("resumed: %+v, want the good event", e)
	}
}

func TestSlowSubscriberIsDroppedAlone(t *testing.T) {
	rdb := testRedis(t)
	pub := events.NewPublisher(rdb, 1000)
	h := events.NewHub(rdb, quiet(), 4, time.Minute)
	startHub(t, h)
	waitRunning(t, h)
	ctx := t.Context()
	slow, _ := h.Subscribe(ctx, 1, "")
	fast, _ := h.Subscribe(ctx, 1, "")
	defer fast.Close()
	// The fast subscriber reads each event before the next is published:
	// with a queue of 4, several events drained in one stream read would
	// overflow even a reader that keeps up.
	for i := 0; i < 20; i++ {
		id, err := pub.Publish(ctx, chatEvent(1, "x"))
		if err != nil {
			t.Fatal(err)
		}
		if e := next(t, fast); e.ID != id[0] {
			t.Fatalf("fast subscriber: event %d is %s, want %s", i, e.ID, id[0])
		}
	}
	var err error
	for range 10 { // the 4 queued events, then the end
		if _, err = slow.Next(ctx); err != nil {
			break
		}
	}
	if !errors.Is(err, events.ErrSlow) {
		t.Fatalf("slow subscriber ended with %v, want ErrSlow", err)
	}
}

func TestStoppingTheHubEndsSubscriptions(t *testing.T) {
	rdb := testRedis(t)
	h := events.NewHub(rdb, quiet(), 4, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	waitRunning(t, h)
	s, err := h.Subscribe(t.Context(), 1, "")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	if _, err := s.Next(t.Context()); !errors.Is(err, events.ErrStopped) {
		t.Fatalf("after stop: %v, want ErrStopped", err)
	}
	if _, err := h.Subscribe(t.Context(), 1, ""); err == nil {
		t.Fatal("subscribed to a stopped hub")
	}
}

func TestNextUntilGivesUpWhenIdle(t *testing.T) {
	rdb := testRedis(t)
	h := events.NewHub(rdb, quiet(), 4, time.Minute)
	startHub(t, h)
	waitRunning(t, h)
	s, err := h.Subscribe(t.Context(), 1, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	idle := make(chan time.Time, 1)
	idle <- time.Now()
	if _, err := s.NextUntil(t.Context(), idle); !errors.Is(err, events.ErrIdle) {
		t.Fatalf("NextUntil with a fired idle channel: %v, want ErrIdle", err)
	}
	ids, _ := events.NewPublisher(rdb, 0).Publish(t.Context(), chatEvent(1, "x"))
	ev, err := s.NextUntil(t.Context(), nil)
	if err != nil || ev.ID != ids[0] {
		t.Fatalf("NextUntil = %+v, %v", ev, err)
	}
}

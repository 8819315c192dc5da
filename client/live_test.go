package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chatsync/chatsync/client"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
)

// liveReport is a live report of one message in chat c.
func liveReport(c, n int) *chatsyncv1.SyncChat {
	at := time.Unix(1_750_000_000+int64(n), 0)
	return &chatsyncv1.SyncChat{
		Jid: fmt.Sprintf("1555000%04d@s.whatsapp.net", c), Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE,
		LastActivityTime: timestamppb.New(at),
		Messages:         []*chatsyncv1.SyncMessage{{Id: fmt.Sprintf("m%d", n), Timestamp: timestamppb.New(at), Text: "hi"}},
	}
}

// batches records the batches a fake server accepted.
type batches struct {
	mu   sync.Mutex
	reqs []*chatsyncv1.SyncBatchRequest
}

func (b *batches) add(req *chatsyncv1.SyncBatchRequest) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reqs = append(b.reqs, req)
}

// messages counts how often each message ID arrived in accepted batches.
func (b *batches) messages() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := map[string]int{}
	ids := map[string]bool{}
	for _, r := range b.reqs {
		if ids[r.GetBatchId()] {
			continue // a duplicate on the server: stored once
		}
		ids[r.GetBatchId()] = true
		for _, c := range r.GetChats() {
			for _, m := range c.GetMessages() {
				seen[m.GetId()]++
			}
		}
	}
	return seen
}

// Reports added quickly share batches: one SyncChat per chat and batch,
// at most FlushMessages messages a batch, every message exactly once.
func TestLiveCoalesces(t *testing.T) {
	t.Parallel()
	var got batches
	svc := &fakeSync{SyncBatchFn: func(ctx context.Context, req *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
		got.add(req)
		return accept(ctx, req)
	}}
	c := newClient(t, svc, testSecret)
	var sentMu sync.Mutex
	var latencies int
	live := c.Live(client.LiveConfig{FlushInterval: 50 * time.Millisecond, OnSent: func(req *chatsyncv1.SyncBatchRequest, _ *chatsyncv1.SyncBatchResponse, added []time.Time) {
		sentMu.Lock()
		defer sentMu.Unlock()
		latencies += len(added)
	}})
	const n = 250
	for i := range n {
		if err := live.Add(t.Context(), liveReport(i%3, i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := live.Close(ctx); err != nil {
		t.Fatal(err)
	}
	seen := got.messages()
	if len(seen) != n {
		t.Fatalf("%d distinct messages arrived, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Fatalf("message %s arrived %d times", id, k)
		}
	}
	if len(got.reqs) > n/client.DefaultFlushMessages+2 {
		t.Fatalf("%d calls for %d messages: not coalesced", len(got.reqs), n)
	}
	for _, r := range got.reqs {
		if r.GetKind() != chatsyncv1.BatchKind_BATCH_KIND_LIVE || !strings.HasPrefix(r.GetBatchId(), "live-") || r.GetSessionId() != "42" {
			t.Fatalf("batch %s kind %v session %s", r.GetBatchId(), r.GetKind(), r.GetSessionId())
		}
		jids, msgs := map[string]bool{}, 0
		for _, c := range r.GetChats() {
			if jids[c.GetJid()] {
				t.Fatalf("batch %s carries chat %s twice", r.GetBatchId(), c.GetJid())
			}
			jids[c.GetJid()] = true
			msgs += len(c.GetMessages())
			if c.UnreadCount != nil || c.Archived != nil || c.Pinned != nil {
				t.Fatalf("live chat carries state: %v", c)
			}
		}
		if msgs > client.DefaultFlushMessages {
			t.Fatalf("batch %s holds %d messages", r.GetBatchId(), msgs)
		}
	}
	if latencies != n {
		t.Fatalf("OnSent saw %d reports, want %d", latencies, n)
	}
	if err := live.Add(t.Context(), liveReport(0, 999)); !errors.Is(err, client.ErrLiveClosed) {
		t.Fatalf("Add after Close = %v", err)
	}
}

// A live batch is retried past any count until accepted, with the same
// content-derived ID (so an attempt whose answer was lost is a duplicate):
// rate limits wait the server's retry-after, transient failures a
// jittered backoff, refusals that need a fix the longest wait.
func TestLiveRetriesUntilAccepted(t *testing.T) {
	t.Parallel()
	refusals := []error{
		connect.NewError(connect.CodeUnavailable, errors.New("down")),
		rateLimited(7),
		connect.NewError(connect.CodeInternal, errors.New("boom")),
		connect.NewError(connect.CodeInvalidArgument, errors.New("session mismatch")),
		connect.NewError(connect.CodeUnavailable, errors.New("down")),
		connect.NewError(connect.CodeUnavailable, errors.New("down")),
		connect.NewError(connect.CodeUnavailable, errors.New("down")),
		connect.NewError(connect.CodeDeadlineExceeded, errors.New("slow")),
	}
	var got batches
	var ids []string
	var mu sync.Mutex
	svc := &fakeSync{SyncBatchFn: func(ctx context.Context, req *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		ids = append(ids, req.GetBatchId())
		if len(ids) == 3 {
			got.add(req) // stored, but the answer is lost
		}
		if len(ids) <= len(refusals) {
			return nil, refusals[len(ids)-1]
		}
		got.add(req)
		return accept(ctx, req)
	}}
	var rec recorder
	// The three reports must make one batch: no flush before Close's. The
	// recorder's sleep returns at once (backoff waits are only recorded),
	// so the flush wait (an hour here) really waits, until Close's flush
	// cuts it short; otherwise the sender may take the first reports
	// before the last is added.
	flushWait := func(ctx context.Context, d time.Duration) error {
		if d == time.Hour {
			<-ctx.Done()
			return ctx.Err()
		}
		return rec.sleep(ctx, d)
	}
	c := newClient(t, svc, testSecret, append(rec.options(), client.WithSleep(flushWait), client.WithRetries(0), client.WithBackoff(time.Second, time.Minute))...)
	live := c.Live(client.LiveConfig{FlushInterval: time.Hour})
	for i := range 3 {
		if err := live.Add(t.Context(), liveReport(i, i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := live.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(refusals)+1 {
		t.Fatalf("%d attempts, want %d (WithRetries(0) does not cap live batches): %v", len(ids), len(refusals)+1, ids)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("attempts carried IDs %v, want one content-derived ID", ids)
		}
	}
	if seen := got.messages(); len(seen) != 3 || seen["m0"] != 1 {
		t.Fatalf("messages stored %v, want m0..m2 once", seen)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var waits []time.Duration
	for _, a := range rec.attempts {
		if a.Err != nil {
			waits = append(waits, a.Wait)
		}
	}
	if len(waits) != len(refusals) {
		t.Fatalf("waits %v", waits)
	}
	if waits[1] != 7*time.Second {
		t.Errorf("wait after resource_exhausted = %v, want the server's 7 s", waits[1])
	}
	if waits[3] != time.Minute {
		t.Errorf("wait after invalid_argument = %v, want the maximum", waits[3])
	}
	// Backoff doubles per attempt from 1 s up to the 1 min cap, jittered
	// into [d/2, d].
	for i, n := range map[int]int{0: 1, 2: 3, 4: 5, 7: 8} {
		d := min(time.Second<<(n-1), time.Minute)
		if waits[i] < d/2 || waits[i] > d {
			t.Errorf("wait after attempt %d = %v, want %v..%v", n, waits[i], d/2, d)
		}
	}
}

// Memory stays bounded: Add blocks while Backlog messages wait, and goes
// on once a batch is accepted; Close with a deadline says what is left.
func TestLiveBacklogIsBounded(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var got batches
	svc := &fakeSync{SyncBatchFn: func(ctx context.Context, req *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		got.add(req)
		return accept(ctx, req)
	}}
	c := newClient(t, svc, testSecret, client.WithCallTimeout(0))
	live := c.Live(client.LiveConfig{FlushInterval: time.Millisecond, FlushMessages: 2, Backlog: 4})
	for i := range 4 {
		if err := live.Add(t.Context(), liveReport(i, i)); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := live.Add(short, liveReport(4, 4)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Add over the backlog = %v, want it to block until its deadline", err)
	}
	if p := live.Pending(); p != 4 {
		t.Fatalf("Pending = %d, want 4", p)
	}
	added := make(chan error, 1)
	go func() { added <- live.Add(t.Context(), liveReport(4, 4)) }()
	close(release)
	if err := <-added; err != nil {
		t.Fatal(err)
	}
	ctx, cancel2 := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel2()
	if err := live.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if seen := got.messages(); len(seen) != 5 {
		t.Fatalf("messages %v, want 5", seen)
	}

	// A server that never accepts: Close gives up at its deadline, saying
	// how much is left.
	down := newClient(t, &fakeSync{SyncBatchFn: func(context.Context, *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("down"))
	}}, testSecret, client.WithBackoff(time.Millisecond, 10*time.Millisecond))
	stuck := down.Live(client.LiveConfig{FlushInterval: time.Millisecond})
	if err := stuck.Add(t.Context(), liveReport(0, 0)); err != nil {
		t.Fatal(err)
	}
	soon, cancel3 := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel3()
	if err := stuck.Close(soon); err == nil || !strings.Contains(err.Error(), "1 messages not yet accepted") {
		t.Fatalf("Close against a down server = %v", err)
	}
	if p := stuck.Pending(); p != 1 {
		t.Fatalf("Pending after Close = %d, want 1", p)
	}
}

// rateLimited is the server's refusal over a rate limit, with retry-after.
func rateLimited(secs int) error {
	e := connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("rate limit of 600 live SyncBatch calls per minute for session 42 exceeded; retry after %d s", secs))
	e.Meta().Set("retry-after", fmt.Sprint(secs))
	return e
}

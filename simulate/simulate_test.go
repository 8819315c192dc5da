package simulate_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/client"
	"github.com/chatsync/chatsync/client/clienttest"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/simulate"
)

const (
	sessionID = "42"
	secret    = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

// syncServer is a SyncService that records what it accepts (deduplicating
// by batch ID, as the real server does) and measures calls in flight.
type syncServer struct {
	chatsyncv1connect.UnimplementedSyncServiceHandler

	// failFn, when set, may fail a call (n counts calls of that batch ID from 1).
	failFn func(batchID string, n int) error
	// gateAt, when > 0, holds history calls until that many are in flight
	// at once (or 10 s pass).
	gateAt   int32
	gate     chan struct{}
	gateOnce sync.Once

	inFlight, maxInFlight atomic.Int32

	mu      sync.Mutex
	calls   map[string]int
	batches map[string]*chatsyncv1.SyncBatchRequest
}

func newSyncServer() *syncServer {
	return &syncServer{calls: map[string]int{}, batches: map[string]*chatsyncv1.SyncBatchRequest{}}
}

func (s *syncServer) SyncBatch(_ context.Context, req *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for m := s.maxInFlight.Load(); n > m && !s.maxInFlight.CompareAndSwap(m, n); m = s.maxInFlight.Load() {
	}
	if s.gateAt > 0 && req.GetKind() == chatsyncv1.BatchKind_BATCH_KIND_HISTORY {
		if n >= s.gateAt {
			s.gateOnce.Do(func() { close(s.gate) })
		}
		select {
		case <-s.gate:
		case <-time.After(10 * time.Second):
			return nil, connect.NewError(connect.CodeDeadlineExceeded, errors.New("gate never opened"))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[req.GetBatchId()]++
	if s.failFn != nil {
		if err := s.failFn(req.GetBatchId(), s.calls[req.GetBatchId()]); err != nil {
			return nil, err
		}
	}
	res := &chatsyncv1.SyncBatchResponse{BatchId: req.GetBatchId(), Status: chatsyncv1.BatchStatus_BATCH_STATUS_QUEUED}
	if _, seen := s.batches[req.GetBatchId()]; seen {
		res.Duplicate = true
		return res, nil
	}
	s.batches[req.GetBatchId()] = req
	res.AcceptedCount = int32(len(req.GetChats()))
	return res, nil
}

func (s *syncServer) accepted() map[string]*chatsyncv1.SyncBatchRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*chatsyncv1.SyncBatchRequest, len(s.batches))
	for k, v := range s.batches {
		out[k] = v
	}
	return out
}

func params(t *testing.T, srvURL string) simulate.Params {
	t.Helper()
	p := simulate.DefaultParams()
	p.URL, p.SessionID, p.Secret = srvURL, sessionID, secret
	p.Chats, p.Messages, p.Participants, p.BatchSize, p.Concurrency = 23, 3, 4, 5, 3
	p.LiveMessages, p.LiveRate = 0, 0
	p.Backoff = time.Millisecond
	p.Start = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	return p
}

func start(t *testing.T, s *syncServer) simulate.Params {
	t.Helper()
	srv := clienttest.NewServer(t, s, map[string]string{sessionID: secret})
	p := params(t, srv.URL)
	p.HTTPClient = srv.Client()
	return p
}

// toInput converts a generated chat to the domain type, so the server's own
// validation judges it.
func toInput(c *chatsyncv1.SyncChat) chatsync.ChatInput {
	in := chatsync.ChatInput{
		JID: c.GetJid(), Name: c.GetName(), UnreadCount: new(c.GetUnreadCount()),
		Archived: new(c.GetArchived()), Pinned: new(c.GetPinned()), LastActivity: c.GetLastActivityTime().AsTime(),
	}
	switch c.GetType() {
	case chatsyncv1.ChatType_CHAT_TYPE_PRIVATE:
		in.Type = chatsync.ChatPrivate
	case chatsyncv1.ChatType_CHAT_TYPE_GROUP:
		in.Type = chatsync.ChatGroup
	}
	if ct := c.GetContact(); ct != nil {
		in.Contact = &chatsync.ContactInput{JID: ct.GetJid(), Phone: ct.GetPhone(), PushName: ct.GetPushName()}
	}
	if g := c.GetGroup(); g != nil {
		in.Group = &chatsync.GroupInput{Subject: g.GetSubject(), Description: g.GetDescription(), OwnerJID: g.GetOwnerJid()}
		for _, p := range g.GetParticipants() {
			role := map[chatsyncv1.ParticipantRole]chatsync.Role{
				chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_MEMBER:     chatsync.RoleMember,
				chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_ADMIN:      chatsync.RoleAdmin,
				chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_SUPERADMIN: chatsync.RoleSuperAdmin,
			}[p.GetRole()]
			in.Group.Participants = append(in.Group.Participants, chatsync.ParticipantInput{JID: p.GetJid(), Phone: p.GetPhone(), Role: role})
		}
	}
	for _, m := range c.GetMessages() {
		in.Messages = append(in.Messages, chatsync.MessageInput{ID: m.GetId(), SenderJID: m.GetSenderJid(), FromMe: m.GetFromMe(), Timestamp: m.GetTimestamp().AsTime(), Text: m.GetText()})
	}
	return in
}

func TestRun(t *testing.T) {
	t.Parallel()
	batchID := regexp.MustCompile(`^(sim-[A-Za-z0-9._:-]+-h[0-9]{6}|live-[0-9a-f]{40})$`)
	tests := []struct {
		name   string
		modify func(*simulate.Params)
	}{
		{name: "connect", modify: func(*simulate.Params) {}},
		{name: "json", modify: func(p *simulate.Params) { p.Protocol = client.ProtocolConnectJSON }},
		{name: "grpc", modify: func(p *simulate.Params) { p.Protocol = client.ProtocolGRPC }},
		{name: "only groups", modify: func(p *simulate.Params) { p.GroupEvery = 1 }},
		{name: "no groups, one per batch", modify: func(p *simulate.Params) { p.GroupEvery, p.BatchSize = 0, 1 }},
		{name: "with live messages", modify: func(p *simulate.Params) { p.LiveMessages = 6 }},
		{name: "live during history", modify: func(p *simulate.Params) {
			p.LiveMessages, p.LiveDuringHistory, p.LiveFlushMessages = 30, true, 4
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSyncServer()
			p := start(t, s)
			tt.modify(&p)
			sum, err := simulate.Run(t.Context(), p)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}

			var chats, groups, messages, live, liveChats int
			jids, liveIDs := map[string]bool{}, map[string]bool{}
			for id, b := range s.accepted() {
				if !batchID.MatchString(id) || len(id) > 64 {
					t.Errorf("batch ID %q breaks the API's rule", id)
				}
				if b.GetSessionId() != sessionID {
					t.Errorf("batch %s names session %q", id, b.GetSessionId())
				}
				if b.GetKind() == chatsyncv1.BatchKind_BATCH_KIND_LIVE {
					// Coalesced: a chat once per batch, at most
					// LiveFlushMessages messages a batch.
					n := 0
					for _, c := range b.GetChats() {
						liveChats++
						for _, m := range c.GetMessages() {
							live++
							n++
							liveIDs[m.GetId()] = true
						}
					}
					if limit := cmp.Or(p.LiveFlushMessages, client.DefaultFlushMessages); n > limit {
						t.Errorf("live batch %s: %d messages, more than %d", id, n, limit)
					}
					continue
				}
				if len(b.GetChats()) > p.BatchSize {
					t.Errorf("batch %s has %d chats, more than %d", id, len(b.GetChats()), p.BatchSize)
				}
				for _, c := range b.GetChats() {
					chats++
					jids[c.GetJid()] = true
					messages += len(c.GetMessages())
					in := toInput(c)
					if err := in.Validate(p.Start); err != nil {
						t.Errorf("chat %s would be rejected: %v", c.GetJid(), err)
					}
					if c.GetType() != chatsyncv1.ChatType_CHAT_TYPE_GROUP {
						continue
					}
					groups++
					checkGroup(t, c, p.Participants)
				}
			}
			wantGroups := 0
			for i := range p.Chats {
				if p.GroupEvery > 0 && (i+1)%p.GroupEvery == 0 {
					wantGroups++
				}
			}
			if chats != p.Chats || len(jids) != p.Chats {
				t.Errorf("server got %d chats (%d distinct), want %d", chats, len(jids), p.Chats)
			}
			if groups != wantGroups {
				t.Errorf("server got %d groups, want %d", groups, wantGroups)
			}
			if messages != p.Chats*p.Messages {
				t.Errorf("server got %d messages, want %d", messages, p.Chats*p.Messages)
			}
			if live != p.LiveMessages || len(liveIDs) != p.LiveMessages || sum.LiveMessages != p.LiveMessages {
				t.Errorf("live messages: server %d (%d distinct), summary %d, want %d", live, len(liveIDs), sum.LiveMessages, p.LiveMessages)
			}
			if p.LiveMessages > 0 && (sum.LiveLatency.Count != p.LiveMessages || sum.LiveBatches == 0) {
				t.Errorf("live latency over %d messages in %d batches, want %d messages", sum.LiveLatency.Count, sum.LiveBatches, p.LiveMessages)
			}
			wantBatches := (p.Chats + p.BatchSize - 1) / p.BatchSize
			if sum.Chats != p.Chats || sum.Accepted != p.Chats+liveChats || sum.Batches != wantBatches || sum.Messages != messages {
				t.Errorf("summary %+v disagrees with the server (%d chats, %d batches)", sum, chats, wantBatches)
			}
			if sum.FailedBatches != 0 || len(sum.Errors) != 0 || sum.Duplicates != 0 {
				t.Errorf("summary reports failures: %+v", sum)
			}
			l := sum.Latency
			if l.Count != wantBatches || l.P50 <= 0 || l.P50 > l.P95 || l.P95 > l.P99 || l.P99 > l.Max {
				t.Errorf("latency %+v: want %d ordered samples", l, wantBatches)
			}
			if sum.ChatsPerSecond <= 0 {
				t.Errorf("chats/s = %v", sum.ChatsPerSecond)
			}
			if m := s.maxInFlight.Load(); m > int32(p.Concurrency) {
				t.Errorf("%d calls in flight, more than %d", m, p.Concurrency)
			}
		})
	}
}

func checkGroup(t *testing.T, c *chatsyncv1.SyncChat, k int) {
	t.Helper()
	g := c.GetGroup()
	if len(g.GetParticipants()) != k {
		t.Errorf("group %s has %d participants, want %d", c.GetJid(), len(g.GetParticipants()), k)
	}
	supers := 0
	members := map[string]bool{}
	for _, p := range g.GetParticipants() {
		members[p.GetJid()] = true
		if p.GetRole() == chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_SUPERADMIN {
			supers++
			if p.GetJid() != g.GetOwnerJid() {
				t.Errorf("group %s: superadmin %s is not the owner %s", c.GetJid(), p.GetJid(), g.GetOwnerJid())
			}
		}
	}
	if supers != 1 {
		t.Errorf("group %s has %d superadmins, want 1", c.GetJid(), supers)
	}
	for _, m := range c.GetMessages() {
		if !members[m.GetSenderJid()] {
			t.Errorf("group %s: message from %q, not a member", c.GetJid(), m.GetSenderJid())
		}
	}
}

func TestRunReachesConcurrency(t *testing.T) {
	t.Parallel()
	s := newSyncServer()
	p := start(t, s)
	p.Chats, p.BatchSize, p.Concurrency = 40, 5, 4
	// The server holds calls until all four callers are inside it at once.
	s.gateAt, s.gate = int32(p.Concurrency), make(chan struct{})
	if _, err := simulate.Run(t.Context(), p); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if m := s.maxInFlight.Load(); m != int32(p.Concurrency) {
		t.Errorf("max in flight = %d, want exactly %d", m, p.Concurrency)
	}
}

func TestRunIsDeterministic(t *testing.T) {
	t.Parallel()
	s := newSyncServer()
	p := start(t, s)
	p.LiveMessages = 3
	first, err := simulate.Run(t.Context(), p)
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	sent := s.accepted()

	// The same run again against the same server, with other concurrency:
	// the same batch IDs, so every batch is a duplicate.
	p.Concurrency = 1
	second, err := simulate.Run(t.Context(), p)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	// Live batches carry the time they were sent, so they are new batches;
	// their messages keep their IDs, which the store deduplicates.
	if second.Duplicates < first.Batches || second.Accepted > second.LiveMessages {
		t.Errorf("rerun: %d duplicates and %d accepted, want every one of the %d history batches a duplicate",
			second.Duplicates, second.Accepted, first.Batches)
	}

	// The same run against a fresh server: the same history content.
	fresh := newSyncServer()
	p3 := start(t, fresh)
	p3.LiveMessages, p3.Concurrency = 3, 2
	if _, err := simulate.Run(t.Context(), p3); err != nil {
		t.Fatalf("third run: %v", err)
	}
	got := fresh.accepted()
	if len(got) != len(sent) {
		t.Fatalf("rerun sent %d batches, first run %d", len(got), len(sent))
	}
	for id, b := range sent {
		if b.GetKind() == chatsyncv1.BatchKind_BATCH_KIND_LIVE {
			continue // live messages carry the time they were sent
		}
		if !proto.Equal(b, got[id]) {
			t.Errorf("batch %s differs between runs", id)
		}
	}

	// Another seed changes the content.
	other := newSyncServer()
	p4 := start(t, other)
	p4.Seed, p4.RunID = 99, "seed99"
	if _, err := simulate.Run(t.Context(), p4); err != nil {
		t.Fatalf("seed run: %v", err)
	}
	same := 0
	for id, b := range other.accepted() {
		if proto.Equal(b.GetChats()[0], sent[strings.Replace(id, "seed99", p.RunID, 1)].GetChats()[0]) {
			same++
		}
	}
	if same == len(other.accepted()) {
		t.Error("a different seed generated identical chats")
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		fail        func(batchID string, n int) error
		wantFailed  int
		wantErrors  map[string]int
		wantRetries int
		wantChats   int
	}{
		{
			name: "one batch invalid",
			fail: func(id string, _ int) error {
				if strings.HasSuffix(id, "h000002") {
					return connect.NewError(connect.CodeInvalidArgument, errors.New("batch_id"))
				}
				return nil
			},
			wantFailed: 1, wantErrors: map[string]int{"invalid_argument": 1}, wantChats: 23 - 5,
		},
		{
			name: "transient failures retried",
			fail: func(id string, n int) error {
				if n == 1 && (strings.HasSuffix(id, "h000000") || strings.HasSuffix(id, "h000003")) {
					return connect.NewError(connect.CodeUnavailable, errors.New("database down"))
				}
				return nil
			},
			wantErrors: map[string]int{}, wantRetries: 2, wantChats: 23,
		},
		{
			name: "rate limited",
			fail: func(id string, n int) error {
				if n == 1 && strings.HasSuffix(id, "h000001") {
					e := connect.NewError(connect.CodeResourceExhausted, errors.New("rate limit: retry after 0.001 s"))
					e.Meta().Set("Retry-After", "0.001")
					return e
				}
				return nil
			},
			wantErrors: map[string]int{}, wantRetries: 1, wantChats: 23,
		},
		{
			name:       "always unavailable",
			fail:       func(string, int) error { return connect.NewError(connect.CodeUnavailable, errors.New("down")) },
			wantFailed: 5, wantErrors: map[string]int{"unavailable": 5}, wantRetries: 5 * 3, wantChats: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSyncServer()
			s.failFn = tt.fail
			p := start(t, s)
			sum, err := simulate.Run(t.Context(), p)
			if err != nil {
				t.Fatalf("Run: %v (failed batches are counted, not fatal)", err)
			}
			if sum.FailedBatches != tt.wantFailed || !equalMaps(sum.Errors, tt.wantErrors) || sum.Retries != tt.wantRetries {
				t.Errorf("failed %d, errors %v, retries %d; want %d, %v, %d",
					sum.FailedBatches, sum.Errors, sum.Retries, tt.wantFailed, tt.wantErrors, tt.wantRetries)
			}
			if sum.Chats != tt.wantChats || len(s.accepted()) != sum.Batches {
				t.Errorf("summary counts %d chats in %d batches, server has %d batches; want %d chats",
					sum.Chats, sum.Batches, len(s.accepted()), tt.wantChats)
			}
		})
	}
}

func equalMaps(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestRunStops(t *testing.T) {
	t.Parallel()
	t.Run("wrong secret", func(t *testing.T) {
		t.Parallel()
		s := newSyncServer()
		p := start(t, s)
		p.Secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		p.Concurrency = 1
		sum, err := simulate.Run(t.Context(), p)
		if !errors.Is(err, client.ErrUnauthenticated) {
			t.Fatalf("Run error = %v, want ErrUnauthenticated", err)
		}
		if sum.Errors["unauthenticated"] != 1 || sum.Retries != 0 {
			t.Errorf("summary %+v: want one unauthenticated call and no retries", sum)
		}
		if len(s.accepted()) != 0 {
			t.Error("the server accepted batches with a wrong secret")
		}
	})
	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		s := newSyncServer()
		p := start(t, s)
		p.Concurrency = 1
		ctx, cancel := context.WithCancel(t.Context())
		p.Progress = func(simulate.Progress) { cancel() }
		sum, err := simulate.Run(ctx, p)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run error = %v, want context.Canceled", err)
		}
		if sum.Batches < 1 || sum.Batches >= 5 || sum.FailedBatches != 0 {
			t.Errorf("summary %+v: want the run cut short without failures", sum)
		}
	})
}

// fakeClock advances only when the run sleeps, so pacing is checked without
// waiting. It starts at the real time because the server checks the
// signature's timestamp.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func TestRunLivePacing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		rate      float64
		n         int
		wantSleep time.Duration // total
	}{
		{name: "10 per second", rate: 10, n: 5, wantSleep: 400 * time.Millisecond},
		{name: "2 per second", rate: 2, n: 3, wantSleep: time.Second},
		{name: "unpaced", rate: 0, n: 4, wantSleep: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSyncServer()
			p := start(t, s)
			clock := &fakeClock{now: time.Now()}
			p.Now, p.Sleep = clock.Now, clock.Sleep
			p.LiveRate, p.LiveMessages = tt.rate, tt.n
			sum, err := simulate.Run(t.Context(), p)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			var total time.Duration
			for _, d := range clock.sleeps {
				total += d
			}
			if total != tt.wantSleep {
				t.Errorf("slept %v in total (%v), want %v", total, clock.sleeps, tt.wantSleep)
			}
			if sum.LiveMessages != tt.n || sum.LiveDuration != tt.wantSleep {
				t.Errorf("live %d in %v, want %d in %v", sum.LiveMessages, sum.LiveDuration, tt.n, tt.wantSleep)
			}
		})
	}
}

func TestProgress(t *testing.T) {
	t.Parallel()
	s := newSyncServer()
	p := start(t, s)
	p.LiveMessages = 2
	var got []simulate.Progress
	var buf bytes.Buffer
	bar := simulate.ProgressBar(&buf, 10)
	p.Progress = func(pr simulate.Progress) {
		got = append(got, pr) // calls are serialised: no lock needed
		bar(pr)
	}
	if _, err := simulate.Run(t.Context(), p); err != nil {
		t.Fatalf("Run: %v", err)
	}
	history := (p.Chats + p.BatchSize - 1) / p.BatchSize
	if len(got) < history+1 || len(got) > history+p.LiveMessages {
		t.Fatalf("%d progress calls, want %d history ones and one per live batch", len(got), history)
	}
	last := got[len(got)-1]
	if last.Phase != simulate.PhaseLive || last.Done != last.Total || last.ChatsSent != p.Chats {
		t.Errorf("last progress %+v", last)
	}
	for i := 1; i < len(got); i++ {
		// History counts batches, live messages (a batch holds one or more).
		if step := got[i].Done - got[i-1].Done; got[i].Phase == got[i-1].Phase && (step < 1 || got[i].Phase == simulate.PhaseHistory && step != 1) {
			t.Errorf("progress %d: done %d after %d", i, got[i].Done, got[i-1].Done)
		}
	}
	out := buf.String()
	wantLine := fmt.Sprintf("history [##########] %d/%d batches  %d chats", (p.Chats+p.BatchSize-1)/p.BatchSize, (p.Chats+p.BatchSize-1)/p.BatchSize, p.Chats)
	if !strings.Contains(out, wantLine) {
		t.Errorf("progress bar lacks %q:\n%q", wantLine, out)
	}
}

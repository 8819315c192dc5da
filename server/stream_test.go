package server_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/events"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/server"
	"github.com/chatsync/chatsync/server/servertest"
	"github.com/chatsync/chatsync/worker"
	"github.com/chatsync/chatsync/worker/tasks"
)

// deadline bounds every wait for an event; a healthy run takes
// milliseconds, so it only decides how long a broken one hangs.
const deadline = 15 * time.Second

// stream is an open StreamChatUpdates call whose messages a goroutine
// pumps into a channel, so tests wait on it with a deadline.
type stream struct {
	msgs   chan *chatsyncv1.StreamChatUpdatesResponse
	err    chan error
	cancel context.CancelFunc
}

// openStream opens a stream and waits for its first message, the
// heartbeat the server sends once the subscription is live: events
// published after openStream returns reach it.
func openStream(t *testing.T, c servertest.Clients, req *chatsyncv1.StreamChatUpdatesRequest) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	st, err := c.Chat.StreamChatUpdates(ctx, req)
	if err != nil {
		cancel()
		t.Fatalf("StreamChatUpdates: %v", err)
	}
	s := &stream{msgs: make(chan *chatsyncv1.StreamChatUpdatesResponse, 4096), err: make(chan error, 1), cancel: cancel}
	go func() {
		defer close(s.msgs)
		for st.Receive() {
			s.msgs <- st.Msg()
		}
		s.err <- st.Err()
		st.Close()
	}()
	t.Cleanup(cancel)
	first := s.recv(t)
	if first.GetHeartbeat() == nil || first.GetEventId() != "" {
		t.Fatalf("first message = %v, want a heartbeat", first)
	}
	return s
}

// recv returns the next message, heartbeats included.
func (s *stream) recv(t *testing.T) *chatsyncv1.StreamChatUpdatesResponse {
	t.Helper()
	select {
	case m, ok := <-s.msgs:
		if !ok {
			t.Fatalf("stream ended: %v", <-s.err)
		}
		return m
	case <-time.After(deadline):
		t.Fatal("no message before the deadline")
	}
	return nil
}

// next returns the next event, skipping heartbeats.
func (s *stream) next(t *testing.T) *chatsyncv1.StreamChatUpdatesResponse {
	t.Helper()
	for {
		if m := s.recv(t); m.GetHeartbeat() == nil {
			return m
		}
	}
}

// until collects events up to and including the first one stop accepts.
func (s *stream) until(t *testing.T, stop func(*chatsyncv1.StreamChatUpdatesResponse) bool) []*chatsyncv1.StreamChatUpdatesResponse {
	t.Helper()
	var out []*chatsyncv1.StreamChatUpdatesResponse
	for {
		m := s.next(t)
		out = append(out, m)
		if stop(m) {
			return out
		}
	}
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// replicas are two servers sharing one store and one Redis database, as
// two replicas behind a load balancer.
func replicas(t *testing.T, o servertest.Options) (*servertest.Env, *servertest.Env) {
	t.Helper()
	o.RedisDB = redisDB
	one := servertest.New(t, o)
	o.Store = one.Store
	two := servertest.New(t, o)
	return one, two
}

// chatEvent is a chat_upserted event of a session of a workspace.
func chatEvent(ws, session int64, name string) chatsync.Event {
	return chatsync.Event{
		Type: chatsync.EventChatUpserted, WorkspaceID: ws, SessionID: session, Time: time.Now().UTC(),
		Chat: &chatsync.ChatView{ID: 1, WorkspaceID: ws, SessionID: session, JID: "628120000001@s.whatsapp.net", Type: chatsync.ChatPrivate, Name: name},
	}
}

func publish(t *testing.T, pub *events.Publisher, evs ...chatsync.Event) []string {
	t.Helper()
	ids, err := pub.Publish(t.Context(), evs...)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func eventIDs(ms []*chatsyncv1.StreamChatUpdatesResponse) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.GetEventId()
	}
	return out
}

// TestStreamFanOutToEveryReplica: a worker commits a batch; subscribers on
// two server replicas, one over Connect and one over gRPC, both receive
// every event of it, in the same order, with the same event IDs.
func TestStreamFanOutToEveryReplica(t *testing.T) {
	one, two := replicas(t, servertest.Options{})
	a := newTenant(t, one, "a", chatsync.ProviderWebJS)
	s1 := openStream(t, one.Clients(a.token), &chatsyncv1.StreamChatUpdatesRequest{})
	s2 := openStream(t, two.Clients(a.token, connect.WithGRPC()), &chatsyncv1.StreamChatUpdatesRequest{})

	session := fmt.Sprint(a.sessions[0].ID)
	req := &chatsyncv1.SyncBatchRequest{SessionId: session, BatchId: "live-1", Kind: chatsyncv1.BatchKind_BATCH_KIND_LIVE}
	for i := range 3 {
		c := &chatsyncv1.SyncChat{Jid: fmt.Sprintf("62812000000%d@s.whatsapp.net", i), Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE, Name: new(fmt.Sprint("chat ", i))}
		if i == 0 {
			for j := range 2 {
				c.Messages = append(c.Messages, &chatsyncv1.SyncMessage{Id: fmt.Sprint("m", j), Text: "hi", Timestamp: timestamppbNow()})
			}
		}
		req.Chats = append(req.Chats, c)
	}
	if _, err := one.Clients(a.token).Sync.SyncBatch(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	processBatch(t, one, a, "live-1")

	isProgress := func(m *chatsyncv1.StreamChatUpdatesResponse) bool { return m.GetSyncProgress() != nil }
	got1, got2 := s1.until(t, isProgress), s2.until(t, isProgress)
	if strings.Join(eventIDs(got1), ",") != strings.Join(eventIDs(got2), ",") {
		t.Fatalf("replicas saw different events:\n%v\n%v", eventIDs(got1), eventIDs(got2))
	}
	count := map[string]int{}
	for i, m := range got1 {
		if m.GetEventId() == "" || m.GetEventTime() == nil {
			t.Fatalf("event %d lacks event_id or event_time: %v", i, m)
		}
		switch {
		case m.GetChatUpserted() != nil:
			count["chat"]++
			if c := m.GetChatUpserted().GetChat(); c.GetSessionId() != session || c.GetProvider() != chatsyncv1.Provider_PROVIDER_WEBJS {
				t.Fatalf("chat_upserted %v", c)
			}
		case m.GetMessageAdded() != nil:
			count["message"]++
			if m.GetMessageAdded().GetSessionId() != session {
				t.Fatalf("message_added %v", m)
			}
		case m.GetSyncProgress() != nil:
			count["progress"]++
			if p := m.GetSyncProgress(); p.GetBatchId() != "live-1" || p.GetWrittenCount() != 3 || p.GetKind() != chatsyncv1.BatchKind_BATCH_KIND_LIVE {
				t.Fatalf("sync_progress %v", p)
			}
		}
	}
	if count["chat"] != 3 || count["message"] != 2 || count["progress"] != 1 || len(got1) != 6 {
		t.Fatalf("events %v (%d), want 3 chats, 2 messages, 1 progress", count, len(got1))
	}
}

// processBatch runs the worker's handler on an accepted batch, as the
// asynq server would.
func processBatch(t *testing.T, env *servertest.Env, tn tenant, batchID string) {
	t.Helper()
	b, err := env.Store.Batch(t.Context(), tn.ws, tn.sessions[0].ID, batchID)
	if err != nil {
		t.Fatal(err)
	}
	proc, err := worker.NewProcessor(worker.Params{Store: env.Store, Publisher: events.NewPublisher(env.Redis, 0), Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	task, err := tasks.NewSyncBatchTask(b.ID, b.Kind)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.HandleSyncBatch(t.Context(), task); err != nil {
		t.Fatalf("process batch %s: %v", batchID, err)
	}
}

// TestStreamResumeDeliversExactlyTheMissedEvents disconnects a client and
// resumes it on the other replica with its last event_id.
func TestStreamResumeDeliversExactlyTheMissedEvents(t *testing.T) {
	one, two := replicas(t, servertest.Options{})
	a := newTenant(t, one, "a", chatsync.ProviderWebJS)
	sid := a.sessions[0].ID
	pub := events.NewPublisher(one.Redis, 0)
	for _, p := range servertest.Protocols {
		t.Run(p.Name, func(t *testing.T) {
			s := openStream(t, one.Clients(a.token, p.Opts...), &chatsyncv1.StreamChatUpdatesRequest{})
			seen := publish(t, pub, chatEvent(a.ws, sid, "a"), chatEvent(a.ws, sid, "b"), chatEvent(a.ws, sid, "c"))
			var last string
			for _, want := range seen {
				if m := s.next(t); m.GetEventId() != want {
					t.Fatalf("event %s, want %s", m.GetEventId(), want)
				}
				last = want
			}
			s.cancel() // the client disconnects
			missed := publish(t, pub, chatEvent(a.ws, sid, "d"), chatEvent(a.ws, sid, "e"))
			missed = append(missed, publish(t, pub, chatEvent(a.ws, sid, "f"), chatEvent(a.ws, sid, "g"))...)

			r := openStream(t, two.Clients(a.token, p.Opts...), &chatsyncv1.StreamChatUpdatesRequest{ResumeToken: last})
			for i, want := range missed {
				m := r.next(t)
				if m.GetEventId() != want || m.GetChatUpserted().GetChat().GetName() != string(rune('d'+i)) {
					t.Fatalf("resumed event %d = %s %q, want %s", i, m.GetEventId(), m.GetChatUpserted().GetChat().GetName(), want)
				}
			}
			// Live events follow, with nothing repeated in between.
			live := publish(t, pub, chatEvent(a.ws, sid, "live"))
			if m := r.next(t); m.GetEventId() != live[0] {
				t.Fatalf("after the backlog: %s, want the live event %s", m.GetEventId(), live[0])
			}
		})
	}
}

// TestStreamResumeFromEvictedTokenIsOutOfRange: a token older than the
// retained history fails with out_of_range, never a silent gap.
func TestStreamResumeFromEvictedTokenIsOutOfRange(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	a := newTenant(t, env, "a", chatsync.ProviderWebJS)
	pub := events.NewPublisher(env.Redis, 10)
	first := publish(t, pub, chatEvent(a.ws, a.sessions[0].ID, "first"))
	evs := make([]chatsync.Event, 300) // trims the stream well past "first"
	for i := range evs {
		evs[i] = chatEvent(a.ws, a.sessions[0].ID, "x")
	}
	publish(t, pub, evs...)
	for _, p := range servertest.Protocols {
		t.Run(p.Name, func(t *testing.T) {
			st, err := env.Clients(a.token, p.Opts...).Chat.StreamChatUpdates(t.Context(), &chatsyncv1.StreamChatUpdatesRequest{ResumeToken: first[0]})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if st.Receive() {
				t.Fatalf("received %v from an evicted token", st.Msg())
			}
			if connect.CodeOf(st.Err()) != connect.CodeOutOfRange || !strings.Contains(st.Err().Error(), "reload") {
				t.Fatalf("err = %v, want out_of_range telling the client to reload", st.Err())
			}
		})
	}
}

// TestStreamEventsAndSessionFilter publishes one event of each type in two
// sessions; the filtered stream carries exactly its session's.
func TestStreamEventsAndSessionFilter(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	a := newTenant(t, env, "a", chatsync.ProviderWebJS, chatsync.ProviderWhatsmeow)
	s0, s1 := a.sessions[0].ID, a.sessions[1].ID
	all := openStream(t, env.Clients(a.token), &chatsyncv1.StreamChatUpdatesRequest{})
	only1 := openStream(t, env.Clients(a.token, connect.WithGRPC()), &chatsyncv1.StreamChatUpdatesRequest{SessionIds: []string{fmt.Sprint(s1)}})
	now := time.Now().UTC()
	each := func(sid int64) []chatsync.Event {
		return []chatsync.Event{
			chatEvent(a.ws, sid, "chat"),
			{Type: chatsync.EventMessageAdded, WorkspaceID: a.ws, SessionID: sid, Time: now,
				Message: &chatsync.Message{ID: 7, ChatID: 1, WAID: "W1", SentAt: now, Text: "hello", MediaType: chatsync.MediaImage}},
			{Type: chatsync.EventSessionStatus, WorkspaceID: a.ws, SessionID: sid, Time: now,
				Status: &chatsync.SessionStatusEvent{Status: chatsync.SessionLoggedOut, Reason: "logged out from the phone"}},
			{Type: chatsync.EventSyncProgress, WorkspaceID: a.ws, SessionID: sid, Time: now,
				Progress: &chatsync.SyncProgressEvent{BatchID: "b", Kind: chatsync.BatchHistory, WrittenCount: 9, FailedCount: 1, TotalSynced: 90, PendingBatches: 2}},
			{Type: chatsync.EventSyncFailed, WorkspaceID: a.ws, SessionID: sid, Time: now,
				Failure: &chatsync.SyncFailureEvent{BatchID: "c", Error: "boom", Attempts: 3}},
		}
	}
	pub := events.NewPublisher(env.Redis, 0)
	// Events the server cannot render (a type it does not know, a body
	// missing) are skipped, not sent empty.
	publish(t, pub, chatsync.Event{Type: "unknown", WorkspaceID: a.ws, SessionID: s1}, chatsync.Event{Type: chatsync.EventChatUpserted, WorkspaceID: a.ws, SessionID: s1})
	ids0 := publish(t, pub, each(s0)...)
	ids1 := publish(t, pub, each(s1)...)

	check := func(t *testing.T, got []*chatsyncv1.StreamChatUpdatesResponse, ids []string, session string) {
		t.Helper()
		if strings.Join(eventIDs(got), ",") != strings.Join(ids, ",") {
			t.Fatalf("event IDs %v, want %v", eventIDs(got), ids)
		}
		if c := got[0].GetChatUpserted().GetChat(); c.GetName() != "chat" || c.GetSessionId() != session {
			t.Fatalf("chat_upserted %v", got[0])
		}
		if m := got[1].GetMessageAdded(); m.GetSessionId() != session || m.GetMessage().GetId() != "W1" || m.GetMessage().GetMediaType() != chatsyncv1.MediaType_MEDIA_TYPE_IMAGE {
			t.Fatalf("message_added %v", got[1])
		}
		if s := got[2].GetSessionStatus(); s.GetSessionId() != session || s.GetStatus() != chatsyncv1.SessionStatus_SESSION_STATUS_LOGGED_OUT || s.GetReason() == "" {
			t.Fatalf("session_status %v", got[2])
		}
		if p := got[3].GetSyncProgress(); p.GetSessionId() != session || p.GetWrittenCount() != 9 || p.GetFailedCount() != 1 || p.GetTotalSynced() != 90 || p.GetPendingBatches() != 2 || p.GetKind() != chatsyncv1.BatchKind_BATCH_KIND_HISTORY {
			t.Fatalf("sync_progress %v", got[3])
		}
		if f := got[4].GetSyncFailed(); f.GetSessionId() != session || f.GetBatchId() != "c" || f.GetError() != "boom" || f.GetAttempts() != 3 {
			t.Fatalf("sync_failed %v", got[4])
		}
	}
	t.Run("all sessions", func(t *testing.T) {
		var got []*chatsyncv1.StreamChatUpdatesResponse
		for range 10 {
			got = append(got, all.next(t))
		}
		check(t, got[:5], ids0, fmt.Sprint(s0))
		check(t, got[5:], ids1, fmt.Sprint(s1))
	})
	t.Run("session filter", func(t *testing.T) {
		var got []*chatsyncv1.StreamChatUpdatesResponse
		for range 5 {
			got = append(got, only1.next(t))
		}
		check(t, got, ids1, fmt.Sprint(s1))
		for _, m := range got {
			if strings.Contains(m.String(), fmt.Sprintf("session_id:\"%d\"", s0)) {
				t.Fatalf("filtered stream carried session %d: %v", s0, m)
			}
		}
	})
}

// TestStreamOfOneWorkspaceCarriesNoneOfAnothers: B's chats change through
// the worker while A streams; A's stream carries only A's own marker.
func TestStreamOfOneWorkspaceCarriesNoneOfAnothers(t *testing.T) {
	one, two := replicas(t, servertest.Options{})
	a := newTenant(t, one, "a", chatsync.ProviderWebJS)
	b := newTenant(t, one, "b", chatsync.ProviderWebJS)
	sa := openStream(t, one.Clients(a.token), &chatsyncv1.StreamChatUpdatesRequest{})
	sa2 := openStream(t, two.Clients(a.token, connect.WithGRPC()), &chatsyncv1.StreamChatUpdatesRequest{})
	sb := openStream(t, two.Clients(b.token), &chatsyncv1.StreamChatUpdatesRequest{})
	if _, err := one.Clients(b.token).Sync.SyncBatch(t.Context(), &chatsyncv1.SyncBatchRequest{
		SessionId: fmt.Sprint(b.sessions[0].ID), BatchId: "b-1", Kind: chatsyncv1.BatchKind_BATCH_KIND_LIVE,
		Chats: []*chatsyncv1.SyncChat{{Jid: "628120000001@s.whatsapp.net", Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE, Name: new("B's customer")}},
	}); err != nil {
		t.Fatal(err)
	}
	processBatch(t, one, b, "b-1")
	got := sb.until(t, func(m *chatsyncv1.StreamChatUpdatesResponse) bool { return m.GetSyncProgress() != nil })
	if len(got) != 2 || got[0].GetChatUpserted().GetChat().GetName() != "B's customer" {
		t.Fatalf("B's stream: %v", got)
	}
	marker := publish(t, events.NewPublisher(one.Redis, 0), chatEvent(a.ws, a.sessions[0].ID, "A's marker"))
	for _, s := range []*stream{sa, sa2} {
		if m := s.next(t); m.GetEventId() != marker[0] {
			t.Fatalf("A's stream carried %v before its own marker", m)
		}
	}
}

// TestStreamHeartbeats: the first heartbeat comes at once, then one per
// idle interval.
func TestStreamHeartbeats(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Tune: func(p *server.Params) { p.Heartbeat = 20 * time.Millisecond }})
	a := newTenant(t, env, "a", chatsync.ProviderWebJS)
	s := openStream(t, env.Clients(a.token), &chatsyncv1.StreamChatUpdatesRequest{}) // got the first one
	for i := range 3 {
		if m := s.recv(t); m.GetHeartbeat() == nil || m.GetEventId() != "" || m.GetEventTime() == nil {
			t.Fatalf("idle message %d = %v, want a heartbeat", i, m)
		}
	}
}

// randomText is incompressible, so the HTTP/2 flow-control window fills.
func randomText(n int) string {
	b := make([]byte, n*3/4)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// TestSlowStreamIsDroppedAndResumes: a client that stops reading fills its
// HTTP/2 window, then its hub queue; the hub drops it instead of waiting,
// the publisher and a reading client never stall, and the slow client gets
// unavailable after what was queued, then resumes without loss.
func TestSlowStreamIsDroppedAndResumes(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, HubBuffer: 8})
	a := newTenant(t, env, "a", chatsync.ProviderWebJS)
	c := env.Clients(a.token)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// The slow client's HTTP/2 receive window is small (64 KiB instead of
	// 4 MiB), so a few hundred KiB of unread events stall the server's
	// writes to it.
	tr := env.HTTP.Transport.(*http.Transport).Clone()
	tr.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerStream: 64 << 10, MaxReceiveBufferPerConnection: 64 << 10}
	slowClient := chatsyncv1connect.NewChatServiceClient(&http.Client{Transport: tr}, env.URL, connect.WithInterceptors(bearerToken(a.token)))
	slow, err := slowClient.StreamChatUpdates(ctx, &chatsyncv1.StreamChatUpdatesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if !slow.Receive() || slow.Msg().GetHeartbeat() == nil {
		t.Fatalf("slow stream did not start: %v", slow.Err())
	}
	fast := openStream(t, env.Clients(a.token, connect.WithGRPC()), &chatsyncv1.StreamChatUpdatesRequest{})

	pub := events.NewPublisher(env.Redis, 0)
	const n = 200 // 200 × 4 KiB is well past the slow client's window
	var ids []string
	for i := range n {
		id := publish(t, pub, chatEvent(a.ws, a.sessions[0].ID, randomText(4<<10)))[0]
		ids = append(ids, id)
		if m := fast.next(t); m.GetEventId() != id {
			t.Fatalf("fast stream: event %d is %s, want %s", i, m.GetEventId(), id)
		}
	}
	// The slow client reads at last: what was buffered, then unavailable.
	var last string
	got := 0
	for slow.Receive() {
		if id := slow.Msg().GetEventId(); id != "" {
			if id != ids[got] {
				t.Fatalf("slow stream: event %d is %s, want %s", got, id, ids[got])
			}
			last = id
			got++
		}
	}
	if connect.CodeOf(slow.Err()) != connect.CodeUnavailable || !strings.Contains(slow.Err().Error(), "resume_token") {
		t.Fatalf("slow stream ended with %v, want unavailable telling it to resume", slow.Err())
	}
	if got == 0 || got >= n {
		t.Fatalf("slow stream got %d of %d events before it was dropped", got, n)
	}
	t.Logf("slow stream dropped after %d of %d events", got, n)
	r := openStream(t, c, &chatsyncv1.StreamChatUpdatesRequest{ResumeToken: last})
	for i := got; i < n; i++ {
		if m := r.next(t); m.GetEventId() != ids[i] {
			t.Fatalf("resumed event %d is %s, want %s", i, m.GetEventId(), ids[i])
		}
	}
}

func timestamppbNow() *timestamppb.Timestamp { return timestamppb.New(time.Now().Add(-time.Minute)) }

// bearerToken sends an API token on streams of clients built outside
// servertest.
type bearerToken string

func (b bearerToken) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }

func (b bearerToken) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (b bearerToken) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// TestFilteredStreamStillGetsHeartbeats: events of other sessions flow
// without pause, none pass the filter, and heartbeats still go out: idle
// time counts from the last message sent, not the last event read.
func TestFilteredStreamStillGetsHeartbeats(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Tune: func(p *server.Params) { p.Heartbeat = 50 * time.Millisecond }})
	a := newTenant(t, env, "a", chatsync.ProviderWebJS, chatsync.ProviderWebJS)
	s := openStream(t, env.Clients(a.token), &chatsyncv1.StreamChatUpdatesRequest{SessionIds: []string{fmt.Sprint(a.sessions[1].ID)}})
	// An unfiltered observer paces the publisher: the next event goes out
	// once the server delivered the last, so no queue ever overflows.
	observer := openStream(t, env.Clients(a.token), &chatsyncv1.StreamChatUpdatesRequest{})
	pub := events.NewPublisher(env.Redis, 0)
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	busy := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			ids, err := pub.Publish(ctx, chatEvent(a.ws, a.sessions[0].ID, "other session"))
			if err != nil {
				busy <- nil // cancelled
				return
			}
			for {
				select {
				case m, ok := <-observer.msgs:
					if !ok {
						busy <- errors.New("observer stream ended")
						return
					}
					if m.GetEventId() != ids[0] {
						continue // a heartbeat
					}
				case <-ctx.Done():
					busy <- nil
					return
				}
				break
			}
		}
		busy <- nil
	}()
	for i := range 3 {
		if m := s.recv(t); m.GetHeartbeat() == nil {
			t.Fatalf("message %d = %v, want only heartbeats", i, m)
		}
	}
	cancel()
	if err := <-busy; err != nil {
		t.Fatal(err)
	}
}

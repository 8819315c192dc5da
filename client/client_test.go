package client_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/chatsync/chatsync/client"
	"github.com/chatsync/chatsync/client/clienttest"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/signing"
)

// recorder replaces the client's sleep and observer, so backoff is checked
// without waiting.
type recorder struct {
	mu       sync.Mutex
	waits    []time.Duration
	attempts []client.Attempt
}

func (r *recorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, d)
	return ctx.Err()
}

func (r *recorder) observe(a client.Attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, a)
}

func (r *recorder) options() []client.Option {
	return []client.Option{client.WithSleep(r.sleep), client.WithObserver(r.observe)}
}

func newClient(t *testing.T, svc *fakeSync, secret string, opts ...client.Option) *client.Client {
	t.Helper()
	srv := clienttest.NewServer(t, svc, map[string]string{"42": testSecret})
	return client.New(srv.URL, "42", secret, append([]client.Option{client.WithHTTPClient(srv.Client())}, opts...)...)
}

func TestProtocols(t *testing.T) {
	t.Parallel()
	for _, p := range []client.Protocol{client.ProtocolConnect, client.ProtocolConnectJSON, client.ProtocolGRPC} {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			var gotProto atomic.Value
			svc := &fakeSync{
				SyncBatchFn: func(ctx context.Context, req *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
					if ci, ok := connect.CallInfoForHandlerContext(ctx); ok {
						gotProto.Store(ci.RequestHeader().Get("Content-Type"))
					}
					return accept(ctx, req)
				},
				GetSyncBatchFn: func(_ context.Context, req *chatsyncv1.GetSyncBatchRequest) (*chatsyncv1.GetSyncBatchResponse, error) {
					return &chatsyncv1.GetSyncBatchResponse{Batch: &chatsyncv1.SyncBatch{BatchId: req.GetBatchId(), Status: chatsyncv1.BatchStatus_BATCH_STATUS_COMPLETED}}, nil
				},
				CompleteCommandFn: func(_ context.Context, req *chatsyncv1.CompleteCommandRequest) (*chatsyncv1.CompleteCommandResponse, error) {
					if req.GetCommandId() != "c1" || req.GetMessageId() != "m1" {
						return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("unexpected command"))
					}
					return &chatsyncv1.CompleteCommandResponse{}, nil
				},
			}
			c := newClient(t, svc, testSecret, client.WithProtocol(p))

			res, err := c.SyncBatch(t.Context(), &chatsyncv1.SyncBatchRequest{
				BatchId: "b1", Kind: chatsyncv1.BatchKind_BATCH_KIND_HISTORY,
				Chats: []*chatsyncv1.SyncChat{{Jid: "15551234567@s.whatsapp.net"}, {Jid: "120363041234567890@g.us"}},
			})
			if err != nil {
				t.Fatalf("SyncBatch: %v", err)
			}
			if res.GetAcceptedCount() != 2 || res.GetBatchId() != "b1" {
				t.Errorf("SyncBatch = %v, want b1 with 2 accepted", res)
			}
			want := map[client.Protocol]string{client.ProtocolConnect: "application/proto", client.ProtocolConnectJSON: "application/json", client.ProtocolGRPC: "application/grpc"}[p]
			if got := gotProto.Load(); got != want {
				t.Errorf("server saw content type %v, want %s", got, want)
			}
			b, err := c.GetSyncBatch(t.Context(), "b1")
			if err != nil || b.GetStatus() != chatsyncv1.BatchStatus_BATCH_STATUS_COMPLETED {
				t.Errorf("GetSyncBatch = %v, %v; want completed", b, err)
			}
			if err := c.CompleteCommand(t.Context(), "c1", "", "m1"); err != nil {
				t.Errorf("CompleteCommand: %v", err)
			}
		})
	}
}

func TestWatchCommands(t *testing.T) {
	t.Parallel()
	svc := &fakeSync{WatchCommandsFn: func(_ context.Context, req *chatsyncv1.WatchCommandsRequest, s *connect.ServerStream[chatsyncv1.WatchCommandsResponse]) error {
		for _, id := range []string{"c1", "c2"} {
			cmd := &chatsyncv1.SidecarCommand{CommandId: id, Command: &chatsyncv1.SidecarCommand_Resync{Resync: &chatsyncv1.ResyncCommand{}}}
			if err := s.Send(&chatsyncv1.WatchCommandsResponse{Command: cmd}); err != nil {
				return err
			}
		}
		return nil
	}}
	tests := []struct {
		name   string
		secret string
		want   []string
		code   connect.Code
	}{
		{name: "signed", secret: testSecret, want: []string{"c1", "c2"}},
		{name: "wrong secret", secret: "nope", code: connect.CodeUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, svc, tt.secret, client.WithProtocol(client.ProtocolGRPC))
			stream, err := c.WatchCommands(t.Context())
			if err != nil {
				t.Fatalf("WatchCommands: %v", err)
			}
			defer stream.Close()
			var got []string
			for stream.Receive() {
				got = append(got, stream.Msg().GetCommand().GetCommandId())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("commands = %v, want %v", got, tt.want)
			}
			if code := connect.CodeOf(stream.Err()); stream.Err() != nil && code != tt.code || stream.Err() == nil && tt.code != 0 {
				t.Errorf("stream error = %v, want code %v", stream.Err(), tt.code)
			}
		})
	}
}

func TestSyncBatchRetries(t *testing.T) {
	t.Parallel()
	unavailable := connect.NewError(connect.CodeUnavailable, errors.New("database down"))
	withHeader := connect.NewError(connect.CodeResourceExhausted, errors.New("rate limit of 60 calls a minute"))
	withHeader.Meta().Set("Retry-After", "7")
	detail, err := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	withDetail := connect.NewError(connect.CodeResourceExhausted, errors.New("rate limit"))
	withDetail.AddDetail(detail)
	inMessage := connect.NewError(connect.CodeResourceExhausted, errors.New("rate limit of 60 calls a minute: retry after 12 s"))
	noHint := connect.NewError(connect.CodeResourceExhausted, errors.New("rate limit"))

	tests := []struct {
		name      string
		failures  []error // returned by the first calls, then success
		opts      []client.Option
		wantWaits []time.Duration
		wantCode  connect.Code // 0: success
		wantCalls int
	}{
		{name: "success", wantCalls: 1},
		{name: "unavailable twice", failures: []error{unavailable, unavailable}, wantWaits: []time.Duration{2 * time.Second, 4 * time.Second}, wantCalls: 3},
		{name: "retries exhausted", failures: []error{unavailable, unavailable, unavailable, unavailable}, wantWaits: []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second}, wantCode: connect.CodeUnavailable, wantCalls: 4},
		{name: "custom backoff", failures: []error{unavailable, unavailable}, opts: []client.Option{client.WithBackoff(10*time.Millisecond, 15*time.Millisecond)}, wantWaits: []time.Duration{10 * time.Millisecond, 15 * time.Millisecond}, wantCalls: 3},
		{name: "no retries", failures: []error{unavailable}, opts: []client.Option{client.WithRetries(0)}, wantCode: connect.CodeUnavailable, wantCalls: 1},
		{name: "retry-after header", failures: []error{withHeader}, wantWaits: []time.Duration{7 * time.Second}, wantCalls: 2},
		{name: "retry info detail", failures: []error{withDetail}, wantWaits: []time.Duration{1500 * time.Millisecond}, wantCalls: 2},
		{name: "seconds in message", failures: []error{inMessage}, wantWaits: []time.Duration{12 * time.Second}, wantCalls: 2},
		{name: "resource exhausted without hint", failures: []error{noHint}, wantWaits: []time.Duration{2 * time.Second}, wantCalls: 2},
		{name: "invalid argument not retried", failures: []error{connect.NewError(connect.CodeInvalidArgument, errors.New("batch_id"))}, wantCode: connect.CodeInvalidArgument, wantCalls: 1},
		{name: "internal retried", failures: []error{connect.NewError(connect.CodeInternal, errors.New("internal error"))}, wantWaits: []time.Duration{2 * time.Second}, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var batchIDs []string
			svc := &fakeSync{SyncBatchFn: func(ctx context.Context, req *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
				mu.Lock()
				n := len(batchIDs)
				batchIDs = append(batchIDs, req.GetBatchId())
				mu.Unlock()
				if n < len(tt.failures) {
					return nil, tt.failures[n]
				}
				return accept(ctx, req)
			}}
			var rec recorder
			c := newClient(t, svc, testSecret, append(rec.options(), tt.opts...)...)
			_, err := c.SyncBatch(t.Context(), &chatsyncv1.SyncBatchRequest{BatchId: "run:0001", Kind: chatsyncv1.BatchKind_BATCH_KIND_HISTORY})
			if got := connect.CodeOf(err); (err == nil) != (tt.wantCode == 0) || err != nil && got != tt.wantCode {
				t.Fatalf("SyncBatch error = %v, want code %v", err, tt.wantCode)
			}
			if len(batchIDs) != tt.wantCalls {
				t.Errorf("server saw %d calls, want %d", len(batchIDs), tt.wantCalls)
			}
			for _, id := range batchIDs {
				if id != "run:0001" {
					t.Errorf("retry changed the batch ID to %q", id)
				}
			}
			if !slices.Equal(rec.waits, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", rec.waits, tt.wantWaits)
			}
			if len(rec.attempts) != tt.wantCalls {
				t.Fatalf("observed %d attempts, want %d", len(rec.attempts), tt.wantCalls)
			}
			for i, a := range rec.attempts {
				if a.Number != i+1 || a.BatchID != "run:0001" {
					t.Errorf("attempt %d = %+v", i, a)
				}
				if i < len(tt.wantWaits) && a.Wait != tt.wantWaits[i] {
					t.Errorf("attempt %d wait = %v, want %v", i+1, a.Wait, tt.wantWaits[i])
				}
			}
		})
	}
}

func TestSyncBatchUnauthenticated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret string
		opts   []client.Option
	}{
		{name: "wrong secret", secret: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"},
		{name: "clock 301 s behind", secret: testSecret, opts: []client.Option{client.WithClock(func() time.Time { return time.Now().Add(-301 * time.Second) })}},
		{name: "server refuses outright", secret: testSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			svc := &fakeSync{SyncBatchFn: func(ctx context.Context, req *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
				calls.Add(1)
				if tt.name == "server refuses outright" {
					return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("secret rotated"))
				}
				return accept(ctx, req)
			}}
			var rec recorder
			c := newClient(t, svc, tt.secret, append(rec.options(), tt.opts...)...)
			_, err := c.SyncBatch(t.Context(), &chatsyncv1.SyncBatchRequest{BatchId: "b1"})
			if !errors.Is(err, client.ErrUnauthenticated) || connect.CodeOf(err) != connect.CodeUnauthenticated {
				t.Fatalf("SyncBatch error = %v, want ErrUnauthenticated", err)
			}
			if len(rec.attempts) != 1 || len(rec.waits) != 0 {
				t.Errorf("attempts %d, waits %v; want one attempt and no retry", len(rec.attempts), rec.waits)
			}
			if tt.name != "server refuses outright" && calls.Load() != 0 {
				t.Errorf("handler ran %d times for a bad signature", calls.Load())
			}
		})
	}
}

func TestSyncBatchSessionID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		sessionID string
		wantCode  connect.Code
	}{
		{name: "filled in", sessionID: ""},
		{name: "same", sessionID: "42"},
		{name: "other session", sessionID: "43", wantCode: connect.CodeUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, &fakeSync{SyncBatchFn: accept}, testSecret)
			_, err := c.SyncBatch(t.Context(), &chatsyncv1.SyncBatchRequest{SessionId: tt.sessionID, BatchId: "b1"})
			if connect.CodeOf(err) != tt.wantCode && !(err == nil && tt.wantCode == 0) {
				t.Errorf("SyncBatch error = %v, want code %v", err, tt.wantCode)
			}
			if c.SessionID() != "42" {
				t.Errorf("SessionID = %q", c.SessionID())
			}
		})
	}
}

func TestSyncBatchCallTimeout(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	svc := &fakeSync{SyncBatchFn: func(ctx context.Context, req *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
		if calls.Add(1) == 1 {
			<-ctx.Done() // the first attempt hangs until the client gives up
			return nil, ctx.Err()
		}
		return accept(ctx, req)
	}}
	var rec recorder
	// Long enough that the second, answered attempt never hits it on a
	// loaded machine; the first attempt waits it out either way.
	c := newClient(t, svc, testSecret, append(rec.options(), client.WithCallTimeout(time.Second))...)
	if _, err := c.SyncBatch(t.Context(), &chatsyncv1.SyncBatchRequest{BatchId: "b1"}); err != nil {
		t.Fatalf("SyncBatch: %v", err)
	}
	if len(rec.attempts) != 2 || connect.CodeOf(rec.attempts[0].Err) != connect.CodeDeadlineExceeded {
		t.Errorf("attempts = %+v, want a deadline exceeded then a success", rec.attempts)
	}
}

func TestSyncBatchCanceledWhileWaiting(t *testing.T) {
	t.Parallel()
	svc := &fakeSync{SyncBatchFn: func(context.Context, *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("down"))
	}}
	ctx, cancel := context.WithCancel(t.Context())
	sleep := func(ctx context.Context, _ time.Duration) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	c := newClient(t, svc, testSecret, client.WithSleep(sleep))
	_, err := c.SyncBatch(ctx, &chatsyncv1.SyncBatchRequest{BatchId: "b1"})
	if !errors.Is(err, context.Canceled) || connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("SyncBatch error = %v, want the unavailable error and context.Canceled", err)
	}
}

func TestDefaultSleepHonoursContext(t *testing.T) {
	t.Parallel()
	svc := &fakeSync{SyncBatchFn: func(context.Context, *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("down"))
	}}
	// The real sleep: a short backoff runs out, then the deadline ends the wait.
	c := newClient(t, svc, testSecret, client.WithBackoff(time.Millisecond, time.Hour))
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := c.SyncBatch(ctx, &chatsyncv1.SyncBatchRequest{BatchId: "b1"})
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("SyncBatch error = %v, want unavailable", err)
	}
}

func TestWithHTTPClientKeepsBase(t *testing.T) {
	t.Parallel()
	srv := clienttest.NewServer(t, &fakeSync{SyncBatchFn: accept}, map[string]string{"42": testSecret})
	var sent atomic.Int32
	base := srv.Client().Transport
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		if r.Header.Get(signing.HeaderSignature) == "" {
			t.Error("base transport got an unsigned request")
		}
		return base.RoundTrip(r)
	})}
	c := client.New(srv.URL, "42", testSecret, client.WithHTTPClient(hc), client.WithConnectOptions(connect.WithSendGzip()))
	if _, err := c.SyncBatch(t.Context(), &chatsyncv1.SyncBatchRequest{BatchId: "b1"}); err != nil {
		t.Fatalf("SyncBatch with gzip: %v", err)
	}
	if sent.Load() != 1 {
		t.Errorf("base transport sent %d requests, want 1", sent.Load())
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/migrations"
	"github.com/chatsync/chatsync/server/servertest"
	"github.com/chatsync/chatsync/store/storetest"
)

// redisDB is the Redis database of this package's tests.
const redisDB = 4

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// productionConfig runs on this test's PostgreSQL schema and Redis DB.
func productionConfig(t *testing.T) Config {
	t.Helper()
	servertest.Redis(t, redisDB) // flush
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := map[string]string{
		"DATABASE_URL":             storetest.PostgresURL(t),
		"REDIS_URL":                fmt.Sprintf("redis://%s/%d", servertest.RedisAddr(), redisDB),
		"CHATSYNC_SECRET_KEY":      hex.EncodeToString(key),
		"CHATSYNC_HTTP_ADDR":       "127.0.0.1:0",
		"CHATSYNC_BOOTSTRAP_TOKEN": "bootstrap-token",
		"CHATSYNC_RETRY_BASE":      "50ms",
		"CHATSYNC_DATA_DIR":        t.TempDir(),
	}
	cfg, err := configFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func embeddedConfig(t *testing.T) Config {
	t.Helper()
	env := map[string]string{
		"CHATSYNC_HTTP_ADDR":       "127.0.0.1:0",
		"CHATSYNC_BOOTSTRAP_TOKEN": "bootstrap-token",
		"CHATSYNC_DATA_DIR":        t.TempDir(),
	}
	cfg, err := configFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func start(t *testing.T, cfg Config) *Main {
	t.Helper()
	m := NewMain(cfg, quietLog())
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Bootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return m
}

// h2c is an HTTP client speaking HTTP/2 without TLS, as gRPC clients do
// against a local chatsync.
func h2c() *http.Client {
	tr := &http.Transport{}
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr}
}

type authed string

func (a authed) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(a))
		return next(ctx, req)
	}
}
func (a authed) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		c := next(ctx, spec)
		c.RequestHeader().Set("Authorization", "Bearer "+string(a))
		return c
	}
}
func (a authed) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// TestSlice is the foundation's proof: SyncBatch through the generated
// client, the chats through ListChats, and a chat_upserted event for each
// on an open StreamChatUpdates, on PostgreSQL + Redis and embedded, over
// Connect and over gRPC (h2c).
func TestSlice(t *testing.T) {
	for _, mode := range []struct {
		name string
		cfg  func(*testing.T) Config
	}{{"production", productionConfig}, {"embedded", embeddedConfig}} {
		for _, proto := range []struct {
			name string
			opts []connect.ClientOption
		}{{"connect", nil}, {"grpc", []connect.ClientOption{connect.WithGRPC()}}} {
			t.Run(mode.name+"/"+proto.name, func(t *testing.T) {
				m := start(t, mode.cfg(t))
				testSlice(t, m.URL(), append(proto.opts, connect.WithInterceptors(authed("bootstrap-token"))))
			})
		}
	}
}

func testSlice(t *testing.T, url string, opts []connect.ClientOption) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	hc := h2c()
	sessions := chatsyncv1connect.NewSessionServiceClient(hc, url, opts...)
	syncs := chatsyncv1connect.NewSyncServiceClient(hc, url, opts...)
	chats := chatsyncv1connect.NewChatServiceClient(hc, url, opts...)

	created, err := sessions.CreateSession(ctx, &chatsyncv1.CreateSessionRequest{DisplayName: "Support", Provider: chatsyncv1.Provider_PROVIDER_WEBJS})
	if err != nil {
		t.Fatal(err)
	}
	sid := created.GetSession().GetId()
	list, err := sessions.ListSessions(ctx, &chatsyncv1.ListSessionsRequest{})
	if err != nil || len(list.GetSessions()) != 1 || list.GetSessions()[0].GetId() != sid {
		t.Fatalf("ListSessions = %v, %v", list, err)
	}

	stream, err := chats.StreamChatUpdates(ctx, &chatsyncv1.StreamChatUpdatesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if !stream.Receive() || stream.Msg().GetHeartbeat() == nil {
		t.Fatalf("stream did not open with a heartbeat: %v", stream.Err())
	}

	now := time.Now().Add(-time.Minute)
	var in []*chatsyncv1.SyncChat
	for i := range 3 {
		in = append(in, &chatsyncv1.SyncChat{
			Jid: fmt.Sprintf("6281234567%03d@s.whatsapp.net", i), Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE,
			LastActivityTime: timestamppb.New(now.Add(time.Duration(i) * time.Second)),
			Contact:          &chatsyncv1.SyncContact{PushName: fmt.Sprintf("Person %d", i)},
			Messages:         []*chatsyncv1.SyncMessage{{Id: fmt.Sprintf("m%d", i), Timestamp: timestamppb.New(now.Add(time.Duration(i) * time.Second)), Text: "hello"}},
		})
	}
	res, err := syncs.SyncBatch(ctx, &chatsyncv1.SyncBatchRequest{SessionId: sid, BatchId: "slice-1", Kind: chatsyncv1.BatchKind_BATCH_KIND_HISTORY, Chats: in})
	if err != nil {
		t.Fatal(err)
	}
	if res.GetStatus() != chatsyncv1.BatchStatus_BATCH_STATUS_QUEUED || res.GetAcceptedCount() != 3 || res.GetDuplicate() {
		t.Fatalf("SyncBatch = %v", res)
	}

	seen := map[string]bool{}
	for len(seen) < 3 {
		if !stream.Receive() {
			t.Fatalf("stream ended: %v (saw %d chats)", stream.Err(), len(seen))
		}
		if c := stream.Msg().GetChatUpserted().GetChat(); c != nil {
			if stream.Msg().GetEventId() == "" || c.GetSessionId() != sid {
				t.Fatalf("event without id or of another session: %v", stream.Msg())
			}
			seen[c.GetJid()] = true
		}
	}
	got, err := chats.ListChats(ctx, &chatsyncv1.ListChatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.GetChats()) != 3 {
		t.Fatalf("ListChats returned %d chats", len(got.GetChats()))
	}
	for i, c := range got.GetChats() {
		if want := in[2-i].GetJid(); c.GetJid() != want {
			t.Fatalf("chat %d = %s, want %s (newest activity first)", i, c.GetJid(), want)
		}
		if c.GetPhone() == "" || c.GetName() == "" || c.GetLastMessagePreview() != "hello" {
			t.Fatalf("chat %d = %v", i, c)
		}
	}
	b, err := syncs.GetSyncBatch(ctx, &chatsyncv1.GetSyncBatchRequest{SessionId: sid, BatchId: "slice-1"})
	if err != nil {
		t.Fatal(err)
	}
	// The batch completes right after its last chunk's events.
	for b.GetBatch().GetStatus() != chatsyncv1.BatchStatus_BATCH_STATUS_COMPLETED {
		if ctx.Err() != nil {
			t.Fatalf("batch not completed: %v", b)
		}
		time.Sleep(20 * time.Millisecond)
		if b, err = syncs.GetSyncBatch(ctx, &chatsyncv1.GetSyncBatchRequest{SessionId: sid, BatchId: "slice-1"}); err != nil {
			t.Fatal(err)
		}
	}
	if b.GetBatch().GetWrittenCount() != 3 || b.GetBatch().GetAttempts() != 1 {
		t.Fatalf("batch = %v", b)
	}
}

func TestGracefulShutdownEndsStreams(t *testing.T) {
	m := NewMain(embeddedConfig(t), quietLog())
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Bootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	chats := chatsyncv1connect.NewChatServiceClient(h2c(), m.URL(), connect.WithInterceptors(authed("bootstrap-token")))
	stream, err := chats.StreamChatUpdates(t.Context(), &chatsyncv1.StreamChatUpdatesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() {
		t.Fatal(stream.Err())
	}
	done := make(chan error, 1)
	go func() { done <- m.Close() }()
	for stream.Receive() {
	}
	if code := connect.CodeOf(stream.Err()); code != connect.CodeUnavailable {
		t.Fatalf("stream ended with %v, want unavailable (reconnect and resume)", stream.Err())
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return")
	}
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CHATSYNC_DATA_DIR": dir}
	getenv := func(k string) string { return env[k] }
	runCmd := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(t.Context(), args, getenv, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	if out, err := runCmd("migrate", "status"); err != nil || !strings.Contains(out, "pending") {
		t.Fatalf("migrate status = %q, %v", out, err)
	}
	all, err := migrations.For("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := runCmd("migrate", "up"); err != nil || strings.Count(out, "applied") != len(all.Sorted()) {
		t.Fatalf("migrate up = %q, %v", out, err)
	}
	if out, err := runCmd("migrate", "up"); err != nil || !strings.Contains(out, "nothing to migrate") {
		t.Fatalf("second migrate up = %q, %v", out, err)
	}
	out, err := runCmd("token", "create", "--workspace", "acme")
	if err != nil || !strings.HasPrefix(out, "created workspace") && !strings.Contains(out, "cs_") {
		t.Fatalf("token create = %q, %v", out, err)
	}
	tok := strings.TrimSpace(strings.Split(out, "\n")[0])
	if !strings.HasPrefix(tok, "cs_") {
		tok = strings.TrimSpace(strings.Split(out, "\n")[1])
	}
	if out, err := runCmd("session", "create", "--workspace", "acme", "--name", "Line"); err != nil || !strings.Contains(out, "sidecar_secret=") {
		t.Fatalf("session create = %q, %v", out, err)
	}
	if out, err := runCmd("repair", "identities", "--workspace", "acme"); err != nil || !strings.Contains(out, "0 people: 0 chats merged") {
		t.Fatalf("repair identities = %q, %v", out, err)
	}
	if _, err := runCmd("repair", "identities", "--workspace", "nobody"); err == nil {
		t.Error("repair of a workspace that does not exist succeeded")
	}
	if _, err := runCmd("token", "revoke", "--workspace", "acme", tok); err != nil {
		t.Fatalf("token revoke: %v", err)
	}
	if _, err := runCmd("token", "revoke", "--workspace", "acme", tok); err == nil {
		t.Fatal("revoking twice succeeded")
	}
	if out, err := runCmd("migrate", "down"); err != nil || !strings.Contains(out, "reverted") {
		t.Fatalf("migrate down = %q, %v", out, err)
	}
	for _, bad := range [][]string{{}, {"nope"}, {"migrate"}, {"migrate", "sideways"}, {"token"}, {"token", "create"}, {"session", "create"}, {"simulate"}, {"repair"}, {"repair", "identities"}} {
		if _, err := runCmd(bad...); err == nil {
			t.Errorf("chatsync %v succeeded", bad)
		}
	}
	if out, err := runCmd("help"); err != nil || !strings.Contains(out, "chatsync serve") {
		t.Fatalf("help = %q, %v", out, err)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := map[string]map[string]string{
		"database without redis": {"DATABASE_URL": "postgres://x"},
		"production without key": {"DATABASE_URL": "postgres://x", "REDIS_URL": "redis://x"},
		"mysql":                  {"DATABASE_URL": "mysql://x", "REDIS_URL": "redis://x", "CHATSYNC_SECRET_KEY": strings.Repeat("ab", 32)},
		"short key":              {"CHATSYNC_SECRET_KEY": "abcd"},
		"bad bool":               {"CHATSYNC_SYNC_ENABLED": "maybe"},
		"bad rate":               {"CHATSYNC_SYNC_RATE_PER_MINUTE": "0"},
		"bad live rate":          {"CHATSYNC_SYNC_LIVE_RATE_PER_MINUTE": "-1"},
		"bad duration":           {"CHATSYNC_RETRY_BASE": "soon"},
		"bad role":               {"CHATSYNC_ROLE": "chef"},
		"embedded split role":    {"CHATSYNC_ROLE": "worker"},
		"bad log format":         {"CHATSYNC_LOG_FORMAT": "xml"},
		"bad log level":          {"CHATSYNC_LOG_LEVEL": "loud"},
		"bad yield latency":      {"CHATSYNC_YIELD_LATENCY": "-5ms"},
	}
	for name, env := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := configFromEnv(func(k string) string { return env[k] }); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	cfg, err := configFromEnv(func(string) string { return "" })
	if err != nil || !cfg.Embedded() || !cfg.SyncEnabled || cfg.SyncRatePerMinute != 60 || cfg.SyncLiveRatePerMinute != 600 || cfg.BodyTimeout != 30*time.Second || cfg.IdleTimeout != time.Minute || cfg.StreamsPerToken != 100 || cfg.HTTPAddr != "127.0.0.1:8080" || cfg.Role != "all" {
		t.Fatalf("defaults = %+v, %v", cfg, err)
	}
	if cfg.YieldLatency != 50*time.Millisecond || cfg.YieldMaxPause != 250*time.Millisecond || cfg.PprofAddr != "" {
		t.Fatalf("yield and pprof defaults = %v, %v, %q", cfg.YieldLatency, cfg.YieldMaxPause, cfg.PprofAddr)
	}
	off, err := configFromEnv(func(k string) string { return map[string]string{"CHATSYNC_YIELD_LATENCY": "0"}[k] })
	if err != nil || off.YieldLatency != 0 {
		t.Fatalf("CHATSYNC_YIELD_LATENCY=0: %v, %v; want yielding off", off.YieldLatency, err)
	}
}

func TestServeRunsUntilCancelled(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CHATSYNC_DATA_DIR": dir, "CHATSYNC_HTTP_ADDR": "127.0.0.1:0", "CHATSYNC_LOG_FORMAT": "json",
		"CHATSYNC_PPROF_ADDR": "127.0.0.1:0"}
	ctx, cancel := context.WithCancel(t.Context())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, &out, &errOut) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "API token") {
		if time.Now().After(deadline) {
			t.Fatalf("no banner; stderr: %s", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The profiles are served on their own address, which the log names.
	m := regexp.MustCompile(`"msg":"pprof listening","addr":"([^"]+)"`).FindStringSubmatch(errOut.String())
	if m == nil {
		t.Fatalf("no pprof address in the log: %s", errOut.String())
	}
	res, err := http.Get("http://" + m[1] + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("pprof: %s", res.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "embedded") || !strings.Contains(out.String(), "operator token") {
		t.Fatalf("banner = %s", out.String())
	}
	if err := run(t.Context(), []string{"serve", "--role", "chef"}, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
		t.Fatal("bad role accepted")
	}
}

// TestShutdownEndsCommandStreams: a sidecar's WatchCommands stream has no
// end of its own; Close must still shut down cleanly within its budget
// instead of timing out on it.
func TestShutdownEndsCommandStreams(t *testing.T) {
	cfg := embeddedConfig(t)
	cfg.ShutdownTimeout = 4 * time.Second
	m := NewMain(cfg, quietLog())
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Bootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	opts := connect.WithInterceptors(authed("bootstrap-token"))
	created, err := chatsyncv1connect.NewSessionServiceClient(h2c(), m.URL(), opts).CreateSession(t.Context(),
		&chatsyncv1.CreateSessionRequest{DisplayName: "sidecar", Provider: chatsyncv1.Provider_PROVIDER_WEBJS})
	if err != nil {
		t.Fatal(err)
	}
	stream, err := chatsyncv1connect.NewSyncServiceClient(h2c(), m.URL(), opts).WatchCommands(t.Context(),
		&chatsyncv1.WatchCommandsRequest{SessionId: created.GetSession().GetId()})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if !stream.Receive() {
		t.Fatalf("WatchCommands did not open: %v", stream.Err())
	}
	done := make(chan error, 1)
	go func() { done <- m.Close() }()
	for stream.Receive() {
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close with a command stream open: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return")
	}
}

// TestLiveMessageKeepsChatState is the merge issue's black-box check, run
// as a sidecar would (Connect JSON) against the real server and worker,
// embedded and on PostgreSQL + Redis: a history batch stores a chat with
// 2 unread, pinned and archived; a live batch with only the chat's JID,
// type, last activity and a new message from the other side leaves it
// pinned and archived with 3 unread and the new preview.
func TestLiveMessageKeepsChatState(t *testing.T) {
	for _, mode := range []struct {
		name string
		cfg  func(*testing.T) Config
	}{{"production", productionConfig}, {"embedded", embeddedConfig}} {
		t.Run(mode.name, func(t *testing.T) {
			m := start(t, mode.cfg(t))
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			opts := []connect.ClientOption{connect.WithProtoJSON(), connect.WithInterceptors(authed("bootstrap-token"))}
			sessions := chatsyncv1connect.NewSessionServiceClient(h2c(), m.URL(), opts...)
			syncs := chatsyncv1connect.NewSyncServiceClient(h2c(), m.URL(), opts...)
			chats := chatsyncv1connect.NewChatServiceClient(h2c(), m.URL(), opts...)
			created, err := sessions.CreateSession(ctx, &chatsyncv1.CreateSessionRequest{DisplayName: "Support", Provider: chatsyncv1.Provider_PROVIDER_WEBJS})
			if err != nil {
				t.Fatal(err)
			}
			sid := created.GetSession().GetId()
			jid := "6281234567099@s.whatsapp.net"
			t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
			t1 := t0.Add(30 * time.Minute)
			send := func(id string, kind chatsyncv1.BatchKind, c *chatsyncv1.SyncChat) {
				t.Helper()
				if _, err := syncs.SyncBatch(ctx, &chatsyncv1.SyncBatchRequest{SessionId: sid, BatchId: id, Kind: kind, Chats: []*chatsyncv1.SyncChat{c}}); err != nil {
					t.Fatalf("SyncBatch %s: %v", id, err)
				}
				for {
					b, err := syncs.GetSyncBatch(ctx, &chatsyncv1.GetSyncBatchRequest{SessionId: sid, BatchId: id})
					if err != nil {
						t.Fatal(err)
					}
					if b.GetBatch().GetStatus() == chatsyncv1.BatchStatus_BATCH_STATUS_COMPLETED {
						return
					}
					if ctx.Err() != nil {
						t.Fatalf("batch %s not completed: %v", id, b)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			send("history-1", chatsyncv1.BatchKind_BATCH_KIND_HISTORY, &chatsyncv1.SyncChat{
				Jid: jid, Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE, Name: new("Xavier"),
				UnreadCount: new(int32(2)), Pinned: new(true), Archived: new(true), LastActivityTime: timestamppb.New(t0),
				Messages: []*chatsyncv1.SyncMessage{{Id: "h1", SenderJid: jid, Timestamp: timestamppb.New(t0), Text: "first"}},
			})
			send("live-1", chatsyncv1.BatchKind_BATCH_KIND_LIVE, &chatsyncv1.SyncChat{
				Jid: jid, Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE, LastActivityTime: timestamppb.New(t1),
				Messages: []*chatsyncv1.SyncMessage{{Id: "l1", SenderJid: jid, Timestamp: timestamppb.New(t1), Text: "are you there?"}},
			})
			got, err := chats.ListChats(ctx, &chatsyncv1.ListChatsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.GetChats()) != 1 {
				t.Fatalf("ListChats = %d chats, want 1", len(got.GetChats()))
			}
			c := got.GetChats()[0]
			if c.GetUnreadCount() != 3 || !c.GetPinned() || !c.GetArchived() || c.GetLastMessagePreview() != "are you there?" ||
				c.GetName() != "Xavier" || !c.GetLastActivityTime().AsTime().Equal(t1) {
				t.Fatalf("chat after a live message = %v, want unread 3, pinned, archived, the new preview", c)
			}
		})
	}
}

// An idle keep-alive connection is closed after CHATSYNC_IDLE_TIMEOUT.
func TestIdleConnectionsAreClosed(t *testing.T) {
	cfg := embeddedConfig(t)
	cfg.IdleTimeout = 300 * time.Millisecond
	m := start(t, cfg)
	conn, err := net.Dial("tcp", strings.TrimPrefix(m.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: chatsync\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read on an idle connection: %v, want the server to close it", err)
	}
	if idle := time.Since(start); idle > 3*time.Second {
		t.Fatalf("the idle connection was kept %s", idle)
	}
}

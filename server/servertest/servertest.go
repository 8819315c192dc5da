// Package servertest runs chatsync's real HTTP handler for tests: on a fresh
// PostgreSQL schema and a flushed Redis database, behind an httptest server
// speaking HTTP/2 over TLS, with generated Connect and gRPC clients. Like
// connect-go's memhttptest, New registers its own Cleanup.
package servertest

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/chatsync/chatsync/events"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/provider/meta"
	"github.com/chatsync/chatsync/provider/sidecar"
	"github.com/chatsync/chatsync/server"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
)

// Options adjust the server under test.
type Options struct {
	// RedisDB is the Redis database the test package owns (flushed).
	RedisDB int
	// Store, when set, is used instead of a fresh PostgreSQL schema.
	Store *store.Store
	// Tune changes the server parameters before the handler is built.
	Tune func(*server.Params)
	// Log receives the server's logs; nil discards them.
	Log *slog.Logger
	// NoProviders leaves out the sidecar command channel and the Meta
	// sender (an API server built without them); by default both are
	// wired as cmd/chatsync does.
	NoProviders bool
	// HubBuffer is each stream's event queue in the hub (default 1024); a
	// small one lets tests drop slow streams.
	HubBuffer int
}

// Env is a running server and what tests need around it.
type Env struct {
	URL    string
	HTTP   *http.Client
	Store  *store.Store
	Redis  *redis.Client
	Queue  *asynq.Client
	Keys   server.Keys
	Params server.Params
}

// RedisAddr is TEST_REDIS_ADDR or the local server.
func RedisAddr() string {
	if a := os.Getenv("TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// Redis returns a client on database db, flushed. Redis is required: the
// test fails without it.
func Redis(tb testing.TB, db int) *redis.Client {
	tb.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: RedisAddr(), DB: db})
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		tb.Fatalf("servertest: Redis is required (TEST_REDIS_ADDR=%s): %v", RedisAddr(), err)
	}
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}

// New starts the server.
func New(tb testing.TB, o Options) *Env {
	tb.Helper()
	s := o.Store
	if s == nil {
		s = storetest.Postgres(tb)
	}
	rdb := Redis(tb, o.RedisDB)
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	keys, err := server.NewKeys(master)
	if err != nil {
		tb.Fatal(err)
	}
	queue := asynq.NewClientFromRedisClient(rdb)
	buffer := o.HubBuffer
	if buffer <= 0 {
		buffer = 1024
	}
	hub := events.NewHub(rdb, log, buffer, 200*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); _ = hub.Run(ctx) }()
	p := server.Params{
		Store: s, Queue: queue, QueueRedis: asynq.RedisClientOpt{Addr: RedisAddr(), DB: o.RedisDB}, Redis: rdb, Hub: hub,
		Keys: keys, Log: log, SyncEnabled: true, SyncRatePerMinute: 600, Heartbeat: time.Second, OperatorToken: "op-token",
	}
	if o.Tune != nil {
		o.Tune(&p)
	}
	// The providers cmd/chatsync wires, unless Tune set its own.
	if p.Sidecars == nil && !o.NoProviders {
		pub := p.Publisher
		if pub == nil {
			pub = events.NewPublisher(rdb, events.DefaultRetention)
		}
		ch, err := sidecar.NewChannel(sidecar.Params{Store: s, Redis: rdb, Pub: pub, Log: log, Heartbeat: p.Heartbeat, SendTimeout: p.SendTimeout})
		if err != nil {
			tb.Fatal(err)
		}
		p.Sidecars = ch
	}
	if p.Meta == nil && !o.NoProviders {
		p.Meta = meta.NewSender(meta.NewClient("", nil), s, keys.Open, p.SendTimeout)
	}
	h, err := server.Handler(p)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	tb.Cleanup(func() {
		cancel()
		<-hubDone
		srv.Close()
		queue.Close()
	})
	return &Env{URL: srv.URL, HTTP: srv.Client(), Store: s, Redis: rdb, Queue: queue, Keys: keys, Params: p}
}

// Workspace creates a workspace with an API token.
func (e *Env) Workspace(tb testing.TB, name string) (id int64, token string) {
	tb.Helper()
	ws, _, err := e.Store.EnsureWorkspace(context.Background(), name)
	if err != nil {
		tb.Fatal(err)
	}
	token = "tok-" + name + "-" + rand.Text()
	if _, err := e.Store.CreateToken(context.Background(), ws.ID, "test", token); err != nil {
		tb.Fatal(err)
	}
	return ws.ID, token
}

// Protocols are the client protocols every RPC test ranges over.
var Protocols = []struct {
	Name string
	Opts []connect.ClientOption
}{
	{"connect", nil},
	{"connect-json", []connect.ClientOption{connect.WithProtoJSON()}},
	{"grpc", []connect.ClientOption{connect.WithGRPC()}},
}

// Clients are the generated clients of the three services.
type Clients struct {
	Session chatsyncv1connect.SessionServiceClient
	Sync    chatsyncv1connect.SyncServiceClient
	Chat    chatsyncv1connect.ChatServiceClient
}

// Clients returns clients that send token as a bearer token ("" sends
// none), speaking the protocol opts choose.
func (e *Env) Clients(token string, opts ...connect.ClientOption) Clients {
	opts = append(opts, connect.WithInterceptors(bearer(token)))
	return Clients{
		Session: chatsyncv1connect.NewSessionServiceClient(e.HTTP, e.URL, opts...),
		Sync:    chatsyncv1connect.NewSyncServiceClient(e.HTTP, e.URL, opts...),
		Chat:    chatsyncv1connect.NewChatServiceClient(e.HTTP, e.URL, opts...),
	}
}

type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if b != "" {
			req.Header().Set("Authorization", "Bearer "+string(b))
		}
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if b != "" {
			conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		}
		return conn
	}
}

func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

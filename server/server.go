// Package server serves chatsync's API (SessionService, SyncService,
// ChatService over Connect, gRPC and gRPC-Web), gRPC health and reflection,
// Prometheus metrics, the Asynq web UI and the embedded web client, all on
// one HTTP handler.
package server

import (
	"compress/gzip"
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"connectrpc.com/validate"
	"github.com/go-redis/redis_rate/v10"
	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/events"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/pressure"
	"github.com/chatsync/chatsync/store"
)

// Params holds the server's dependencies and settings.
type Params struct {
	Store *store.Store
	Queue *asynq.Client
	// QueueRedis is the Asynq Redis connection, for the Asynq web UI.
	QueueRedis asynq.RedisConnOpt
	Redis      redis.UniversalClient
	Hub        *events.Hub
	Keys       Keys
	Log        *slog.Logger
	Registry   *prometheus.Registry
	// Gatherer serves /metrics (the registry plus runtime collectors).
	Gatherer prometheus.Gatherer
	// OperatorToken guards /metrics and /asynq/; empty turns them off.
	OperatorToken string
	// SyncEnabled is the SyncBatch kill switch.
	SyncEnabled bool
	// SyncRatePerMinute is the default per-session limit of history
	// SyncBatch calls (default 60).
	SyncRatePerMinute int
	// SyncLiveRatePerMinute is the per-session limit of live SyncBatch
	// calls, a budget of its own (default 600).
	SyncLiveRatePerMinute int
	// Heartbeat is the idle interval of server streams (default 15 s).
	Heartbeat time.Duration
	// BodyTimeout is how long a request may take to send its body
	// (default 30 s).
	BodyTimeout time.Duration
	// StreamsPerToken bounds the StreamChatUpdates streams one API token
	// holds open on this server (default 100).
	StreamsPerToken int
	// MaxInFlight and MaxInFlightPerCaller bound the calls (streams
	// aside) this server works on at once, in all and per caller
	// (defaults 512 and 32); MaxBufferedBytes the request body bytes it
	// holds at once (default 32 MiB: three batches of the 8 MiB maximum,
	// hundreds of ordinary ones).
	MaxInFlight, MaxInFlightPerCaller int
	MaxBufferedBytes                  int64
	// Latency, when set, observes every unary call's duration but
	// SyncBatch's (it includes the sender's upload); the
	// process publishes it so that workers yield to slow calls (package
	// pressure).
	Latency *pressure.Gauge
	// Web is the built web client; nil or without index.html serves a
	// placeholder page.
	Web fs.FS
	// WhatsApp pairs whatsmeow sessions here and reaches the workers
	// running them (provider/wa's Manager, wired by cmd/chatsync); nil
	// answers their pairing, resync and send with failed_precondition or
	// unavailable.
	WhatsApp WhatsApp
	// WakeSessions tells the processes that run whatsmeow sessions to look
	// at the store now (a session's sync config changed); nil: none.
	WakeSessions func(context.Context) error
	// Sidecars is the command channel to sidecar (webjs) sessions
	// (provider/sidecar's Channel); nil answers WatchCommands,
	// CompleteCommand and their resync and send with unavailable.
	Sidecars Sidecars
	// Meta sends through meta_cloud sessions (provider/meta's Sender); nil
	// sends through none.
	Meta chatsync.Sender
	// Publisher publishes the events the server itself causes (sent
	// messages); nil publishes on Redis with the default retention.
	Publisher *events.Publisher
	// SendTimeout bounds waiting for whatsmeow to send a message (default
	// 30 s); the other senders have their own.
	SendTimeout time.Duration
}

// compressMinBytes is the smallest response message worth compressing.
const compressMinBytes = 1024

func newGzipReader() connect.Decompressor { return &gzip.Reader{} }

func newFastGzipWriter() connect.Compressor {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed) // a valid level never fails
	return w
}

// WhatsApp is what the server does with whatsmeow sessions: pair one here,
// and reach the process running one to request history, send, or log it
// out and remove it.
type WhatsApp interface {
	whatsmeowSessions
	whatsmeowSender
}

// Handler returns the HTTP handler of everything chatsync serves.
func Handler(p Params) (http.Handler, error) {
	if p.Store == nil || p.Queue == nil || p.Redis == nil || p.Hub == nil || p.Log == nil {
		return nil, errors.New("server: Store, Queue, Redis, Hub and Log are required")
	}
	if p.Heartbeat <= 0 {
		p.Heartbeat = 15 * time.Second
	}
	if p.SyncRatePerMinute <= 0 {
		p.SyncRatePerMinute = 60
	}
	if p.SyncLiveRatePerMinute <= 0 {
		p.SyncLiveRatePerMinute = 600
	}
	if p.BodyTimeout <= 0 {
		p.BodyTimeout = 30 * time.Second
	}
	if p.StreamsPerToken <= 0 {
		p.StreamsPerToken = 100
	}
	if p.MaxInFlight <= 0 {
		p.MaxInFlight = 512
	}
	if p.MaxInFlightPerCaller <= 0 {
		p.MaxInFlightPerCaller = 32
	}
	if p.MaxBufferedBytes <= 0 {
		p.MaxBufferedBytes = 32 << 20
	}
	admit := newAdmission(p.MaxInFlight, p.MaxInFlightPerCaller, p.MaxBufferedBytes)
	admit.latency = p.Latency
	opts := connect.WithHandlerOptions(
		connect.WithInterceptors(&logInterceptor{log: p.Log}, &authInterceptor{tokens: p.Store}, validate.NewInterceptor()),
		connect.WithReadMaxBytes(chatsync.MaxBatchBytes+(1<<20)),
		// Stream events and small replies go out uncompressed: gzip's
		// per-message setup cost more CPU than everything else a stream
		// does (60 % of the server with 1,000 streams open).
		connect.WithCompressMinBytes(compressMinBytes),
		// gzip at its fastest level: a ListChats page compresses about as
		// well, for a third of the CPU of the default level.
		connect.WithCompression("gzip", newGzipReader, newFastGzipWriter),
	)
	mux := http.NewServeMux()

	gate := &tokenGate{tokens: p.Store, errw: connect.NewErrorWriter(), log: p.Log}
	sess := newSessionServices(p)
	path, h := chatsyncv1connect.NewSessionServiceHandler(sess.sessions, opts)
	mux.Handle(path, admit.wrap(gate.wrap(admit.budget(h))))
	path, h = chatsyncv1connect.NewChatServiceHandler(&chatServer{store: p.Store, hub: p.Hub, keys: p.Keys, log: p.Log, heartbeat: p.Heartbeat, streams: newStreamLimiter(p.StreamsPerToken), sendServer: sess.send}, opts)
	mux.Handle(path, admit.wrap(gate.wrap(admit.budget(h))))
	sync := &syncServer{
		store: p.Store, queue: p.Queue, limiter: &rateLimiter{limiter: redis_rate.NewLimiter(p.Redis)}, log: p.Log,
		enabled: p.SyncEnabled, defaultRate: p.SyncRatePerMinute, liveRate: p.SyncLiveRatePerMinute, now: time.Now, commandServer: sess.commands,
	}
	path, h = chatsyncv1connect.NewSyncServiceHandler(sync, opts)
	sig := &signatureMiddleware{secrets: p.Store, keys: p.Keys, log: p.Log, now: time.Now, errw: connect.NewErrorWriter(), maxBody: chatsync.MaxBatchBytes + (1 << 20)}
	mux.Handle(path, admit.wrap(gate.wrap(admit.budget(sig.wrap(h)))))

	services := []string{chatsyncv1connect.SessionServiceName, chatsyncv1connect.SyncServiceName, chatsyncv1connect.ChatServiceName}
	mux.Handle(grpchealth.NewHandler(&healthChecker{store: p.Store, redis: p.Redis, services: services}))
	reflector := grpcreflect.NewStaticReflector(services...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))

	if p.Registry != nil {
		registerHealthMetrics(p)
	}
	if p.OperatorToken != "" {
		guard := operatorGuard(p.OperatorToken)
		g := p.Gatherer
		if g == nil {
			g = p.Registry
		}
		if g != nil {
			mux.Handle("/metrics", guard(promhttp.HandlerFor(g, promhttp.HandlerOpts{})))
		}
		if p.QueueRedis != nil {
			mon := asynqmon.New(asynqmon.Options{RootPath: "/asynq", RedisConnOpt: p.QueueRedis})
			mux.Handle("/asynq/", guard(mon))
		}
	} else {
		off := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "operator pages are off: set CHATSYNC_OPERATOR_TOKEN", http.StatusNotFound)
		})
		mux.Handle("/metrics", off)
		mux.Handle("/asynq/", off)
	}
	mux.Handle("/", webHandler(p.Web))
	return bodyDeadline(p.BodyTimeout, mux), nil
}

// operatorGuard admits the operator token as HTTP basic auth (any user
// name; browsers prompt for it) or as a bearer token (Prometheus).
func operatorGuard(token string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			given := ""
			if _, pass, ok := r.BasicAuth(); ok {
				given = pass
			} else if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
				given = b
			}
			if subtle.ConstantTimeCompare([]byte(given), []byte(token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="chatsync operator"`)
				http.Error(w, "operator token required", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func webHandler(web fs.FS) http.Handler {
	if web != nil {
		if _, err := fs.Stat(web, "index.html"); err == nil {
			return http.FileServerFS(web)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(placeholder))
	})
}

const placeholder = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>chatsync</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto">
<h1>chatsync</h1>
<p>The server is running, but this binary was built without the web client.
Build it with <code>go tool task web:build</code> and start again, or use the
API directly: <code>grpcurl -plaintext localhost:8080 list</code>.</p>
</body></html>`

// healthChecker answers gRPC health checks: serving while PostgreSQL (or
// SQLite) and Redis answer.
type healthChecker struct {
	store    *store.Store
	redis    redis.UniversalClient
	services []string
}

func (c *healthChecker) Check(ctx context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	if req.Service != "" && !slices.Contains(c.services, req.Service) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("unknown service"))
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.store.DB().PingContext(ctx); err != nil {
		return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
	}
	if err := c.redis.Ping(ctx).Err(); err != nil {
		return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
	}
	return &grpchealth.CheckResponse{Status: grpchealth.StatusServing}, nil
}

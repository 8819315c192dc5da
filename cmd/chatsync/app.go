package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"
	"go.mau.fi/whatsmeow/store/sqlstore"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/events"
	"github.com/chatsync/chatsync/pressure"
	"github.com/chatsync/chatsync/provider/meta"
	"github.com/chatsync/chatsync/provider/sidecar"
	"github.com/chatsync/chatsync/provider/wa"
	"github.com/chatsync/chatsync/server"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/web"
	"github.com/chatsync/chatsync/worker"
	"github.com/chatsync/chatsync/worker/tasks"
)

// Main is a running chatsync process (wtf's Main): Open connects and
// migrates, Start runs the configured roles, Close stops them gracefully.
type Main struct {
	cfg Config
	log *slog.Logger

	db       *bun.DB
	store    *store.Store
	mini     *miniredis.Miniredis
	redisOpt asynq.RedisConnOpt
	rdb      redis.UniversalClient
	keys     server.Keys
	registry *prometheus.Registry
	queue    *asynq.Client
	// devices is whatsmeow's device store, in the same database.
	devices *sqlstore.Container

	listener net.Listener
	httpSrv  *http.Server
	// pprofSrv serves net/http/pprof when CHATSYNC_PPROF_ADDR is set.
	pprofSrv *http.Server
	// cancelRequests ends the contexts of requests still running during
	// Close's grace period.
	cancelRequests context.CancelFunc
	asynqSrv       *asynq.Server
	cancel         context.CancelFunc
	wg             sync.WaitGroup

	// OperatorToken is the effective operator token (generated in the
	// embedded mode when none is configured).
	OperatorToken string
}

// NewMain returns an unopened Main.
func NewMain(cfg Config, log *slog.Logger) *Main {
	return &Main{cfg: cfg, log: log}
}

// Open connects to the database (migrating it) and Redis.
func (m *Main) Open(ctx context.Context) error {
	dsn, err := m.cfg.databaseDSN()
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	m.db, m.store = db, store.New(db)
	applied, err := m.store.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		m.log.InfoContext(ctx, "database migrated", slog.Any("migrations", applied))
	}
	if err := m.openRedis(); err != nil {
		return err
	}
	if err := m.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("connect to redis: %w", err)
	}
	key, err := m.cfg.masterKey()
	if err != nil {
		return err
	}
	if m.keys, err = server.NewKeys(key); err != nil {
		return err
	}
	dialect := wa.DialectSQLite
	if m.store.Postgres() {
		dialect = wa.DialectPostgres
	}
	if m.devices, err = wa.OpenContainer(ctx, m.db.DB, dialect, m.log.With(slog.String("component", "whatsmeow"))); err != nil {
		return err
	}
	m.registry = prometheus.NewRegistry()
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.queue = asynq.NewClientFromRedisClient(m.rdb)
	m.OperatorToken = m.cfg.OperatorToken
	if m.OperatorToken == "" && m.cfg.Embedded() {
		m.OperatorToken = randomToken("op_")
	}
	return nil
}

func (m *Main) openRedis() error {
	if m.cfg.RedisURL == "" {
		m.mini = miniredis.NewMiniRedis()
		if err := m.mini.StartAddr("127.0.0.1:0"); err != nil {
			return fmt.Errorf("start in-process redis: %w", err)
		}
		m.redisOpt = asynq.RedisClientOpt{Addr: m.mini.Addr()}
	} else {
		opt, err := asynq.ParseRedisURI(m.cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
		m.redisOpt = opt
	}
	rdb, ok := m.redisOpt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return errors.New("redis client of an unexpected type")
	}
	m.rdb = rdb
	return nil
}

// databaseDSN is what store.Open takes: DatabaseURL, or in the embedded
// mode the SQLite file in DataDir, which it creates when missing.
func (c Config) databaseDSN() (string, error) {
	if !c.Embedded() {
		return c.DatabaseURL, nil
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("create data directory: %w", err)
	}
	return filepath.Join(c.DataDir, "chatsync.db"), nil
}

// masterKey is CHATSYNC_SECRET_KEY, or else the embedded mode's key.
func (c Config) masterKey() ([]byte, error) {
	if len(c.SecretKey) > 0 {
		return c.SecretKey, nil
	}
	return embeddedSecretKey(c.DataDir)
}

// embeddedSecretKey reads, or creates, the embedded mode's master key.
func embeddedSecretKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, "secret.key")
	b, err := os.ReadFile(path)
	if err == nil {
		return hex.DecodeString(strings.TrimSpace(string(b)))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return key, nil
}

func randomToken(prefix string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// Bootstrap makes sure the default workspace exists and has a token: the
// CHATSYNC_BOOTSTRAP_TOKEN when set, else a new random one on first start.
// It returns the token when it created one (to print once).
func (m *Main) Bootstrap(ctx context.Context) (string, error) {
	ws, _, err := m.store.EnsureWorkspace(ctx, "default")
	if err != nil {
		return "", err
	}
	if t := m.cfg.BootstrapToken; t != "" {
		got, err := m.store.WorkspaceForToken(ctx, t)
		switch {
		case err == nil && got == ws.ID:
			return "", nil
		case err == nil:
			return "", errors.New("CHATSYNC_BOOTSTRAP_TOKEN belongs to another workspace")
		case !errors.Is(err, store.ErrNotFound):
			return "", err
		}
		if _, err := m.store.CreateToken(ctx, ws.ID, "bootstrap", t); err != nil {
			return "", err
		}
		return t, nil
	}
	n, err := m.store.CountTokens(ctx, ws.ID)
	if err != nil || n > 0 {
		return "", err
	}
	t := randomToken("cs_")
	if _, err := m.store.CreateToken(ctx, ws.ID, "development", t); err != nil {
		return "", err
	}
	return t, nil
}

// Start runs the configured roles in the background; the HTTP listener is
// bound when it returns.
func (m *Main) Start(ctx context.Context) error {
	ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if err := m.startPprof(ctx); err != nil {
		return err
	}
	role := m.cfg.Role
	if role == "all" || role == "worker" {
		if err := m.startWorker(ctx); err != nil {
			return err
		}
	}
	if role == "all" || role == "server" {
		if err := m.startServer(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (m *Main) startWorker(ctx context.Context) error {
	pub := events.NewPublisher(m.rdb, m.cfg.EventRetention)
	metrics := worker.NewMetrics(m.registry)
	yield := pressure.NewReader(m.rdb, m.cfg.YieldLatency, m.cfg.YieldMaxPause)
	proc, err := worker.NewProcessor(worker.Params{
		Store: m.store, Publisher: pub, Log: m.log, ChunkSize: m.cfg.ChunkSize, Metrics: metrics, Pressure: yield,
	})
	if err != nil {
		return err
	}
	// The queue's settings (live before backfill, retry backoff) live in
	// package worker, shared with its tests and the benchmark.
	m.asynqSrv = worker.NewServer(worker.ServerParams{
		Redis: m.rdb, Log: m.log, Concurrency: m.cfg.WorkerConcurrency, RetryBase: m.cfg.RetryBase,
		ShutdownTimeout: m.cfg.ShutdownTimeout, BaseContext: func() context.Context { return ctx },
	})
	mux := proc.Mux()
	if err := m.asynqSrv.Start(mux); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	sw := &worker.Sweeper{
		Store: m.store, Redis: m.rdb, Log: m.log.With(slog.String("component", "sweeper")),
		Interval: m.cfg.SweepInterval, Grace: m.cfg.SweepGrace,
		PayloadRetention: m.cfg.BatchRetention, RowRetention: m.cfg.BatchRowRetention,
		Enqueue: func(ctx context.Context, pk int64, kind chatsync.BatchKind) (bool, error) {
			return tasks.Enqueue(ctx, m.queue, pk, kind)
		},
	}
	m.wg.Add(1)
	go func() { defer m.wg.Done(); sw.Run(ctx) }()
	return m.startSupervisor(ctx, pub)
}

// startSupervisor runs the paired whatsmeow sessions this process leases.
func (m *Main) startSupervisor(ctx context.Context, pub *events.Publisher) error {
	log := m.log.With(slog.String("component", "whatsmeow"))
	host, _ := os.Hostname()
	sup, err := wa.NewSupervisor(wa.SupervisorParams{
		Store: m.store, Devices: m.devices, Redis: m.rdb, Sink: wa.NewSink(m.store, m.queue, pub, log), Log: log,
		Owner: wa.NewOwnerID("worker-" + host), Metrics: wa.NewMetrics(m.registry),
	})
	if err != nil {
		return err
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := sup.Run(ctx); err != nil {
			m.log.ErrorContext(ctx, "whatsmeow supervisor stopped", slog.String("error", err.Error()))
		}
	}()
	return nil
}

func (m *Main) startServer(ctx context.Context) error {
	hub := events.NewHub(m.rdb, m.log.With(slog.String("component", "events")), 1024, 5*time.Second)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := hub.Run(ctx); err != nil {
			m.log.ErrorContext(ctx, "event hub stopped", slog.String("error", err.Error()))
		}
	}()
	pub := events.NewPublisher(m.rdb, m.cfg.EventRetention)
	waLog := m.log.With(slog.String("component", "whatsmeow"))
	mgr, err := wa.NewManager(wa.ManagerParams{
		Store: m.store, Devices: m.devices, Redis: m.rdb, Sink: wa.NewSink(m.store, m.queue, pub, waLog), Log: waLog,
		Transport: pairingTransport,
	})
	if err != nil {
		return err
	}
	latency := new(pressure.Gauge)
	host, _ := os.Hostname()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		latency.Publish(ctx, m.rdb, fmt.Sprintf("%s:%d:%s", host, os.Getpid(), randomToken("")[:8]))
	}()
	sidecars, err := sidecar.NewChannel(sidecar.Params{
		Store: m.store, Redis: m.rdb, Pub: pub, Log: m.log.With(slog.String("component", "sidecar")),
	})
	if err != nil {
		return err
	}
	h, err := server.Handler(server.Params{
		Store: m.store, Queue: m.queue, QueueRedis: m.redisOpt, Redis: m.rdb, Hub: hub, Keys: m.keys, Log: m.log,
		Registry: m.registry, OperatorToken: m.OperatorToken, SyncEnabled: m.cfg.SyncEnabled,
		SyncRatePerMinute: m.cfg.SyncRatePerMinute, SyncLiveRatePerMinute: m.cfg.SyncLiveRatePerMinute, Web: web.Dist(),
		BodyTimeout: m.cfg.BodyTimeout, StreamsPerToken: m.cfg.StreamsPerToken,
		MaxInFlight: m.cfg.MaxInFlight, MaxInFlightPerCaller: m.cfg.MaxInFlightPerCaller, MaxBufferedBytes: int64(m.cfg.MaxBufferedMiB) << 20,
		Latency:  latency,
		WhatsApp: mgr, Publisher: pub, Sidecars: sidecars,
		Meta:         meta.NewSender(meta.NewClient(m.cfg.MetaBaseURL, nil), m.store, m.keys.Open, 0),
		WakeSessions: func(ctx context.Context) error { return wa.Wake(ctx, m.rdb) },
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.cfg.HTTPAddr, err)
	}
	m.listener = ln
	// Requests run on their own context, cancelled during Close after a
	// grace period, so long-lived streams without an end of their own
	// (WatchCommands, PairSession) do not hold shutdown for its whole
	// timeout while unary calls still get to finish.
	reqCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	m.cancelRequests = cancelRequests
	m.httpSrv = &http.Server{
		Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: m.cfg.IdleTimeout,
		BaseContext: func(net.Listener) context.Context { return reqCtx },
	}
	// HTTP/1.1 and HTTP/2 without TLS (h2c) on one port: gRPC clients work
	// against a plaintext local server.
	m.httpSrv.Protocols = new(http.Protocols)
	m.httpSrv.Protocols.SetHTTP1(true)
	m.httpSrv.Protocols.SetUnencryptedHTTP2(true)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.ErrorContext(ctx, "http server", slog.String("error", err.Error()))
		}
	}()
	return nil
}

// startPprof serves the runtime profiles on their own address, so an
// operator can take a CPU profile of a loaded server or worker
// (BENCHMARKS.md, "Load scenario") without exposing them on the API port.
func (m *Main) startPprof(ctx context.Context) error {
	if m.cfg.PprofAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", m.cfg.PprofAddr)
	if err != nil {
		return fmt.Errorf("listen on CHATSYNC_PPROF_ADDR %s: %w", m.cfg.PprofAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	m.pprofSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.log.InfoContext(ctx, "pprof listening", slog.String("addr", ln.Addr().String()))
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.pprofSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.ErrorContext(ctx, "pprof server", slog.String("error", err.Error()))
		}
	}()
	return nil
}

// URL is the server's base URL once Start bound the listener.
func (m *Main) URL() string {
	if m.listener == nil {
		return ""
	}
	return "http://" + m.listener.Addr().String()
}

// Close stops gracefully: streams end (clients resume), in-flight RPCs
// finish, the worker finishes in-flight tasks for up to ShutdownTimeout and
// leaves the rest to be retried.
func (m *Main) Close() error {
	var errs []error
	if m.cancel != nil {
		m.cancel() // ends the event hub, hence every stream
	}
	if m.httpSrv != nil {
		grace := time.AfterFunc(min(5*time.Second, m.cfg.ShutdownTimeout/2), m.cancelRequests)
		ctx, cancel := context.WithTimeout(context.Background(), m.cfg.ShutdownTimeout)
		if err := m.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		cancel()
		grace.Stop()
		m.cancelRequests()
	}
	if m.pprofSrv != nil {
		errs = append(errs, m.pprofSrv.Close())
	}
	if m.asynqSrv != nil {
		m.asynqSrv.Shutdown()
	}
	m.wg.Wait()
	if m.rdb != nil {
		errs = append(errs, m.rdb.Close())
	}
	if m.mini != nil {
		m.mini.Close()
	}
	if m.db != nil {
		errs = append(errs, m.db.Close())
	}
	return errors.Join(errs...)
}

// newLogger builds the process logger: JSON, or text on a terminal.
func newLogger(cfg Config, w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.LogFormat
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

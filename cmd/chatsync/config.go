package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/chatsync/chatsync/provider/meta"
)

// Config is everything chatsync reads from its environment, validated once.
// Flags of `chatsync serve` may override the address and the role.
type Config struct {
	HTTPAddr          string
	DataDir           string
	DatabaseURL       string // empty: embedded SQLite in DataDir
	RedisURL          string // empty: in-process Redis
	BootstrapToken    string
	OperatorToken     string
	SecretKey         []byte // empty: generated into DataDir (embedded only)
	SyncEnabled       bool
	SyncRatePerMinute int
	// SyncLiveRatePerMinute is the live batches' own per-session budget.
	SyncLiveRatePerMinute int
	// BodyTimeout bounds how long a request may take to send its body;
	// IdleTimeout how long an idle keep-alive connection stays open.
	BodyTimeout, IdleTimeout time.Duration
	// BatchRetention and BatchRowRetention are how long a completed batch
	// keeps its payload and its row.
	BatchRetention, BatchRowRetention time.Duration
	// StreamsPerToken bounds the open StreamChatUpdates per API token.
	StreamsPerToken int
	// MaxInFlight, MaxInFlightPerCaller and MaxBufferedMiB bound the calls
	// a server works on and the body bytes it holds.
	MaxInFlight, MaxInFlightPerCaller, MaxBufferedMiB int
	LogFormat                                         string // text or json; empty: text on a terminal
	LogLevel                                          string
	Role                                              string // all, server or worker
	WorkerConcurrency                                 int
	ChunkSize                                         int
	EventRetention                                    int64
	RetryBase                                         time.Duration // first retry delay; doubles per attempt
	SweepInterval                                     time.Duration
	SweepGrace                                        time.Duration
	ShutdownTimeout                                   time.Duration
	// YieldLatency: while the API's unary calls average more than this,
	// history batches pause between chunks, up to YieldMaxPause each
	// (CHATSYNC_YIELD_LATENCY, 0 disables; CHATSYNC_YIELD_MAX_PAUSE).
	YieldLatency, YieldMaxPause time.Duration
	// PprofAddr, when set, serves net/http/pprof on its own listener
	// (CHATSYNC_PPROF_ADDR, e.g. 127.0.0.1:6060): for profiling a running
	// process, never on the API's port.
	PprofAddr string
	// MetaBaseURL is Meta's Graph API with its version, for meta_cloud
	// sessions (CHATSYNC_META_BASE_URL).
	MetaBaseURL string
}

// Embedded reports whether chatsync runs on embedded SQLite and Redis.
func (c Config) Embedded() bool { return c.DatabaseURL == "" && c.RedisURL == "" }

// configFromEnv reads the environment; getenv is os.Getenv outside tests.
func configFromEnv(getenv func(string) string) (Config, error) {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := getenv(k); v != "" {
				return v
			}
		}
		return ""
	}
	c := Config{
		HTTPAddr:       or(getenv("CHATSYNC_HTTP_ADDR"), "127.0.0.1:8080"),
		DataDir:        or(getenv("CHATSYNC_DATA_DIR"), "./.chatsync"),
		DatabaseURL:    first("CHATSYNC_DATABASE_URL", "DATABASE_URL"),
		RedisURL:       first("CHATSYNC_REDIS_URL", "REDIS_URL"),
		BootstrapToken: getenv("CHATSYNC_BOOTSTRAP_TOKEN"),
		OperatorToken:  getenv("CHATSYNC_OPERATOR_TOKEN"),
		LogFormat:      getenv("CHATSYNC_LOG_FORMAT"),
		LogLevel:       or(getenv("CHATSYNC_LOG_LEVEL"), "info"),
		Role:           or(getenv("CHATSYNC_ROLE"), "all"),
		MetaBaseURL:    or(getenv("CHATSYNC_META_BASE_URL"), meta.DefaultBaseURL),
		PprofAddr:      getenv("CHATSYNC_PPROF_ADDR"),
	}
	var errs []error
	boolVar := func(key string, def bool) bool {
		v := getenv(key)
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not true or false", key, v))
		}
		return b
	}
	intVar := func(key string, def, min int) int {
		v := getenv(key)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			errs = append(errs, fmt.Errorf("%s: %q is not a whole number >= %d", key, v, min))
		}
		return n
	}
	durVar := func(key string, def time.Duration) time.Duration {
		v := getenv(key)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration like 30s", key, v))
		}
		return d
	}
	c.SyncEnabled = boolVar("CHATSYNC_SYNC_ENABLED", true)
	c.SyncRatePerMinute = intVar("CHATSYNC_SYNC_RATE_PER_MINUTE", 60, 1)
	c.SyncLiveRatePerMinute = intVar("CHATSYNC_SYNC_LIVE_RATE_PER_MINUTE", 600, 1)
	c.StreamsPerToken = intVar("CHATSYNC_STREAMS_PER_TOKEN", 100, 1)
	c.MaxInFlight = intVar("CHATSYNC_MAX_IN_FLIGHT", 512, 1)
	c.MaxInFlightPerCaller = intVar("CHATSYNC_MAX_IN_FLIGHT_PER_CALLER", 32, 1)
	c.MaxBufferedMiB = intVar("CHATSYNC_MAX_BUFFERED_MIB", 32, 9)
	// Sized to the machine: each batch task is a stream of write
	// transactions that keep a core busy between PostgreSQL and the
	// worker; more of them than cores only queues interactive reads
	// behind them (BENCHMARKS.md, "Load scenario").
	c.WorkerConcurrency = intVar("CHATSYNC_WORKER_CONCURRENCY", DefaultWorkerConcurrency(), 1)
	c.ChunkSize = intVar("CHATSYNC_CHUNK_SIZE", 10, 1)
	c.EventRetention = int64(intVar("CHATSYNC_EVENT_RETENTION", 10000, 100))
	c.RetryBase = durVar("CHATSYNC_RETRY_BASE", 10*time.Second)
	c.BodyTimeout = durVar("CHATSYNC_BODY_TIMEOUT", 30*time.Second)
	c.IdleTimeout = durVar("CHATSYNC_IDLE_TIMEOUT", 60*time.Second)
	c.SweepInterval = durVar("CHATSYNC_SWEEP_INTERVAL", 30*time.Second)
	c.SweepGrace = durVar("CHATSYNC_SWEEP_GRACE", time.Minute)
	c.BatchRetention = durVar("CHATSYNC_BATCH_RETENTION", 7*24*time.Hour)
	c.BatchRowRetention = durVar("CHATSYNC_BATCH_ROW_RETENTION", 30*24*time.Hour)
	c.ShutdownTimeout = durVar("CHATSYNC_SHUTDOWN_TIMEOUT", 25*time.Second)
	if v := getenv("CHATSYNC_YIELD_LATENCY"); v != "0" {
		c.YieldLatency = durVar("CHATSYNC_YIELD_LATENCY", 50*time.Millisecond)
	}
	c.YieldMaxPause = durVar("CHATSYNC_YIELD_MAX_PAUSE", 250*time.Millisecond)
	if k := getenv("CHATSYNC_SECRET_KEY"); k != "" {
		b, err := hex.DecodeString(k)
		if err != nil || len(b) < 32 {
			errs = append(errs, errors.New("CHATSYNC_SECRET_KEY: want at least 64 hex characters (32 bytes); generate one with `openssl rand -hex 32`"))
		}
		c.SecretKey = b
	}
	if err := c.validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

func (c Config) validate() error {
	var errs []error
	switch c.Role {
	case "all", "server", "worker":
	default:
		errs = append(errs, fmt.Errorf("role: %q is not all, server or worker", c.Role))
	}
	if (c.DatabaseURL == "") != (c.RedisURL == "") {
		errs = append(errs, errors.New("DATABASE_URL and REDIS_URL go together: set both for production, or neither for the embedded mode"))
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, errors.New("DATABASE_URL: want a postgres:// URL"))
	}
	if c.Embedded() && c.Role != "all" {
		errs = append(errs, errors.New("role: the embedded mode runs server and worker together (role all); set DATABASE_URL and REDIS_URL to split them"))
	}
	if !c.Embedded() && len(c.SecretKey) == 0 {
		errs = append(errs, errors.New("CHATSYNC_SECRET_KEY is required with DATABASE_URL (every replica must derive the same sidecar secrets); generate one with `openssl rand -hex 32`"))
	}
	if u, err := url.Parse(c.MetaBaseURL); c.MetaBaseURL != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
		errs = append(errs, fmt.Errorf("CHATSYNC_META_BASE_URL: %q is not an http(s) URL like %s", c.MetaBaseURL, meta.DefaultBaseURL))
	}
	switch c.LogFormat {
	case "", "text", "json":
	default:
		errs = append(errs, fmt.Errorf("CHATSYNC_LOG_FORMAT: %q is not text or json", c.LogFormat))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("CHATSYNC_LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// environ is the process environment as a getenv function.
func environ() func(string) string { return os.Getenv }

// DefaultWorkerConcurrency is two batch tasks per CPU the process may use,
// at least 2 and at most 16.
func DefaultWorkerConcurrency() int {
	return min(max(2*runtime.GOMAXPROCS(0), 2), 16)
}

package chats_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/chatsync/chatsync/events"
	"github.com/chatsync/chatsync/server"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
)

// redisDB is this package's Redis database.
const redisDB = 8

// The benchmarks re-run this test binary as the server process; these
// variables carry its settings.
const (
	envServerDB    = "CHATSYNC_BENCH_CHATS_SERVER_DB"
	envServerRedis = "CHATSYNC_BENCH_CHATS_SERVER_REDIS"
	// envServerProfile, when set (pass it to `go test`), is where the
	// server process writes a CPU profile of the run.
	envServerProfile = "BENCH_SERVER_CPUPROFILE"
)

func TestMain(m *testing.M) {
	if dsn := os.Getenv(envServerDB); dsn != "" {
		if err := runServer(dsn, os.Getenv(envServerRedis)); err != nil {
			fmt.Fprintln(os.Stderr, "bench server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runServer is the server process: chatsync's handler with its event hub,
// on HTTP/1.1 and h2c as `chatsync serve --role server` listens, until
// stdin closes. It prints its URL.
func runServer(dsn, redisAddr string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if path := os.Getenv(envServerProfile); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr, DB: redisDB, PoolSize: 64})
	defer rdb.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	keys, err := server.NewKeys(master)
	if err != nil {
		return err
	}
	hub := events.NewHub(rdb, log, 1024, 5*time.Second)
	go func() { _ = hub.Run(ctx) }()
	queue := asynq.NewClientFromRedisClient(rdb)
	defer queue.Close()
	h, err := server.Handler(server.Params{
		Store: store.New(db), Queue: queue, Redis: rdb, Hub: hub, Keys: keys, Log: log, SyncEnabled: true,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 10000}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("url http://%s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	cancel()
	shut, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	return srv.Shutdown(shut)
}

// serverProc is a running server process.
type serverProc struct {
	URL string
	pid int
}

// startServer runs the server process on dsn until the benchmark ends.
func startServer(b *testing.B, dsn string) serverProc {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envServerDB+"="+dsn, envServerRedis+"="+redisAddr())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	u, ok := strings.CutPrefix(strings.TrimSpace(line), "url ")
	if err != nil || !ok {
		b.Fatalf("server process did not start: %q, %v", line, err)
	}
	return serverProc{URL: u, pid: cmd.Process.Pid}
}

// rssMB is the process's resident set size in MiB.
func (p serverProc) rssMB(b *testing.B) float64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// cpu is the process's CPU time so far (user + system).
func (p serverProc) cpu(b *testing.B) time.Duration {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which ends with ')': utime and stime
	// are the 12th and 13th, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// selfCPU is this process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func redisAddr() string {
	if a := os.Getenv("TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// flushRedis empties this package's Redis database.
func flushRedis(b *testing.B) *redis.Client {
	b.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr(), DB: redisDB})
	if err := rdb.FlushDB(b.Context()).Err(); err != nil {
		b.Fatalf("Redis is required: %v", err)
	}
	b.Cleanup(func() { rdb.Close() })
	return rdb
}

// h2c is a client speaking HTTP/2 without TLS, one connection of its own.
func h2c() *http.Client {
	tr := &http.Transport{}
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr}
}

// bearer sends an API token.
type bearer string

func (t bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(t))
		return next(ctx, req)
	}
}

func (t bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(t))
		return conn
	}
}

func (t bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// envInt reads a size knob (BENCH_CHATS=…).
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// percentiles reports p50 and p99 of samples in milliseconds.
func percentiles(b *testing.B, samples []time.Duration) {
	b.Helper()
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	at := func(p float64) float64 {
		i := min(len(samples)-1, int(p*float64(len(samples))))
		return float64(samples[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// schemaURL is a URL of the package database whose search_path is schema.
func schemaURL(b *testing.B, schema string) string {
	b.Helper()
	u, err := url.Parse(storetest.PackageDatabaseURL(b))
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema+",public")
	u.RawQuery = q.Encode()
	return u.String()
}

// adminDB opens the package database without a schema.
func adminDB(b *testing.B) *sql.DB {
	b.Helper()
	db, err := sql.Open("pgx", storetest.PackageDatabaseURL(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

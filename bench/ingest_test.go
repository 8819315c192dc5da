package bench_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/events"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/server"
	"github.com/chatsync/chatsync/simulate"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
)

// redisDB is the Redis database of this package (flushed before each run).
const redisDB = 7

// shape is the workload of the issue: 20,000 chats, 4:1 private:group, one
// message each, groups with a few participants, in batches of 50 from 4
// concurrent signed callers.
type shape struct {
	Chats, BatchSize, Callers, GroupEvery, Participants, Messages int
	// Chunk is the worker's chats per transaction; Concurrency its tasks
	// in flight.
	Chunk, Concurrency int
}

func (s shape) batches() int { return (s.Chats + s.BatchSize - 1) / s.BatchSize }
func (s shape) groups() int  { return s.Chats / s.GroupEvery }

// envInt reads a knob of exploratory runs (BENCH_CHATS=…); the recorded
// benchmark uses the defaults.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkIngest measures end-to-end ingest (signed SyncBatch calls over
// loopback → server → PostgreSQL + Redis queue → worker → rows committed)
// and, in the same iteration, the raw ceiling: the same rows written by
// plain batched INSERT … ON CONFLICT through pgx. It reports both rates, the
// ratio, SyncBatch latency percentiles and the worker process's peak RSS.
func BenchmarkIngest(b *testing.B) {
	base := shape{
		Chats: envInt("BENCH_CHATS", 20000), BatchSize: 50, Callers: 4, GroupEvery: 5, Participants: 5, Messages: 1,
		Concurrency: envInt("BENCH_CONCURRENCY", 8),
	}
	chunks := []int{10, 50}
	if c := envInt("BENCH_CHUNK", 0); c > 0 {
		chunks = []int{c}
	}
	for _, chunk := range chunks {
		sh := base
		sh.Chunk = chunk
		b.Run(fmt.Sprintf("chunk=%d", chunk), func(b *testing.B) {
			h := newHarness(b, sh)
			var runs []result
			for b.Loop() {
				r := h.endToEnd(b)
				if os.Getenv("BENCH_NO_CEILING") == "" { // profiling the end-to-end path alone
					r.ceiling = h.ceiling(b)
				}
				runs = append(runs, r)
			}
			report(b, runs)
		})
	}
}

// result is one iteration's measurements.
type result struct {
	e2e, ceiling float64 // chats/s
	latency      simulate.Latency
	workerRSS    int64 // bytes; 0 when unknown
}

func report(b *testing.B, runs []result) {
	var e2e, ceil, ratio, p50, p95, p99, rss float64
	for _, r := range runs {
		e2e += r.e2e
		ceil += r.ceiling
		ratio += r.e2e / r.ceiling
		p50 += ms(r.latency.P50)
		p95 += ms(r.latency.P95)
		p99 += ms(r.latency.P99)
		rss += float64(r.workerRSS) / (1 << 20)
	}
	n := float64(len(runs))
	b.ReportMetric(0, "ns/op") // the wall time of an iteration includes setup; the rates below are the result
	b.ReportMetric(e2e/n, "e2e-chats/s")
	b.ReportMetric(ceil/n, "ceiling-chats/s")
	b.ReportMetric(100*ratio/n, "ratio-%")
	b.ReportMetric(p50/n, "p50-ms")
	b.ReportMetric(p95/n, "p95-ms")
	b.ReportMetric(p99/n, "p99-ms")
	b.ReportMetric(rss/n, "worker-peak-RSS-MiB")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// harness holds what every iteration shares: the workload, generated once
// by the simulate package and captured for the ceiling.
type harness struct {
	sh       shape
	start    time.Time
	requests []*chatsyncv1.SyncBatchRequest
	rdb      *redis.Client
	log      *slog.Logger
	logs     *syncBuffer
}

func newHarness(b *testing.B, sh shape) *harness {
	b.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr(), DB: redisDB})
	if err := rdb.Ping(b.Context()).Err(); err != nil {
		b.Fatalf("Redis is required (TEST_REDIS_ADDR=%s): %v", redisAddr(), err)
	}
	b.Cleanup(func() { rdb.Close() })
	logs := &syncBuffer{}
	h := &harness{
		sh: sh, start: time.Now().UTC().Truncate(time.Second), rdb: rdb, logs: logs,
		log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	h.requests = h.capture(b)
	return h
}

func redisAddr() string {
	if a := os.Getenv("TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// params is the simulate run of the workload against url.
func (h *harness) params(url, sessionID, secret string) simulate.Params {
	p := simulate.DefaultParams()
	p.URL, p.SessionID, p.Secret = url, sessionID, secret
	p.Chats, p.Messages, p.GroupEvery, p.Participants = h.sh.Chats, h.sh.Messages, h.sh.GroupEvery, h.sh.Participants
	p.BatchSize, p.Concurrency = h.sh.BatchSize, h.sh.Callers
	p.RunID, p.Seed, p.Start = "bench", 1, h.start
	p.LiveMessages = 0
	p.Retries = 0 // a failed call is a failed benchmark, not a hidden retry
	p.CallTimeout = time.Minute
	return p
}

// capture runs the workload once against a recording SyncService, so the
// ceiling writes exactly the rows the end-to-end run sends.
func (h *harness) capture(b *testing.B) []*chatsyncv1.SyncBatchRequest {
	b.Helper()
	rec := &recorder{}
	_, handler := chatsyncv1connect.NewSyncServiceHandler(rec)
	srv := httptest.NewServer(handler)
	defer srv.Close()
	sum, err := simulate.Run(b.Context(), h.params(srv.URL, "1", "capture"))
	if err != nil || sum.FailedBatches > 0 {
		b.Fatalf("capture workload: %v (%d failed)", err, sum.FailedBatches)
	}
	slices.SortFunc(rec.reqs, func(x, y *chatsyncv1.SyncBatchRequest) int { return strings.Compare(x.GetBatchId(), y.GetBatchId()) })
	if len(rec.reqs) != h.sh.batches() {
		b.Fatalf("captured %d batches, want %d", len(rec.reqs), h.sh.batches())
	}
	return rec.reqs
}

type recorder struct {
	chatsyncv1connect.UnimplementedSyncServiceHandler
	mu   sync.Mutex
	reqs []*chatsyncv1.SyncBatchRequest
}

func (r *recorder) SyncBatch(_ context.Context, req *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	return &chatsyncv1.SyncBatchResponse{BatchId: req.GetBatchId(), Status: chatsyncv1.BatchStatus_BATCH_STATUS_QUEUED, AcceptedCount: int32(len(req.GetChats()))}, nil
}

// openStore opens a fresh migrated schema and returns its URL and store.
func openStore(b *testing.B) (string, *store.Store) {
	b.Helper()
	url := storetest.PostgresURL(b)
	db, err := store.Open(b.Context(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	st := store.New(db)
	if _, err := st.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	return url, st
}

// endToEnd runs the server in this process and the worker in a child
// process (so its peak RSS is its own), pushes the workload with the
// simulate package, and times it from the first call to the commit of the
// last batch.
func (h *harness) endToEnd(b *testing.B) result {
	b.Helper()
	ctx := b.Context()
	url, st := openStore(b)
	if err := h.rdb.FlushDB(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	ws, _, err := st.EnsureWorkspace(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	nonce := server.NewNonce()
	sess, err := st.CreateSession(ctx, store.NewSession{
		WorkspaceID: ws.ID, DisplayName: "bench", Provider: chatsync.ProviderWebJS, SecretNonce: nonce,
		// A backfill-sized allowance for this session; the server default
		// (60 a minute) stays.
		SyncConfig: chatsync.SyncConfig{RatePerMinute: 1 << 20},
	})
	if err != nil {
		b.Fatal(err)
	}
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	keys, err := server.NewKeys(master)
	if err != nil {
		b.Fatal(err)
	}

	stopWorker := h.startWorker(b, url)
	baseURL, stopServer := h.startServer(b, st, keys)
	cpu := startCPU(b, st.DB().DB, h.rdb)

	p := h.params(baseURL, strconv.FormatInt(sess.ID, 10), keys.SidecarSecret(sess.ID, nonce))
	start := time.Now()
	sum, err := simulate.Run(ctx, p)
	if err != nil || sum.FailedBatches > 0 || sum.Rejected > 0 {
		b.Fatalf("simulate: %v; %d failed %v, %d rejected", err, sum.FailedBatches, sum.Errors, sum.Rejected)
	}
	end, ok := h.waitDone(b, st)
	if !ok {
		_, _ = stopWorker()
		b.Fatalf("batches did not complete; server log:\n%.4000s", h.logs.String())
	}
	cpu.stop(b)
	stopServer()
	rss, workerCPU := stopWorker()
	b.Logf("%d chats in %.2fs (calls done after %.2fs): CPU s: server+callers %.2f, worker %.2f, postgres %.2f, redis %.2f",
		h.sh.Chats, end.Sub(start).Seconds(), sum.HistoryDuration.Seconds(), cpu.self, workerCPU.Seconds(), cpu.postgres, cpu.redis)
	h.verify(b, st.DB().DB)
	if os.Getenv("BENCH_TABLESTATS") != "" {
		tableStats(b, st.DB().DB)
	}
	if s := h.logs.String(); s != "" {
		b.Logf("warnings and errors during the run:\n%.2000s", s)
		h.logs.Reset()
	}
	return result{e2e: float64(h.sh.Chats) / end.Sub(start).Seconds(), latency: sum.Latency, workerRSS: rss}
}

// startServer serves the real handler on loopback (HTTP/1.1 and h2c).
func (h *harness) startServer(b *testing.B, st *store.Store, keys server.Keys) (string, func()) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hub := events.NewHub(h.rdb, h.log, 1024, 5*time.Second)
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); _ = hub.Run(ctx) }()
	queue := asynq.NewClientFromRedisClient(h.rdb)
	handler, err := server.Handler(server.Params{
		Store: st, Queue: queue, Redis: h.rdb, Hub: hub, Keys: keys, Log: h.log,
		SyncEnabled: true, SyncRatePerMinute: 60,
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	return srv.URL, func() {
		srv.Close()
		cancel()
		<-hubDone
		queue.Close()
	}
}

// waitDone polls until every batch is completed and returns the commit
// time of the last one.
func (h *harness) waitDone(b *testing.B, st *store.Store) (time.Time, bool) {
	b.Helper()
	deadline := time.Now().Add(time.Duration(envInt("BENCH_TIMEOUT_S", 300)) * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var done, failed int
		var last sql.NullTime
		err := st.DB().QueryRowContext(b.Context(),
			"SELECT count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed'), max(finished_at) FROM sync_batches").
			Scan(&done, &failed, &last)
		if err != nil {
			b.Fatal(err)
		}
		if failed > 0 {
			b.Fatalf("%d batches failed:\n%s", failed, h.logs.String())
		}
		if done == h.sh.batches() {
			return last.Time, true
		}
		if time.Now().After(deadline) {
			b.Logf("only %d of %d batches completed", done, h.sh.batches())
			return time.Time{}, false
		}
		<-tick.C
	}
}

// verify checks that the rows are all there, so a fast run is a complete
// one.
func (h *harness) verify(b *testing.B, db *sql.DB) {
	b.Helper()
	want := map[string]int{
		"chats":              h.sh.Chats,
		"messages":           h.sh.Chats * h.sh.Messages,
		"groups":             h.sh.groups(),
		"group_participants": h.sh.groups() * h.sh.Participants,
		"contacts":           h.sh.Chats - h.sh.groups(),
	}
	for table, n := range want {
		var got int
		if err := db.QueryRowContext(b.Context(), "SELECT count(*) FROM "+table).Scan(&got); err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("%s: %d rows, want %d", table, got, n)
		}
	}
	var bad int
	if err := db.QueryRowContext(b.Context(), "SELECT count(*) FROM chats WHERE type = 'group' AND participant_count <> $1", h.sh.Participants).Scan(&bad); err != nil || bad != 0 {
		b.Fatalf("%d groups with a wrong participant_count (%v)", bad, err)
	}
}

// startWorker runs the worker as a child process (this test binary, see
// TestMain) and returns a stop function that reports its peak RSS.
func (h *harness) startWorker(b *testing.B, dbURL string) (stop func() (int64, time.Duration)) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		envWorkerDB+"="+dbURL,
		envWorkerRedis+"="+redisAddr(),
		fmt.Sprintf("%s=%d", envWorkerChunk, h.sh.Chunk),
		fmt.Sprintf("%s=%d", envWorkerConcurrency, h.sh.Concurrency),
	)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		b.Fatalf("worker did not start: %q %v\n%s", line, err, stderr.String())
	}
	return func() (int64, time.Duration) {
		rss := peakRSS(cmd.Process.Pid)
		stdin.Close() // the worker shuts down on EOF
		if err := cmd.Wait(); err != nil {
			b.Errorf("worker: %v\n%s", err, stderr.String())
		}
		if s := stderr.String(); s != "" {
			b.Logf("worker stderr:\n%.2000s", s)
		}
		return rss, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
}

// peakRSS reads VmHWM of a process, in bytes (0 when unknown).
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Reset()
}

var _ io.Writer = (*syncBuffer)(nil)

// tableStats logs how each table was read: sequential scans and the rows
// they read betray a plan that does not use an index.
func tableStats(b *testing.B, db *sql.DB) {
	b.Helper()
	rows, err := db.QueryContext(b.Context(), `SELECT relname, seq_scan, seq_tup_read, COALESCE(idx_scan, 0), n_tup_ins, n_tup_upd
		FROM pg_stat_user_tables WHERE schemaname = current_schema() ORDER BY seq_tup_read DESC`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var seq, seqRead, idx, ins, upd int64
		if err := rows.Scan(&name, &seq, &seqRead, &idx, &ins, &upd); err != nil {
			b.Fatal(err)
		}
		b.Logf("%-20s seq_scan %6d seq_tup_read %10d idx_scan %8d ins %7d upd %7d", name, seq, seqRead, idx, ins, upd)
	}
	irows, err := db.QueryContext(b.Context(), `SELECT indexrelname, idx_scan, idx_tup_read FROM pg_stat_user_indexes
		WHERE schemaname = current_schema() AND idx_scan > 0 ORDER BY idx_tup_read DESC`)
	if err != nil {
		b.Fatal(err)
	}
	defer irows.Close()
	for irows.Next() {
		var name string
		var scans, read int64
		if err := irows.Scan(&name, &scans, &read); err != nil {
			b.Fatal(err)
		}
		b.Logf("  %-40s scans %8d tuples read %10d", name, scans, read)
	}
}

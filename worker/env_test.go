package worker_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/events"
	"github.com/chatsync/chatsync/pressure"
	"github.com/chatsync/chatsync/server/servertest"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
	"github.com/chatsync/chatsync/worker"
	"github.com/chatsync/chatsync/worker/tasks"
)

// redisDB is this package's Redis database. Tests that use it flush it and
// do not run in parallel.
const redisDB = 5

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is "now" for the chats of the tests: recent, in the past.
var t0 = time.Now().UTC().Add(-time.Hour).Truncate(time.Second)

// env is a worker's world: a fresh PostgreSQL schema, the package's Redis
// database (flushed), a session to sync for, a processor whose JSON log
// the test reads.
type env struct {
	store   *store.Store
	rdb     *redis.Client
	queue   *asynq.Client
	logs    *logBuffer
	log     *slog.Logger
	proc    *worker.Processor
	metrics *prometheus.Registry
	ws      int64
	session chatsync.Session
}

type envOptions struct {
	chunkSize int
	sqlite    bool // the embedded mode's store instead of PostgreSQL
	// yieldAbove, when set, makes history batches yield to API calls
	// slower than it on average (pressure.Reader, pausing 10 ms at most).
	yieldAbove time.Duration
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	s := storetest.Postgres(t)
	if o.sqlite {
		s = storetest.SQLite(t)
	}
	rdb := servertest.Redis(t, redisDB)
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	var yield *pressure.Reader
	if o.yieldAbove > 0 {
		yield = pressure.NewReader(rdb, o.yieldAbove, 10*time.Millisecond)
	}
	proc, err := worker.NewProcessor(worker.Params{
		Store: s, Publisher: events.NewPublisher(rdb, 10000), Log: log, ChunkSize: o.chunkSize,
		Metrics: worker.NewMetrics(reg), Pressure: yield,
	})
	if err != nil {
		t.Fatal(err)
	}
	queue := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { queue.Close() })
	ctx := t.Context()
	ws, _, err := s.EnsureWorkspace(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	sess, err := s.CreateSession(ctx, store.NewSession{WorkspaceID: ws.ID, DisplayName: "Support", Provider: chatsync.ProviderWebJS, SecretNonce: []byte("n")})
	if err != nil {
		t.Fatal(err)
	}
	return &env{store: s, rdb: rdb, queue: queue, logs: logs, log: log, proc: proc, metrics: reg, ws: ws.ID, session: sess}
}

// accept stores a batch as SyncBatch does, without queueing it.
func (e *env) accept(t *testing.T, id string, kind chatsync.BatchKind, chats ...chatsync.ChatInput) chatsync.Batch {
	t.Helper()
	for i := range chats {
		if err := chats[i].Validate(time.Now()); err != nil {
			t.Fatalf("chat %d of batch %s: %v", i, id, err)
		}
	}
	b, dup, err := e.store.AcceptBatch(t.Context(), store.NewBatch{
		WorkspaceID: e.ws, SessionID: e.session.ID, BatchID: id, Kind: kind, Payload: chatsync.BatchPayload{Chats: chats},
	})
	if err != nil || dup {
		t.Fatalf("AcceptBatch %s: dup %v, %v", id, dup, err)
	}
	return b
}

// enqueue queues a batch's task.
func (e *env) enqueue(t *testing.T, b chatsync.Batch) {
	t.Helper()
	if _, err := tasks.Enqueue(t.Context(), e.queue, b.ID, b.Kind); err != nil {
		t.Fatal(err)
	}
}

// handle runs a batch's task once, in this goroutine, as Asynq would on a
// first attempt.
func (e *env) handle(t *testing.T, b chatsync.Batch) error {
	t.Helper()
	task, err := tasks.NewSyncBatchTask(b.ID, b.Kind)
	if err != nil {
		t.Fatal(err)
	}
	return e.proc.HandleSyncBatch(t.Context(), task)
}

// serve runs the processor on an Asynq server (the package's Redis DB)
// until the test ends.
func (e *env) serve(t *testing.T, p worker.ServerParams) *asynq.Server {
	t.Helper()
	p.Redis, p.Log = e.rdb, e.log
	srv := worker.NewServer(p)
	if err := srv.Start(e.proc.Mux()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// batch reloads a batch.
func (e *env) batch(t *testing.T, id string) chatsync.Batch {
	t.Helper()
	b, err := e.store.Batch(t.Context(), e.ws, e.session.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitBatch polls until the batch reaches status (or fails the test after
// a deadline).
func (e *env) waitBatch(t *testing.T, id string, status chatsync.BatchStatus) chatsync.Batch {
	t.Helper()
	var b chatsync.Batch
	waitFor(t, 30*time.Second, func() bool {
		b = e.batch(t, id)
		return b.Status == status
	}, func() string { return fmt.Sprintf("batch %s is %s (%s), want %s", id, b.Status, b.LastError, status) })
	return b
}

func (e *env) sessionNow(t *testing.T) chatsync.Session {
	t.Helper()
	s, err := e.store.Session(t.Context(), e.ws, e.session.ID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, msg())
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-tick.C:
		}
	}
}

// count counts rows of a table.
func (e *env) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := e.store.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// exec runs SQL in the test's schema.
func (e *env) exec(t *testing.T, sql string) {
	t.Helper()
	if _, err := e.store.DB().ExecContext(t.Context(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// snapshot renders every row the sync writes, keyed on WhatsApp identity
// (never on generated IDs), one sorted line per row: two stores with equal
// snapshots hold the same data.
func (e *env) snapshot(t *testing.T) []string {
	t.Helper()
	queries := []string{
		`SELECT 'contact', phone_jid, lid_jid, phone_e164, phone_raw, phone_valid, push_name, full_name FROM contacts`,
		`SELECT 'chat', c.jid, c.type, c.name, COALESCE(ct.phone_jid, ct.lid_jid), c.unread_count, c.archived, c.pinned,
			c.last_activity_at, c.last_message_at, c.last_message_preview, c.participant_count, c.search_text
			FROM chats c LEFT JOIN contacts ct ON ct.id = c.contact_id`,
		`SELECT 'group', c.jid, g.subject, g.description, g.owner_jid FROM groups g JOIN chats c ON c.id = g.chat_id`,
		`SELECT 'member', c.jid, gp.jid, gp.role, gp.phone_e164 FROM group_participants gp JOIN chats c ON c.id = gp.chat_id`,
		`SELECT 'message', c.jid, m.wa_id, m.sender_jid, m.from_me, m.sent_at, m.text, m.media_type FROM messages m JOIN chats c ON c.id = m.chat_id`,
	}
	var out []string
	for _, q := range queries {
		rows, err := e.store.DB().QueryContext(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var sb strings.Builder
			for i, v := range vals {
				if i > 0 {
					sb.WriteByte('|')
				}
				if tm, ok := v.(time.Time); ok {
					v = tm.UTC().Format(time.RFC3339Nano)
				}
				fmt.Fprint(&sb, v)
			}
			out = append(out, sb.String())
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(out)
	return out
}

// events returns every event of the env's workspace published so far,
// read straight from the workspace's Redis stream (events.go names it).
func (e *env) events(t *testing.T) []chatsync.Event {
	t.Helper()
	msgs, err := e.rdb.XRange(t.Context(), fmt.Sprintf("chatsync:events:{%d}", e.ws), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]chatsync.Event, len(msgs))
	for i, m := range msgs {
		payload, _ := m.Values["e"].(string)
		if err := json.Unmarshal([]byte(payload), &out[i]); err != nil {
			t.Fatalf("event %s: %v", m.ID, err)
		}
	}
	return out
}

// logBuffer collects JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines returns the log records whose message is msg ("" for all).
func (l *logBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	data := slices.Clone(l.buf.Bytes())
	l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if msg == "" || rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// storeBatch is a batch of chats and contacts of the env's session.
func storeBatch(e *env, id string, kind chatsync.BatchKind, chats []chatsync.ChatInput, contacts []chatsync.ContactInput) store.NewBatch {
	return store.NewBatch{
		WorkspaceID: e.ws, SessionID: e.session.ID, BatchID: id, Kind: kind,
		Payload: chatsync.BatchPayload{Chats: chats, Contacts: contacts},
	}
}

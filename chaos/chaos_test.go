//go:build chaos

package chaos

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chatsync/chatsync/client"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/store"
)

// chatsyncBin is the real binary, built once for the whole suite.
var chatsyncBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chatsync-chaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	chatsyncBin = filepath.Join(dir, "chatsync")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	out, err := exec.CommandContext(ctx, "go", "build", "-o", chatsyncBin, "../cmd/chatsync").CombinedOutput()
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build chatsync: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// cluster is PostgreSQL, Redis, and chatsync as a server process and a
// worker process, all of this suite's own.
type cluster struct {
	t              *testing.T
	pg             *postgres
	rd             *redisServer
	env            []string
	server, worker *proc
	url            string
	logs           string
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{t: t, pg: startPostgres(t), rd: startRedis(t), logs: t.TempDir()}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	c.env = append(os.Environ(),
		"CHATSYNC_DATABASE_URL="+c.pg.url("postgres"),
		fmt.Sprintf("CHATSYNC_REDIS_URL=redis://127.0.0.1:%d/0", c.rd.port),
		"CHATSYNC_SECRET_KEY="+hex.EncodeToString(key),
		// Faults are minutes apart in production; here they are seconds.
		"CHATSYNC_SWEEP_INTERVAL=1s", "CHATSYNC_SWEEP_GRACE=3s", "CHATSYNC_RETRY_BASE=500ms",
		"CHATSYNC_LOG_FORMAT=json",
	)
	if out, err := c.cli(t.Context(), "migrate", "up"); err != nil {
		t.Fatalf("migrate up: %v\n%s", err, out)
	}
	port := freePort(t)
	c.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	c.server = &proc{name: "server", args: []string{chatsyncBin, "serve", "--role", "server", "--addr", fmt.Sprintf("127.0.0.1:%d", port)}, env: c.env, log: filepath.Join(c.logs, "server.log")}
	c.worker = &proc{name: "worker", args: []string{chatsyncBin, "serve", "--role", "worker", "--addr", fmt.Sprintf("127.0.0.1:%d", freePort(t))}, env: c.env, log: filepath.Join(c.logs, "worker.log")}
	for _, p := range []*proc{c.server, c.worker} {
		if err := p.start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.stop)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range []*proc{c.server, c.worker} {
				b, _ := os.ReadFile(p.log)
				t.Logf("%s log (last lines):\n%s", p.name, lastLines(string(b), 30))
			}
		}
	})
	c.waitServer()
	return c
}

func (c *cluster) cli(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chatsyncBin, args...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// waitServer waits until the server answers SyncService calls.
func (c *cluster) waitServer() {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(c.url + "/")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("server did not come up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// session is a webjs session of the case's workspace with its signed client.
type session struct {
	id     string
	client *client.Client
	live   *client.Live
}

func (c *cluster) sessions(ctx context.Context, workspace string, n int, failed *atomic.Int64) []*session {
	c.t.Helper()
	var out []*session
	for i := range n {
		text, err := c.cli(ctx, "session", "create", "--workspace", workspace, "--name", fmt.Sprintf("s%d", i), "--provider", "webjs")
		if err != nil {
			c.t.Fatalf("session create: %v\n%s", err, text)
		}
		kv := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				kv[k] = v
			}
		}
		cl := client.New(c.url, kv["session_id"], kv["sidecar_secret"],
			client.WithRetries(1_000_000), client.WithBackoff(50*time.Millisecond, time.Second), client.WithCallTimeout(10*time.Second),
			client.WithObserver(func(a client.Attempt) {
				if a.Err != nil && a.Wait > 0 {
					failed.Add(1)
				}
			}))
		out = append(out, &session{id: kv["session_id"], client: cl, live: cl.Live(client.LiveConfig{FlushInterval: 20 * time.Millisecond})})
	}
	return out
}

// expected is what the accepted batches put in the store.
type expected struct {
	mu           sync.Mutex
	chats        map[string]bool // jid
	groups       map[string]bool
	participants map[string]bool // group jid + " " + member jid
	messages     map[string]bool // chat jid + " " + message id
	batches      atomic.Int64    // history batches accepted
	live         atomic.Int64    // live messages accepted (Add returned)
	refused      atomic.Int64    // bad-input batches refused as they should be
}

func newExpected() *expected {
	return &expected{chats: map[string]bool{}, groups: map[string]bool{}, participants: map[string]bool{}, messages: map[string]bool{}}
}

func (e *expected) add(c *chatsyncv1.SyncChat) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.chats[c.GetJid()] = true
	if c.GetType() == chatsyncv1.ChatType_CHAT_TYPE_GROUP {
		e.groups[c.GetJid()] = true
		for _, p := range c.GetGroup().GetParticipants() {
			e.participants[c.GetJid()+" "+p.GetJid()] = true
		}
	}
	for _, m := range c.GetMessages() {
		e.messages[c.GetJid()+" "+m.GetId()] = true
	}
}

// traffic is one case's generator: per session, history batches of chats
// (every fourth a group of 3 members) with messages, then live messages
// into those chats; IDs carry the case's prefix.
type traffic struct {
	prefix          string
	batches, chats  int           // history batches per session, chats per batch
	messages, lives int           // messages per history chat, live messages per session
	pace            time.Duration // between history batches
}

func (tr traffic) chatJID(s, b, i int) (string, bool) {
	n := (s*1000+b)*100 + i
	if i%4 == 3 {
		return fmt.Sprintf("120363%012d@g.us", n), true
	}
	return fmt.Sprintf("1555%07d@s.whatsapp.net", n), false
}

func (tr traffic) chat(s, b, i int, at time.Time) *chatsyncv1.SyncChat {
	jid, group := tr.chatJID(s, b, i)
	c := &chatsyncv1.SyncChat{Jid: jid, LastActivityTime: timestamppb.New(at), Name: new(fmt.Sprintf("chat %s", jid[:12]))}
	if group {
		c.Type = chatsyncv1.ChatType_CHAT_TYPE_GROUP
		c.Group = &chatsyncv1.SyncGroup{Subject: "group " + jid[:12]}
		for k := range 3 {
			c.Group.Participants = append(c.Group.Participants, &chatsyncv1.SyncParticipant{Jid: fmt.Sprintf("1444%07d@s.whatsapp.net", (s*1000+b)*10+k)})
		}
	} else {
		c.Type = chatsyncv1.ChatType_CHAT_TYPE_PRIVATE
		c.Contact = &chatsyncv1.SyncContact{Phone: "+" + jid[:11]}
	}
	for j := range tr.messages {
		c.Messages = append(c.Messages, &chatsyncv1.SyncMessage{
			Id: fmt.Sprintf("%sH%d.%d.%d.%d", tr.prefix, s, b, i, j), FromMe: j%2 == 0,
			Timestamp: timestamppb.New(at.Add(-time.Duration(j) * time.Second)), Text: "history message",
		})
	}
	return c
}

// push sends the case's traffic and returns when every history batch and
// live message is accepted. Each history batch is sent until the server
// accepts it, with the same batch ID (a retry after a lost answer is a
// duplicate, not a copy); live messages go through the client's live
// sender, which retries until accepted. started is closed after the first
// accepted batch, so a fault lands mid-traffic.
func (tr traffic) push(ctx context.Context, t *testing.T, sessions []*session, exp *expected, started chan<- struct{}) {
	t.Helper()
	var once sync.Once
	var wg sync.WaitGroup
	now := time.Now().Add(-time.Hour)
	for si, s := range sessions {
		wg.Go(func() {
			for b := range tr.batches {
				req := &chatsyncv1.SyncBatchRequest{SessionId: s.id, BatchId: fmt.Sprintf("%sb%d", tr.prefix, b), Kind: chatsyncv1.BatchKind_BATCH_KIND_HISTORY}
				for i := range tr.chats {
					req.Chats = append(req.Chats, tr.chat(si, b, i, now.Add(-time.Duration(b*tr.chats+i)*time.Minute)))
				}
				for {
					res, err := s.client.SyncBatch(ctx, req)
					if err == nil && res.GetAcceptedCount() == int32(len(req.Chats)) {
						break
					}
					if err == nil {
						t.Errorf("batch %s: %d of %d chats accepted: %v", req.BatchId, res.GetAcceptedCount(), len(req.Chats), res.GetRejected())
						return
					}
					if ctx.Err() != nil {
						t.Errorf("batch %s never accepted: %v", req.BatchId, err)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
				for _, c := range req.Chats {
					exp.add(c)
				}
				exp.batches.Add(1)
				once.Do(func() { close(started) })
				time.Sleep(tr.pace) // traffic spans the fault
			}
			for n := range tr.lives {
				b, i := n%tr.batches, (n*7)%tr.chats
				c := tr.chat(si, b, i, now.Add(time.Duration(n)*time.Second))
				c.Messages = []*chatsyncv1.SyncMessage{{
					Id: fmt.Sprintf("%sL%d.%d", tr.prefix, si, n), Timestamp: timestamppb.New(now.Add(time.Duration(n) * time.Second)), Text: "live message",
				}}
				c.Name, c.Contact, c.Group = nil, nil, nil
				if err := s.live.Add(ctx, c); err != nil {
					t.Errorf("live %d: %v", n, err)
					return
				}
				exp.add(c)
				exp.live.Add(1)
				if n%10 == 0 {
					time.Sleep(10 * time.Millisecond)
				}
			}
			if err := s.live.Flush(ctx); err != nil {
				t.Errorf("flush live: %v", err)
			}
		})
	}
	wg.Wait()
}

// badInput sends batches the server must refuse whole, mixed into the
// traffic: too many chats, a malformed batch ID. Neither may change a row.
func badInput(ctx context.Context, t *testing.T, c *cluster, s *session, exp *expected) {
	t.Helper()
	tooMany := &chatsyncv1.SyncBatchRequest{SessionId: s.id, BatchId: "bad-too-many", Kind: chatsyncv1.BatchKind_BATCH_KIND_HISTORY}
	for i := range 501 {
		tooMany.Chats = append(tooMany.Chats, &chatsyncv1.SyncChat{Jid: fmt.Sprintf("1666%07d@s.whatsapp.net", i), Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE})
	}
	badID := &chatsyncv1.SyncBatchRequest{SessionId: s.id, BatchId: "bad id!", Kind: chatsyncv1.BatchKind_BATCH_KIND_HISTORY,
		Chats: []*chatsyncv1.SyncChat{{Jid: "16660000001@s.whatsapp.net", Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE}}}
	for _, req := range []*chatsyncv1.SyncBatchRequest{tooMany, badID} {
		for {
			_, err := s.client.SyncBatch(ctx, req)
			code := connect.CodeOf(err)
			if code == connect.CodeInvalidArgument {
				exp.refused.Add(1)
				break
			}
			if err == nil {
				t.Errorf("bad batch %q accepted", req.BatchId)
				break
			}
			if ctx.Err() != nil {
				t.Errorf("bad batch %q: %v", req.BatchId, err)
				break
			}
			time.Sleep(100 * time.Millisecond) // the server is down mid-fault: try again
		}
	}
}

// found reads what the store holds for a workspace.
type found struct {
	chats, groups, participants, messages map[string]bool
	duplicates                            int
	pending                               int // sync_batches not completed
	batches                               int
}

func (c *cluster) read(ctx context.Context, workspace string) (found, error) {
	bdb, err := store.Open(ctx, c.pg.url("postgres"))
	if err != nil {
		return found{}, err
	}
	defer bdb.Close()
	// One snapshot for every count: read one by one while batches still
	// complete, chats could be missed by the first query and their
	// batches be done by the last.
	conn, err := bdb.DB.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return found{}, err
	}
	defer func() { _ = conn.Rollback() }()
	f := found{chats: map[string]bool{}, groups: map[string]bool{}, participants: map[string]bool{}, messages: map[string]bool{}}
	var ws int64
	if err := conn.QueryRowContext(ctx, "SELECT id FROM workspaces WHERE name = $1", workspace).Scan(&ws); err != nil {
		return f, err
	}
	set := func(m map[string]bool, q string) error {
		rows, err := conn.QueryContext(ctx, q, ws)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return err
			}
			m[k] = true
		}
		return rows.Err()
	}
	for _, q := range []struct {
		m   map[string]bool
		sql string
	}{
		{f.chats, "SELECT jid FROM chats WHERE workspace_id = $1"},
		{f.groups, "SELECT c.jid FROM groups g JOIN chats c ON c.id = g.chat_id WHERE c.workspace_id = $1"},
		{f.participants, "SELECT c.jid || ' ' || p.jid FROM group_participants p JOIN chats c ON c.id = p.chat_id WHERE c.workspace_id = $1"},
		{f.messages, "SELECT c.jid || ' ' || m.wa_id FROM messages m JOIN chats c ON c.id = m.chat_id WHERE c.workspace_id = $1"},
	} {
		if err := set(q.m, q.sql); err != nil {
			return f, err
		}
	}
	var all int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM messages m JOIN chats c ON c.id = m.chat_id WHERE c.workspace_id = $1", ws).Scan(&all); err != nil {
		return f, err
	}
	f.duplicates = all - len(f.messages)
	err = conn.QueryRowContext(ctx, "SELECT count(*) FILTER (WHERE status <> 'completed'), count(*) FROM sync_batches WHERE workspace_id = $1", ws).Scan(&f.pending, &f.batches)
	return f, err
}

// diff names what differs between two sets, a few of each side.
func diff(name string, want, got map[string]bool) string {
	var missing, extra []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	if len(missing)+len(extra) == 0 {
		return ""
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return fmt.Sprintf("%s: %d missing %v, %d extra %v", name, len(missing), head(missing), len(extra), head(extra))
}

func head(s []string) []string { return s[:min(len(s), 5)] }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// result is one line of the suite's table.
type result struct {
	fault             string
	batches, live     int64
	refused, failed   int64
	rowsWant, rowsGot int
	duplicates        int
	drain             time.Duration
}

var (
	resultsMu sync.Mutex
	results   []result
)

// runCase pushes a case's traffic with bad input mixed in, runs fault while
// it flows, then waits for every accepted batch to complete and checks the
// rows exactly.
func runCase(t *testing.T, c *cluster, name string, tr traffic, fault func(ctx context.Context)) {
	t.Helper()
	// Each case ends well before go test's -timeout, so a stuck case fails
	// with its figures and the processes' logs, and cleanups stop the
	// engines.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Second)
	defer cancel()
	workspace := "chaos-" + tr.prefix
	var failed atomic.Int64 // client attempts that failed and were retried: the fault was felt
	sessions := c.sessions(ctx, workspace, 2, &failed)
	defer func() {
		for _, s := range sessions {
			_ = s.live.Close(context.WithoutCancel(ctx))
		}
	}()
	exp := newExpected()
	started := make(chan struct{})
	faultDone := make(chan struct{})
	go func() {
		defer close(faultDone)
		select {
		case <-started:
			fault(ctx)
		case <-ctx.Done():
		}
	}()
	var bad sync.WaitGroup
	bad.Go(func() { badInput(ctx, t, c, sessions[0], exp) })
	tr.push(ctx, t, sessions, exp, started)
	<-faultDone
	bad.Wait()
	pushed := time.Now()

	var f found
	var err error
	for {
		f, err = c.read(ctx, workspace)
		if err == nil && f.pending == 0 && len(f.messages) >= len(exp.messages) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: the queue did not drain: %d batches not completed, %d of %d messages (last error %v)", name, f.pending, len(f.messages), len(exp.messages), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	drain := time.Since(pushed)
	for _, d := range []string{
		diff("chats", exp.chats, f.chats), diff("groups", exp.groups, f.groups),
		diff("participants", exp.participants, f.participants), diff("messages", exp.messages, f.messages),
	} {
		if d != "" {
			t.Errorf("%s: %s", name, d)
		}
	}
	if f.duplicates != 0 {
		t.Errorf("%s: %d duplicate messages", name, f.duplicates)
	}
	if exp.refused.Load() != 2 {
		t.Errorf("%s: %d bad batches refused, want 2", name, exp.refused.Load())
	}
	want := len(exp.chats) + len(exp.groups) + len(exp.participants) + len(exp.messages)
	got := len(f.chats) + len(f.groups) + len(f.participants) + len(f.messages)
	resultsMu.Lock()
	results = append(results, result{fault: name, batches: int64(f.batches), live: exp.live.Load(), refused: exp.refused.Load(), failed: failed.Load(),
		rowsWant: want, rowsGot: got, duplicates: f.duplicates, drain: drain})
	resultsMu.Unlock()
}

func printTable(t *testing.T) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	var b strings.Builder
	b.WriteString("\n| fault | batches accepted | live messages | client calls failed and retried | bad batches refused | rows expected | rows found | duplicates | time to drain |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d | %s |\n", r.fault, r.batches, r.live, r.failed, r.refused, r.rowsWant, r.rowsGot, r.duplicates, r.drain.Round(100*time.Millisecond))
	}
	t.Log(b.String())
	fmt.Print(b.String())
}

func TestFaults(t *testing.T) {
	c := newCluster(t)
	tr := func(prefix string) traffic {
		return traffic{prefix: prefix, batches: 16, chats: 20, messages: 4, lives: 150, pace: 60 * time.Millisecond}
	}
	t.Cleanup(func() { printTable(t) })

	t.Run("kill -9 worker mid-batch, three times", func(t *testing.T) {
		runCase(t, c, "kill -9 worker ×3", tr("kw"), func(ctx context.Context) {
			for range 3 {
				time.Sleep(300 * time.Millisecond)
				c.worker.kill9()
				time.Sleep(200 * time.Millisecond)
				if err := c.worker.start(); err != nil {
					t.Error(err)
				}
			}
		})
	})

	t.Run("kill -9 server with calls in flight", func(t *testing.T) {
		runCase(t, c, "kill -9 server", tr("ks"), func(ctx context.Context) {
			time.Sleep(100 * time.Millisecond)
			c.server.kill9()
			time.Sleep(500 * time.Millisecond) // clients meet a closed port, and retry
			if err := c.server.start(); err != nil {
				t.Error(err)
			}
			c.waitServer()
		})
	})

	t.Run("Redis FLUSHALL with batches pending", func(t *testing.T) {
		runCase(t, c, "Redis FLUSHALL", tr("fl"), func(ctx context.Context) {
			// No worker: accepted batches wait in the queue, then the queue
			// is wiped. The sweeper of the restarted worker must re-enqueue
			// them from PostgreSQL.
			c.worker.stop()
			time.Sleep(time.Second)
			rdb := c.rd.client()
			defer rdb.Close()
			n, _ := rdb.DBSize(ctx).Result()
			if err := rdb.FlushAll(ctx).Err(); err != nil {
				t.Error(err)
			}
			t.Logf("FLUSHALL dropped %d keys", n)
			if err := c.worker.start(); err != nil {
				t.Error(err)
			}
		})
	})

	t.Run("Redis restart", func(t *testing.T) {
		runCase(t, c, "Redis restart", tr("rr"), func(ctx context.Context) {
			time.Sleep(100 * time.Millisecond)
			if err := c.rd.restart(ctx); err != nil {
				t.Error(err)
			}
		})
	})

	t.Run("PostgreSQL restart under load", func(t *testing.T) {
		runCase(t, c, "PostgreSQL restart (pg_ctl restart -m fast)", tr("pg"), func(ctx context.Context) {
			time.Sleep(100 * time.Millisecond)
			if err := c.pg.ctl(ctx, "restart", "-m", "fast"); err != nil {
				t.Error(err)
			}
		})
	})
}

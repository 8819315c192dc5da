package server_test

import (
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/server"
	"github.com/chatsync/chatsync/server/servertest"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/worker/tasks"
)

// batchAt accepts a batch and rewrites its outcome and timings, as the
// worker would have left them.
func batchAt(t *testing.T, env *servertest.Env, sess chatsync.Session, batchID string, status chatsync.BatchStatus, created time.Time, took time.Duration) {
	t.Helper()
	b, _, err := env.Store.AcceptBatch(t.Context(), store.NewBatch{WorkspaceID: sess.WorkspaceID, SessionID: sess.ID, BatchID: batchID, Kind: chatsync.BatchLive})
	if err != nil {
		t.Fatal(err)
	}
	q := env.Store.DB().NewUpdate().Table("sync_batches").Set("status = ?, created_at = ?", string(status), created).Where("id = ?", b.ID)
	if took > 0 {
		q = q.Set("finished_at = ?", created.Add(took))
	}
	if _, err := q.Exec(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestGetSessionHealth(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Tune: func(p *server.Params) { p.Registry = reg }})
	tn := newTenant(t, env, "acme", chatsync.ProviderWebJS, chatsync.ProviderWhatsmeow)
	sess := tn.sessions[0]
	ctx := t.Context()
	now := time.Now().UTC()
	// Within the hour: 3 completed in 1 s, 2 s and 3 s, 1 failed in 6 s.
	batchAt(t, env, sess, "c1", chatsync.BatchCompleted, now.Add(-50*time.Minute), time.Second)
	batchAt(t, env, sess, "c2", chatsync.BatchCompleted, now.Add(-40*time.Minute), 2*time.Second)
	batchAt(t, env, sess, "c3", chatsync.BatchCompleted, now.Add(-30*time.Minute), 3*time.Second)
	batchAt(t, env, sess, "f1", chatsync.BatchFailed, now.Add(-20*time.Minute), 6*time.Second)
	// Before the window: left out.
	batchAt(t, env, sess, "old", chatsync.BatchFailed, now.Add(-5*time.Hour), time.Hour)
	// Pending now: the queue depth.
	batchAt(t, env, sess, "q1", chatsync.BatchQueued, now.Add(-time.Minute), 0)
	batchAt(t, env, sess, "p1", chatsync.BatchProcessing, now.Add(-2*time.Minute), 0)
	// The session's sync state, as the worker leaves it after a failure.
	pk := func(batchID string) int64 {
		b, err := env.Store.Batch(ctx, tn.ws, sess.ID, batchID)
		if err != nil {
			t.Fatal(err)
		}
		return b.ID
	}
	if _, _, err := env.Store.CompleteBatch(ctx, pk("c3"), store.BatchResult{Written: 42}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.Store.FailBatch(ctx, pk("f1"), "deadlock detected"); err != nil {
		t.Fatal(err)
	}
	// CompleteBatch and FailBatch stamped finished_at now; put the timings back.
	batchAt2 := func(batchID string, created time.Time, took time.Duration) {
		if _, err := env.Store.DB().NewUpdate().Table("sync_batches").Set("created_at = ?, finished_at = ?", created, created.Add(took)).
			Where("id = ?", pk(batchID)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	batchAt2("c3", now.Add(-30*time.Minute), 3*time.Second)
	batchAt2("f1", now.Add(-20*time.Minute), 6*time.Second)
	// Two messages that could not be decrypted yet, one of them since
	// replaced by its content.
	waiting := privateChat(7001, now.Add(-time.Minute), 0)
	waiting.Messages = []chatsync.MessageInput{{ID: "w1", Timestamp: now.Add(-time.Minute), Waiting: true}, {ID: "w2", Timestamp: now.Add(-2 * time.Minute), Waiting: true}}
	replaced := privateChat(7001, now.Add(-time.Minute), 0)
	replaced.Messages = []chatsync.MessageInput{{ID: "w2", Timestamp: now.Add(-2 * time.Minute), Text: "here it is"}}
	for _, c := range []chatsync.ChatInput{waiting, replaced} {
		if _, err := env.Store.WriteChunk(ctx, tn.ws, sess.ID, []chatsync.ChatInput{c}, nil); err != nil {
			t.Fatal(err)
		}
	}

	// What history left out, and two history blobs: one pending, one lost.
	if err := env.Store.AddHistorySkips(ctx, sess.ID, store.HistorySkips{ChatsOverMaxChats: 5, ChatsOutsideWindow: 2, ChatsInvalid: 1, MessagesOutsideWindow: 70}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"H1", "H2"} {
		if err := env.Store.SaveHistoryNotification(ctx, sess.ID, m, []byte("n")); err != nil {
			t.Fatal(err)
		}
	}
	if hn, err := env.Store.PendingHistoryNotifications(ctx, sess.ID, 1); err != nil || len(hn) != 1 {
		t.Fatal(hn, err)
	} else if err := env.Store.HistoryNotificationFailed(ctx, hn[0].ID, "download: 410", true); err != nil {
		t.Fatal(err)
	}

	res, err := env.Clients(tn.token).Session.GetSessionHealth(ctx, &chatsyncv1.GetSessionHealthRequest{SessionId: id(sess.ID)})
	if err != nil {
		t.Fatal(err)
	}
	h := res.GetHealth()
	if hh := h.GetHistory(); hh.GetChatsOverMaxChats() != 5 || hh.GetChatsOutsideWindow() != 2 || hh.GetChatsInvalid() != 1 ||
		hh.GetMessagesOutsideWindow() != 70 || hh.GetPendingBlobs() != 1 || hh.GetLostBlobs() != 1 {
		t.Errorf("history %v", hh)
	}
	if res.GetSessionId() != id(sess.ID) || h.GetStatus() != chatsyncv1.SessionStatus_SESSION_STATUS_PENDING {
		t.Errorf("session %s status %s", res.GetSessionId(), h.GetStatus())
	}
	sync := h.GetSync()
	if sync.GetTotalSynced() != 42 || sync.GetSyncStatus() != chatsyncv1.SyncStatus_SYNC_STATUS_FAILED ||
		sync.GetLastError() != "deadlock detected" || sync.GetLastSyncTime() == nil || sync.GetWaitingMessages() != 1 {
		t.Errorf("sync %v", sync)
	}
	q := h.GetQueue()
	if q.GetDepth() != 2 || q.GetFailedJobs() != 1 || !near(q.GetProcessingRate(), 4.0/60) {
		t.Errorf("queue %v; want depth 2, failed 1, rate 4/60 per minute", q)
	}
	p := h.GetPerformance()
	if p.GetAvgSyncDuration().AsDuration() != 3*time.Second || !near(p.GetSuccessRate(), 0.75) || !near(p.GetErrorRate(), 0.25) || p.GetWindow().AsDuration() != time.Hour {
		t.Errorf("performance %v; want avg 3s, success 0.75, error 0.25, window 1h", p)
	}

	// A session without batches reports zeros, not NaN.
	res, err = env.Clients(tn.token).Session.GetSessionHealth(ctx, &chatsyncv1.GetSessionHealthRequest{SessionId: id(tn.sessions[1].ID)})
	if err != nil {
		t.Fatal(err)
	}
	if p := res.GetHealth().GetPerformance(); p.GetSuccessRate() != 0 || p.GetErrorRate() != 0 || p.GetAvgSyncDuration().AsDuration() != 0 {
		t.Errorf("empty performance %v", p)
	}
	if n := res.GetHealth().GetSync().GetWaitingMessages(); n != 0 {
		t.Errorf("another session reports %d waiting messages", n)
	}
	if hh := res.GetHealth().GetHistory(); hh.GetChatsOverMaxChats() != 0 || hh.GetPendingBlobs() != 0 || hh.GetLostBlobs() != 0 {
		t.Errorf("another session reports history figures %v", hh)
	}

	// The same figures on /metrics, per provider, with runtime metrics.
	// Before anything is enqueued the queues do not exist: no queue figures,
	// and no error either.
	if body := scrape(t, env); !strings.Contains(body, `chatsync_health_scrape_errors{source="queue"} 0`) || strings.Contains(body, "chatsync_queue_tasks{") {
		t.Errorf("/metrics before any task:\n%s", body)
	}
	if _, err := tasks.Enqueue(ctx, env.Queue, pk("q1"), chatsync.BatchLive); err != nil {
		t.Fatal(err)
	}
	body := scrape(t, env)
	for _, want := range []string{
		`chatsync_session_queue_depth{provider="webjs"} 2`,
		`chatsync_session_failed_jobs{provider="webjs"} 1`,
		`chatsync_session_sync_duration_avg_seconds{provider="webjs"} 3`,
		`chatsync_session_success_ratio{provider="webjs"} 0.75`,
		`chatsync_session_error_ratio{provider="webjs"} 0.25`,
		`chatsync_session_processing_rate_per_minute{provider="webjs"} 0.0666666`,
		`chatsync_session_queue_depth{provider="whatsmeow"} 0`,
		`chatsync_sessions{provider="webjs",status="pending"} 1`,
		`chatsync_sessions{provider="whatsmeow",status="pending"} 1`,
		`chatsync_sessions_synced_chats{provider="webjs"} 42`,
		`chatsync_health_window_seconds 3600`,
		`chatsync_queue_tasks{queue="live",state="pending"} 1`,
		`chatsync_queue_processed_total{queue="live"} 0`,
		`chatsync_health_scrape_errors{source="store"} 0`,
		`chatsync_health_scrape_errors{source="queue"} 0`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "session_id=") || strings.Contains(body, "workspace_id=") {
		t.Error("/metrics carries unbounded session or workspace labels")
	}
}

func scrape(t *testing.T, env *servertest.Env) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, env.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer op-token")
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return string(b)
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

package worker_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/pressure"
	"github.com/chatsync/chatsync/worker"
	"github.com/chatsync/chatsync/worker/tasks"
)

func private(n int, at time.Time, msgs ...chatsync.MessageInput) chatsync.ChatInput {
	return chatsync.ChatInput{
		JID: fmt.Sprintf("6281234567%03d@s.whatsapp.net", n), Type: chatsync.ChatPrivate, Name: fmt.Sprintf("Person %d", n),
		LastActivity: at, Contact: &chatsync.ContactInput{PushName: fmt.Sprintf("Person %d", n)}, Messages: msgs,
	}
}

func group(n int, at time.Time, members ...chatsync.ParticipantInput) chatsync.ChatInput {
	return chatsync.ChatInput{
		JID: fmt.Sprintf("120363%012d@g.us", n), Type: chatsync.ChatGroup, LastActivity: at,
		Group: &chatsync.GroupInput{Subject: fmt.Sprintf("Group %d", n), Description: "d", Participants: members},
	}
}

func member(n int, role chatsync.Role) chatsync.ParticipantInput {
	return chatsync.ParticipantInput{JID: fmt.Sprintf("6281234567%03d@s.whatsapp.net", n), Role: role}
}

func msg(id string, at time.Time, text string) chatsync.MessageInput {
	return chatsync.MessageInput{ID: id, Timestamp: at, Text: text}
}

// privates returns n private chats, each with one message.
func privates(n int) []chatsync.ChatInput {
	out := make([]chatsync.ChatInput, n)
	for i := range out {
		at := t0.Add(-time.Duration(i) * time.Minute)
		out[i] = private(i, at, msg(fmt.Sprintf("m%d", i), at, "hello"))
	}
	return out
}

// A chat the database refuses (a CHECK constraint of the test's schema)
// rolls back its chunk only: the other chunks commit, the refused chunk is
// written again chat by chat (so its good chats are written too), and the
// bad chat is reported in the batch's failed chats.
func TestChunkRollback(t *testing.T) {
	tests := []struct {
		name       string
		chunkSize  int // 0: the default, 10
		chats      int
		poison     int
		chunkStart float64
	}{
		{"default chunks of 10, bad chat in chunk 2 of 3", 0, 30, 14, 10},
		{"chunks of 5, bad chat in chunk 3 of 6", 5, 30, 12, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{chunkSize: tt.chunkSize})
			e.exec(t, "ALTER TABLE chats ADD CONSTRAINT no_poison CHECK (name <> 'poison')")
			chats := privates(tt.chats)
			chats[tt.poison].Name = "poison"
			b := e.accept(t, "b1", chatsync.BatchHistory, chats...)
			if err := e.handle(t, b); err != nil {
				t.Fatal(err)
			}
			got := e.batch(t, "b1")
			if got.Status != chatsync.BatchCompleted || got.WrittenCount != int32(tt.chats-1) {
				t.Fatalf("batch = %s, written %d; want completed, %d", got.Status, got.WrittenCount, tt.chats-1)
			}
			if len(got.FailedChats) != 1 || got.FailedChats[0].JID != chats[tt.poison].JID || !strings.Contains(got.FailedChats[0].Reason, "no_poison") {
				t.Fatalf("failed chats = %+v", got.FailedChats)
			}
			if n := e.count(t, "chats"); n != tt.chats-1 {
				t.Fatalf("%d chats stored, want %d", n, tt.chats-1)
			}
			refused := e.logs.lines(t, "chunk refused, writing its chats one by one")
			if len(refused) != 1 || refused[0]["chunk_start"] != tt.chunkStart {
				t.Fatalf("refused chunks = %v, want one starting at %v", refused, tt.chunkStart)
			}
			if bad := e.logs.lines(t, "chat refused"); len(bad) != 1 || bad[0]["chat_jid"] != chats[tt.poison].JID || bad[0]["batch_id"] != "b1" {
				t.Fatalf("chat refused lines = %v", bad)
			}
		})
	}
}

// While the API's calls are slow, a history batch pauses between its
// chunks (and still completes); a live batch never waits. (Without
// pressure nothing pauses: package pressure's tests.)
func TestHistoryYieldsToSlowCalls(t *testing.T) {
	e := newEnv(t, envOptions{chunkSize: 2, yieldAbove: 50 * time.Millisecond})
	yielded := func() float64 {
		t.Helper()
		mfs, err := e.metrics.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "chatsync_worker_yield_seconds_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		t.Fatal("no chatsync_worker_yield_seconds_total")
		return 0
	}
	// A server reports its calls averaging 200 ms.
	if err := e.rdb.HSet(t.Context(), pressure.Key, "api-1", fmt.Sprintf("200000:%d", time.Now().UnixMilli())).Err(); err != nil {
		t.Fatal(err)
	}
	live := e.accept(t, "live", chatsync.BatchLive, privates(6)...)
	if err := e.handle(t, live); err != nil {
		t.Fatal(err)
	}
	if got := yielded(); got != 0 {
		t.Fatalf("a live batch yielded %vs", got)
	}
	hist := e.accept(t, "busy", chatsync.BatchHistory, privates(6)...)
	if err := e.handle(t, hist); err != nil {
		t.Fatal(err)
	}
	// Three chunks, two pauses between them, each up to the 10 ms bound.
	if got := yielded(); got < 0.015 || got > 0.025 {
		t.Fatalf("history batch under pressure yielded %vs, want two pauses of 10 ms", got)
	}
	if got := e.batch(t, "busy"); got.Status != chatsync.BatchCompleted || got.WrittenCount != 6 {
		t.Fatalf("yielding batch: %s, %d written; want completed, 6", got.Status, got.WrittenCount)
	}
}

// Processing a batch twice, or again after a crash between its chunks,
// leaves exactly the rows of processing it once.
func TestProcessingIsIdempotent(t *testing.T) {
	chats := append(privates(23),
		group(1, t0, member(1, chatsync.RoleSuperAdmin), member(2, chatsync.RoleAdmin), member(3, "")),
		group(2, t0.Add(-time.Hour), member(4, chatsync.RoleSuperAdmin)))
	chats[0].Messages = append(chats[0].Messages, msg("m0", t0, "hello"), msg("m0b", t0.Add(-time.Second), "earlier"))

	once := newEnv(t, envOptions{})
	b := once.accept(t, "b1", chatsync.BatchHistory, chats...)
	if err := once.handle(t, b); err != nil {
		t.Fatal(err)
	}
	want := once.snapshot(t)
	if len(want) < 60 {
		t.Fatalf("snapshot of %d rows is too small to prove anything", len(want))
	}

	t.Run("twice", func(t *testing.T) {
		once.exec(t, "UPDATE sync_batches SET status = 'queued'")
		if err := once.handle(t, b); err != nil {
			t.Fatal(err)
		}
		if got := once.snapshot(t); !slices.Equal(got, want) {
			t.Fatalf("rows differ after a second run:\n%s", diff(want, got))
		}
	})
	t.Run("after a crash between chunks", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		b := e.accept(t, "b1", chatsync.BatchHistory, chats...)
		// The first attempt committed chunk 1, then the process died.
		if _, _, _, err := e.store.StartBatch(t.Context(), b.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.IngestChunk(t.Context(), e.ws, e.session.ID, chats[:10], nil); err != nil {
			t.Fatal(err)
		}
		if err := e.handle(t, b); err != nil {
			t.Fatal(err)
		}
		if got := e.snapshot(t); !slices.Equal(got, want) {
			t.Fatalf("rows differ after a re-run:\n%s", diff(want, got))
		}
		if got := e.batch(t, "b1"); got.Status != chatsync.BatchCompleted || got.Attempts != 2 {
			t.Fatalf("batch = %s after %d attempts", got.Status, got.Attempts)
		}
	})
}

func diff(want, got []string) string {
	var sb strings.Builder
	for _, w := range want {
		if !slices.Contains(got, w) {
			fmt.Fprintf(&sb, "- %s\n", w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			fmt.Fprintf(&sb, "+ %s\n", g)
		}
	}
	return sb.String()
}

// A fault of the database itself (a trigger raising an internal error)
// is retried with exponential backoff; after the last attempt the batch
// and the session's sync status fail, a sync_failed event goes out and an
// error line names workspace, session, batch, attempts and chats. A later
// good batch sets the session back to synced.
func TestRetriesThenFailure(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.exec(t, `CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'injected fault' USING ERRCODE = 'XX000'; END $$`)
	e.exec(t, "CREATE TRIGGER injected_fault BEFORE INSERT ON chats FOR EACH ROW EXECUTE FUNCTION injected_fault()")
	// Asynq keeps due times in whole seconds, so a retry may start up to a
	// second before its delay is over: 1.5 s apart the first delay (1.5 s)
	// and the second (3 s) are still told apart.
	const base = 1500 * time.Millisecond
	e.serve(t, worker.ServerParams{Concurrency: 2, RetryBase: base, DelayedTaskCheckInterval: 50 * time.Millisecond})

	b := e.accept(t, "bad", chatsync.BatchLive, privates(3)...)
	e.enqueue(t, b)
	got := e.waitBatch(t, "bad", chatsync.BatchFailed)
	if got.Attempts != tasks.MaxAttempts || !strings.Contains(got.LastError, "injected fault") || got.FinishedAt.IsZero() {
		t.Fatalf("failed batch = %+v", got)
	}
	sess := e.sessionNow(t)
	if sess.SyncStatus != chatsync.SyncFailed || !strings.Contains(sess.LastError, "injected fault") {
		t.Fatalf("session after failure = %s %q", sess.SyncStatus, sess.LastError)
	}

	var starts []time.Time
	for _, l := range e.logs.lines(t, "sync started") {
		if l["batch_id"] == "bad" {
			at, err := time.Parse(time.RFC3339Nano, l["time"].(string))
			if err != nil {
				t.Fatal(err)
			}
			starts = append(starts, at)
		}
	}
	if len(starts) != tasks.MaxAttempts {
		t.Fatalf("%d attempts started, want %d", len(starts), tasks.MaxAttempts)
	}
	var gaps []time.Duration
	for i := 1; i < len(starts); i++ {
		gap, min := starts[i].Sub(starts[i-1]), worker.RetryDelay(base, i-1)-time.Second
		if gap < min {
			t.Errorf("attempt %d started %s after attempt %d, want at least %s", i+1, gap, i, min)
		}
		gaps = append(gaps, gap)
	}
	if gaps[1] <= gaps[0] {
		t.Errorf("backoff is not growing: %v", gaps)
	}
	if retried := e.logs.lines(t, "sync attempt failed, will retry"); len(retried) != tasks.MaxAttempts-1 {
		t.Fatalf("%d retry lines, want %d", len(retried), tasks.MaxAttempts-1)
	}
	// The failure is logged after the batch is marked failed: wait for it.
	var failed []map[string]any
	waitFor(t, 10*time.Second, func() bool {
		failed = e.logs.lines(t, "sync failed")
		return len(failed) > 0
	}, func() string { return "no sync failed line" })
	if len(failed) != 1 {
		t.Fatalf("sync failed lines: %v", failed)
	}
	l := failed[0]
	if l["level"] != "ERROR" || l["workspace_id"] != float64(e.ws) || l["session_id"] != float64(e.session.ID) ||
		l["batch_id"] != "bad" || l["attempts"] != float64(3) || l["chats"] != float64(3) || !strings.Contains(l["error"].(string), "injected fault") {
		t.Fatalf("failure line = %v", l)
	}
	var failures []*chatsync.SyncFailureEvent
	for _, ev := range e.events(t) {
		if ev.Type == chatsync.EventSyncFailed {
			failures = append(failures, ev.Failure)
		}
	}
	if len(failures) != 1 || failures[0].BatchID != "bad" || failures[0].Attempts != 3 || !strings.Contains(failures[0].Error, "injected fault") {
		t.Fatalf("sync_failed events = %+v", failures)
	}

	e.exec(t, "DROP TRIGGER injected_fault ON chats")
	good := e.accept(t, "good", chatsync.BatchLive, privates(2)...)
	e.enqueue(t, good)
	e.waitBatch(t, "good", chatsync.BatchCompleted)
	if sess := e.sessionNow(t); sess.SyncStatus != chatsync.SyncSynced || sess.LastError != "" || sess.TotalSynced != 2 {
		t.Fatalf("session after a good batch = %s %q total %d", sess.SyncStatus, sess.LastError, sess.TotalSynced)
	}
}

// Each completed batch publishes its chats, its new messages and a
// sync_progress event, and moves the session's totals and last sync time.
func TestProgressEventsAndTotals(t *testing.T) {
	e := newEnv(t, envOptions{})
	first := e.accept(t, "b1", chatsync.BatchHistory, private(1, t0, msg("a", t0, "hi")), private(2, t0), group(1, t0, member(1, chatsync.RoleAdmin)))
	if err := e.handle(t, first); err != nil {
		t.Fatal(err)
	}
	sess := e.sessionNow(t)
	if sess.TotalSynced != 3 || sess.SyncStatus != chatsync.SyncSynced || sess.LastSyncAt.IsZero() {
		t.Fatalf("session after b1 = %+v", sess)
	}
	second := e.accept(t, "b2", chatsync.BatchLive, private(1, t0.Add(time.Minute), msg("b", t0.Add(time.Minute), "again")), private(3, t0))
	// Pending now: the session stays syncing until none is.
	if s := e.sessionNow(t); s.SyncStatus != chatsync.SyncSyncing {
		t.Fatalf("sync status with a pending batch = %s", s.SyncStatus)
	}
	if err := e.handle(t, second); err != nil {
		t.Fatal(err)
	}
	if s := e.sessionNow(t); s.TotalSynced != 5 || !s.LastSyncAt.After(sess.LastSyncAt) && !s.LastSyncAt.Equal(sess.LastSyncAt) {
		t.Fatalf("session after b2 = %+v", s)
	}

	counts := map[chatsync.EventType]int{}
	var progress []*chatsync.SyncProgressEvent
	for _, ev := range e.events(t) {
		counts[ev.Type]++
		if ev.WorkspaceID != e.ws || ev.SessionID != e.session.ID {
			t.Fatalf("event of another session: %+v", ev)
		}
		switch ev.Type {
		case chatsync.EventSyncProgress:
			progress = append(progress, ev.Progress)
		case chatsync.EventChatUpserted:
			if ev.Chat.ID == 0 || ev.Chat.SessionName != "Support" {
				t.Fatalf("chat event without the chat's view: %+v", ev.Chat)
			}
		}
	}
	if counts[chatsync.EventChatUpserted] != 5 || counts[chatsync.EventMessageAdded] != 2 || len(progress) != 2 {
		t.Fatalf("events = %v", counts)
	}
	if p := progress[1]; p.BatchID != "b2" || p.Kind != chatsync.BatchLive || p.WrittenCount != 2 || p.TotalSynced != 5 || p.PendingBatches != 0 {
		t.Fatalf("progress = %+v", p)
	}

	started, completed := e.logs.lines(t, "sync started"), e.logs.lines(t, "sync completed")
	if len(started) != 2 || len(completed) != 2 {
		t.Fatalf("started %d, completed %d lines", len(started), len(completed))
	}
	for _, l := range append(started, completed...) {
		for _, k := range []string{"workspace_id", "session_id", "batch_id"} {
			if l[k] == nil {
				t.Fatalf("log line without %s: %v", k, l)
			}
		}
	}
	if c := completed[0]; c["written"] != float64(3) || c["messages"] != float64(1) || c["duration"] == nil || c["total_synced"] != float64(3) {
		t.Fatalf("completed line = %v", c)
	}
	if s := started[0]; s["chats"] != float64(3) || s["attempt"] != float64(1) || s["kind"] != "history" {
		t.Fatalf("started line = %v", s)
	}
}

// What the issue asks of the rows, through the worker: contacts with E.164
// phones (an unnormalisable number kept raw and flagged), groups with
// members and roles and a participant count that follows leaves, messages
// keyed on (chat, message ID), forward-only chat state, and one contact
// for a person seen by LID and by phone once a batch maps them.
func TestRowsThroughTheWorker(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := t.Context()
	step := 0
	run := func(t *testing.T, kind chatsync.BatchKind, chats []chatsync.ChatInput, contacts ...chatsync.ContactInput) {
		t.Helper()
		step++
		id := fmt.Sprintf("s%d", step)
		for i := range chats {
			if err := chats[i].Validate(time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		for i := range contacts {
			if err := contacts[i].Validate(""); err != nil {
				t.Fatal(err)
			}
		}
		b, _, err := e.store.AcceptBatch(ctx, storeBatch(e, id, kind, chats, contacts))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.handle(t, b); err != nil {
			t.Fatal(err)
		}
		if got := e.batch(t, id); got.Status != chatsync.BatchCompleted || len(got.FailedChats) != 0 {
			t.Fatalf("batch %s = %s, failed %v", id, got.Status, got.FailedChats)
		}
	}
	query := func(t *testing.T, sql string, args ...any) string {
		t.Helper()
		var s string
		if err := e.store.DB().DB.QueryRowContext(ctx, sql, args...).Scan(&s); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return s
	}

	t.Run("contacts", func(t *testing.T) {
		alice := private(1, t0)
		alice.Contact.Phone = "+62 812-3456-7001"
		odd := private(2, t0)
		odd.Contact.Phone = "12345"
		run(t, chatsync.BatchHistory, []chatsync.ChatInput{alice, odd})
		if got := query(t, "SELECT phone_e164 || '|' || phone_valid FROM contacts WHERE phone_jid = $1", alice.JID); got != "+6281234567001|true" {
			t.Fatalf("normalised contact = %s", got)
		}
		if got := query(t, "SELECT phone_raw || '|' || phone_e164 || '|' || phone_valid FROM contacts WHERE phone_jid = $1", odd.JID); got != "12345||false" {
			t.Fatalf("unnormalisable contact = %s", got)
		}
	})
	t.Run("groups", func(t *testing.T) {
		g := group(1, t0, member(10, chatsync.RoleSuperAdmin), member(11, chatsync.RoleAdmin), member(12, ""))
		run(t, chatsync.BatchHistory, []chatsync.ChatInput{g})
		if got := query(t, "SELECT participant_count || '|' || name FROM chats WHERE jid = $1", g.JID); got != "3|Group 1" {
			t.Fatalf("group = %s", got)
		}
		if got := query(t, `SELECT string_agg(gp.jid || ':' || gp.role || ':' || gp.phone_e164, ',' ORDER BY gp.jid)
			FROM group_participants gp JOIN chats c ON c.id = gp.chat_id WHERE c.jid = $1`, g.JID); got !=
			"6281234567010@s.whatsapp.net:superadmin:+6281234567010,6281234567011@s.whatsapp.net:admin:+6281234567011,6281234567012@s.whatsapp.net:member:+6281234567012" {
			t.Fatalf("members = %s", got)
		}
		leave := chatsync.ChatInput{JID: g.JID, Type: chatsync.ChatGroup, Group: &chatsync.GroupInput{Changes: []chatsync.ParticipantChange{
			{JID: member(11, "").JID, Action: chatsync.ActionLeave},
		}}}
		run(t, chatsync.BatchLive, []chatsync.ChatInput{leave})
		if got := query(t, "SELECT participant_count || '|' || name FROM chats WHERE jid = $1", g.JID); got != "2|Group 1" {
			t.Fatalf("group after a leave = %s", got)
		}
	})
	t.Run("messages and forward-only state", func(t *testing.T) {
		c := private(3, t0, msg("x1", t0, "newest"))
		c.UnreadCount = new(int32(4))
		run(t, chatsync.BatchLive, []chatsync.ChatInput{c})
		again := private(3, t0, msg("x1", t0, "newest"))
		again.UnreadCount = new(int32(4))
		older := private(3, t0.Add(-time.Hour), msg("x0", t0.Add(-time.Hour), "older"))
		older.UnreadCount = new(int32(9))
		run(t, chatsync.BatchHistory, []chatsync.ChatInput{again, older})
		if got := query(t, "SELECT count(*)::text FROM messages m JOIN chats c ON c.id = m.chat_id WHERE c.jid = $1", c.JID); got != "2" {
			t.Fatalf("%s messages, want 2 (x1 once, x0)", got)
		}
		if got := query(t, "SELECT unread_count || '|' || last_message_preview FROM chats WHERE jid = $1", c.JID); got != "4|newest" {
			t.Fatalf("chat after an older batch = %s", got)
		}
	})
	t.Run("LID and phone merge", func(t *testing.T) {
		lid := "123456789012345@lid"
		phoneJID := private(4, t0).JID
		run(t, chatsync.BatchLive, []chatsync.ChatInput{{JID: lid, Type: chatsync.ChatPrivate, LastActivity: t0, Contact: &chatsync.ContactInput{PushName: "Dana"}}})
		run(t, chatsync.BatchLive, []chatsync.ChatInput{private(4, t0)}, chatsync.ContactInput{JID: phoneJID, AltJID: lid})
		if got := query(t, "SELECT count(*)::text FROM contacts WHERE phone_jid = $1 OR lid_jid = $2", phoneJID, lid); got != "1" {
			t.Fatalf("%s contacts for one person", got)
		}
		if got := query(t, `SELECT count(DISTINCT c.contact_id)::text FROM chats c WHERE c.jid IN ($1, $2)`, phoneJID, lid); got != "1" {
			t.Fatalf("the LID chat and the phone chat point at %s contacts", got)
		}
	})
}

// Bad tasks are not retried: an undecodable payload, a batch that is gone.
func TestTasksThatCannotSucceed(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct {
		name string
		task *asynq.Task
	}{
		{"bad payload", asynq.NewTask(tasks.TypeSyncBatch, []byte("{"))},
		{"batch gone", func() *asynq.Task { tk, _ := tasks.NewSyncBatchTask(1<<40, chatsync.BatchLive); return tk }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.proc.HandleSyncBatch(t.Context(), tt.task); !errors.Is(err, asynq.SkipRetry) {
				t.Fatalf("err = %v, want SkipRetry", err)
			}
		})
	}
	t.Run("already finished", func(t *testing.T) {
		b := e.accept(t, "done", chatsync.BatchLive, private(1, t0))
		if err := e.handle(t, b); err != nil {
			t.Fatal(err)
		}
		if err := e.handle(t, b); err != nil {
			t.Fatal(err)
		}
		if got := e.batch(t, "done"); got.Attempts != 1 {
			t.Fatalf("a finished batch ran again: %d attempts", got.Attempts)
		}
		if l := e.logs.lines(t, "batch already finished; task dropped"); len(l) != 1 {
			t.Fatalf("redelivery lines: %v", l)
		}
	})
}

func TestNewProcessorRequiresItsDependencies(t *testing.T) {
	if _, err := worker.NewProcessor(worker.Params{}); err == nil {
		t.Fatal("NewProcessor without dependencies succeeded")
	}
}

// failingPublisher is Redis refusing every event.
type failingPublisher struct{}

func (failingPublisher) Publish(context.Context, ...chatsync.Event) ([]string, error) {
	return nil, errors.New("redis is down")
}

// Events are published after the commit: when Redis refuses them, the
// batch is still completed and the failure is logged with the batch.
func TestPublishFailureIsNotFatal(t *testing.T) {
	e := newEnv(t, envOptions{})
	proc, err := worker.NewProcessor(worker.Params{Store: e.store, Publisher: failingPublisher{}, Log: e.log, Metrics: worker.NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	b := e.accept(t, "b1", chatsync.BatchLive, private(1, t0, msg("m", t0, "hi")))
	task, _ := tasks.NewSyncBatchTask(b.ID, b.Kind)
	if err := proc.HandleSyncBatch(t.Context(), task); err != nil {
		t.Fatal(err)
	}
	if got := e.batch(t, "b1"); got.Status != chatsync.BatchCompleted {
		t.Fatalf("batch = %s", got.Status)
	}
	lines := e.logs.lines(t, "publish events")
	if len(lines) != 2 || lines[0]["level"] != "ERROR" || lines[0]["batch_id"] != "b1" || lines[0]["events"] != float64(2) {
		t.Fatalf("publish failure lines = %v", lines)
	}
}

// A batch that links a person's LID to their phone merges the LID chat into
// the phone chat and says so: chat_removed (with merged_into) before the
// phone chat's chat_upserted.
func TestMergedChatIsAnnounced(t *testing.T) {
	e := newEnv(t, envOptions{})
	const phoneJID, lid = "6281234567500@s.whatsapp.net", "923456789012345@lid"
	report := func(jid, alt string, msgs ...chatsync.MessageInput) chatsync.ChatInput {
		return chatsync.ChatInput{JID: jid, Type: chatsync.ChatPrivate, Contact: &chatsync.ContactInput{JID: jid, AltJID: alt}, Messages: msgs}
	}
	for i, c := range []chatsync.ChatInput{
		report(lid, "", msg("L1", t0, "via lid")),
		report(phoneJID, "", msg("P1", t0.Add(time.Minute), "via phone")),
		report(phoneJID, lid),
	} {
		if err := e.handle(t, e.accept(t, fmt.Sprint("link-", i), chatsync.BatchLive, c)); err != nil {
			t.Fatal(err)
		}
	}
	evs := e.events(t)
	var removed, upserted = -1, -1
	var lidChat, phoneChat int64
	for i, ev := range evs {
		switch {
		case ev.Type == chatsync.EventChatUpserted && ev.Chat.JID == lid:
			lidChat = ev.Chat.ID
		case ev.Type == chatsync.EventChatUpserted && ev.Chat.JID == phoneJID:
			phoneChat, upserted = ev.Chat.ID, i
		case ev.Type == chatsync.EventChatRemoved:
			removed = i
			if ev.Removed.ChatID != lidChat || ev.Removed.MergedInto == 0 {
				t.Errorf("chat_removed %+v, want the LID chat %d merged", ev.Removed, lidChat)
			}
		}
	}
	if removed < 0 || upserted < removed {
		t.Fatalf("chat_removed at %d, the phone chat's last chat_upserted at %d; want the removal first", removed, upserted)
	}
	if last := evs[upserted]; last.Chat.UnreadCount != 2 || evs[removed].Removed.MergedInto != phoneChat {
		t.Errorf("merged chat %+v into %d", last.Chat, evs[removed].Removed.MergedInto)
	}
}

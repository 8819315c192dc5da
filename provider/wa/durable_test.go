package wa

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
)

// ownJID is the account of the paired test device.
const ownJID = "15550000000:1@s.whatsapp.net"

// historyNotification is the message my phone sends a linked device for
// one history blob, as whatsmeow dispatches it with
// ManualHistorySyncDownload: a protocol message from me whose notification
// carries the blob inline (zlib-compressed HistorySync, as WhatsApp sends
// the initial bootstrap), so whatsmeow's real DownloadHistorySync reads it
// without reaching WhatsApp's media servers.
func historyNotification(t testing.TB, id string, data *waHistorySync.HistorySync) *events.Message {
	t.Helper()
	raw, err := proto.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return inlineNotification(t, id, data.GetSyncType(), data.GetChunkOrder(), buf.Bytes())
}

// inlineNotification is historyNotification's message around a payload as
// is; the notification's sync type numbers are the blob's.
func inlineNotification(t testing.TB, id string, syncType waHistorySync.HistorySync_HistorySyncType, chunk uint32, payload []byte) *events.Message {
	t.Helper()
	own := mustJID(t, ownJID)
	return &events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{Chat: own.ToNonAD(), Sender: own, IsFromMe: true},
			ID:            id, Timestamp: testNow, Category: "peer", Type: "protocol",
		},
		Message: &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
			Type: waE2E.ProtocolMessage_HISTORY_SYNC_NOTIFICATION.Enum(),
			HistorySyncNotification: &waE2E.HistorySyncNotification{
				SyncType: waE2E.HistorySyncType(syncType).Enum(), ChunkOrder: proto.Uint32(chunk),
				InitialHistBootstrapInlinePayload: payload,
			},
		}},
	}
}

// longHistory is a FULL blob with a private chat of 1,500 messages and a
// LID-addressed group of 20.
func longHistory() *waHistorySync.HistorySync {
	long := make([]*waHistorySync.HistorySyncMsg, 1500)
	for i := range long {
		long[i] = webMsg(fmt.Sprintf("L%04d", i), i%4 == 0, "", uint64(testNow.Add(-time.Duration(1500-i)*time.Minute).Unix()), text(fmt.Sprintf("long %d", i)))
	}
	group := make([]*waHistorySync.HistorySyncMsg, 20)
	for i := range group {
		group[i] = webMsg(fmt.Sprintf("Q%02d", i), false, "666666666666666@lid", ago(time.Duration(30-i)*time.Hour), text(fmt.Sprintf("group %d", i)))
	}
	return &waHistorySync.HistorySync{
		SyncType: waHistorySync.HistorySync_FULL.Enum(), ChunkOrder: proto.Uint32(2),
		Conversations: []*waHistorySync.Conversation{
			{ID: proto.String("15551230010@s.whatsapp.net"), Name: proto.String("Long"), Messages: long},
			{
				ID: proto.String("120363000000000003@g.us"), Name: proto.String("Planning"),
				Participant: []*waHistorySync.GroupParticipant{{UserJID: proto.String("666666666666666@lid")}},
				Messages:    group,
			},
		},
	}
}

// wantHistoryRows is what the two blobs of the crash test leave: messages
// per chat (no sync window; in historyEvent the reaction is no message,
// the message timed in milliseconds is dropped as implausible, and
// status@broadcast is no chat).
var wantHistoryRows = map[string]int{
	"15551230001@s.whatsapp.net": 3,
	"15551230002@s.whatsapp.net": 1,
	"120363000000000001@g.us":    3,
	"120363000000000002@g.us":    1,
	"15551230006@s.whatsapp.net": 0,
	"15551230010@s.whatsapp.net": 1500,
	"120363000000000003@g.us":    20,
}

// failingSink accepts the first okBatches batches, then refuses every
// batch: the process dies, or its store is gone, mid-blob.
type failingSink struct {
	next      batchSink
	okBatches int64
	n         atomic.Int64
}

func (f *failingSink) SubmitBatch(ctx context.Context, sessionID int64, kind chatsync.BatchKind, batchID string, p chatsync.BatchPayload) error {
	if f.n.Add(1) > f.okBatches {
		return errors.New("injected: store unreachable")
	}
	return f.next.SubmitBatch(ctx, sessionID, kind, batchID, p)
}

// TestHistoryNotificationSurvivesACrash: two history notifications are
// stored before the handler returns (WhatsApp's ack); the first run of the
// session accepts the first blob and part of the second, then fails and is
// stopped. The second run, on a new Session as after a restart, resumes
// the pending notification; WhatsApp delivering one again changes nothing.
// The rows are exactly the two blobs' chats and messages, none twice.
// pairedRunner builds Sessions of a paired session on the env's real
// Sink and store, as the supervisor does after each start (a restart is a
// new Session), with no connection to WhatsApp.
func (e *env) pairedRunner(t *testing.T, sess chatsync.Session, cfg chatsync.SyncConfig, batches batchSink) *Session {
	t.Helper()
	dev, err := e.devices.GetDevice(t.Context(), mustJID(t, ownJID))
	if err != nil || dev == nil {
		t.Fatalf("device: %v, %v", dev, err)
	}
	s, err := NewSession(SessionParams{
		ID: sess.ID, Client: whatsmeow.NewClient(dev, Logger(discardLogger())), Batches: batches, Status: e.sink,
		History: e.sink, Logger: discardLogger(), Now: fixedNow, SyncConfig: cfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.connect = func() error { return nil } // WhatsApp cannot be reached from tests
	s.historyRetry = nil
	s.historyBackoff = [2]time.Duration{5 * time.Millisecond, 20 * time.Millisecond}
	return s
}

// runSession runs s until stop is called.
func runSession(t *testing.T, s *Session) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.Run(ctx); err != nil {
			t.Error(err)
		}
	})
	return func() { cancel(); wg.Wait() }
}

func TestHistoryNotificationSurvivesACrash(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	sess := e.pairedSession(t, "Phone", ownJID)
	newSession := func(batches batchSink) *Session {
		t.Helper()
		s := e.pairedRunner(t, sess, chatsync.SyncConfig{}, batches)
		s.batchSize = 1 // a batch per chat: the crash falls between two chats of a blob
		return s
	}
	first := historyNotification(t, "HIST1", historyEvent().Data)
	second := historyNotification(t, "HIST2", longHistory())

	crashing := &failingSink{next: e.sink, okBatches: 6} // the first blob's 5 chats, then 1 of 2
	s1 := newSession(crashing)
	// Stored before the ack, before any processing runs.
	for _, m := range []*events.Message{first, second} {
		if !s1.handleEvent(ctx, m) {
			t.Fatalf("handler failed on %s: WhatsApp would deliver it again", m.Info.ID)
		}
	}
	if p, err := e.st.PendingHistoryNotifications(ctx, sess.ID, 10); err != nil || len(p) != 2 {
		t.Fatalf("pending after the ack: %+v, %v", p, err)
	}
	stop := runSession(t, s1)
	waitFor(t, "the second blob to fail", func() bool {
		p, err := e.st.PendingHistoryNotifications(ctx, sess.ID, 10)
		return err == nil && len(p) == 1 && p[0].MessageID == "HIST2" && p[0].Attempts >= 2
	})
	stop() // the crash
	if crashing.n.Load() <= 6 {
		t.Fatalf("%d batches submitted: the second blob was not cut mid-way", crashing.n.Load())
	}
	var accepted int
	if err := e.st.DB().NewRaw("SELECT count(*) FROM sync_batches WHERE session_id = ?", sess.ID).Scan(ctx, &accepted); err != nil || accepted != 6 {
		t.Fatalf("%d batches accepted before the crash (%v), want 6", accepted, err)
	}

	s2 := newSession(e.sink)
	stop = runSession(t, s2)
	waitFor(t, "the resumed blob to be processed", func() bool {
		p, err := e.st.PendingHistoryNotifications(ctx, sess.ID, 10)
		return err == nil && len(p) == 0
	})
	// WhatsApp delivers the second notification again (its ack was lost).
	if !s2.handleEvent(ctx, second) {
		t.Fatal("handler failed on a redelivered notification")
	}
	stop()
	if p, _ := e.st.PendingHistoryNotifications(ctx, sess.ID, 10); len(p) != 0 {
		t.Fatalf("a redelivered notification is pending again: %+v", p)
	}
	pending, failed, err := e.st.HistoryNotificationCounts(ctx, sess.ID)
	if err != nil || pending != 0 || failed != 0 {
		t.Fatalf("notifications pending %d, failed %d, %v", pending, failed, err)
	}
	e.processor(t)()
	assertHistoryRows(t, e, wantHistoryRows)
}

// assertHistoryRows checks the workspace's chats and their message counts
// against want, exactly, and that no message is stored twice.
func assertHistoryRows(t *testing.T, e *env, want map[string]int) {
	t.Helper()
	var rows []struct {
		JID      string `bun:"jid"`
		N        int    `bun:"n"`
		Distinct int    `bun:"d"`
	}
	err := e.st.DB().NewRaw(`SELECT c.jid, count(m.id) AS n, count(DISTINCT m.wa_id) AS d
		FROM chats c LEFT JOIN messages m ON m.chat_id = c.id WHERE c.workspace_id = ? GROUP BY c.jid`, e.ws).Scan(t.Context(), &rows)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range rows {
		got[r.JID] = r.N
		if r.Distinct != r.N {
			t.Errorf("chat %s: %d messages, %d distinct", r.JID, r.N, r.Distinct)
		}
	}
	for jid, n := range want {
		if got[jid] != n {
			t.Errorf("chat %s: %d messages, want %d", jid, got[jid], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("chats %v, want exactly %v", got, want)
	}
}

func TestHistoryNotificationHandling(t *testing.T) {
	t.Parallel()
	t.Run("not stored means not acknowledged", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		h.history.saveErr = errors.New("database down")
		if h.s.handleEvent(t.Context(), historyNotification(t, "N1", historyBlob(waHistorySync.HistorySync_FULL, 1, "15550000001@s.whatsapp.net").Data)) {
			t.Error("handler succeeded without storing: whatsmeow would ack a notification that is nowhere")
		}
		if !strings.Contains(h.logs.String(), "WhatsApp will deliver it again") {
			t.Errorf("failure not logged:\n%s", h.logs.String())
		}
	})
	t.Run("only my phone sends history", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		m := historyNotification(t, "N1", historyBlob(waHistorySync.HistorySync_FULL, 1, "15550000001@s.whatsapp.net").Data)
		m.Info.IsFromMe = false
		if !h.s.handleEvent(t.Context(), m) {
			t.Error("handler failed")
		}
		if pending, done, failed := h.history.state(); len(pending)+len(done)+len(failed) != 0 {
			t.Errorf("a notification from someone else was stored: %v %v %v", pending, done, failed)
		}
	})
	t.Run("a blob that cannot be decoded is set aside and the next one goes", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		reg := prometheus.NewRegistry()
		h.s.metrics = NewMetrics(reg)
		ctx := t.Context()
		if !h.s.handleEvent(ctx, inlineNotification(t, "BAD", waHistorySync.HistorySync_FULL, 1, []byte("not zlib"))) ||
			!h.s.handleEvent(ctx, historyNotification(t, "GOOD", historyBlob(waHistorySync.HistorySync_FULL, 2, "15550000001@s.whatsapp.net").Data)) {
			t.Fatal("handler failed")
		}
		t.Cleanup(runSession(t, h.s))
		waitFor(t, "both notifications handled", func() bool {
			pending, _, _ := h.history.state()
			return len(pending) == 0
		})
		_, done, failed := h.history.state()
		if len(done) != 1 || done[0] != "GOOD" || len(failed) != 1 || failed[0] != "BAD" {
			t.Errorf("done %v, failed %v", done, failed)
		}
		if got := h.submitted(); len(got) != 1 || got[0].Payload.Chats[0].JID != "15550000001@s.whatsapp.net" {
			t.Errorf("submitted %+v", got)
		}
		if !strings.Contains(h.logs.String(), "history blob cannot be had") {
			t.Errorf("the lost blob is not logged:\n%s", h.logs.String())
		}
		if n := counterValue(t, reg, "chatsync_wa_history_blobs_lost_total", ""); n != 1 {
			t.Errorf("lost blobs counted %v, want 1", n)
		}
	})
	t.Run("a download that fails is retried until it succeeds", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		ctx := t.Context()
		var calls atomic.Int32
		download := h.s.download
		h.s.download = func(ctx context.Context, n *waE2E.HistorySyncNotification) (*waHistorySync.HistorySync, error) {
			if calls.Add(1) <= 3 {
				return nil, fmt.Errorf("failed to download: %w", errors.New("connection reset"))
			}
			return download(ctx, n)
		}
		if !h.s.handleEvent(ctx, historyNotification(t, "N1", historyBlob(waHistorySync.HistorySync_FULL, 1, "15550000001@s.whatsapp.net").Data)) {
			t.Fatal("handler failed")
		}
		t.Cleanup(runSession(t, h.s))
		waitFor(t, "the notification done", func() bool {
			_, done, _ := h.history.state()
			return len(done) == 1
		})
		if calls.Load() != 4 || len(h.submitted()) != 1 {
			t.Errorf("%d download calls, %d batches; want 4 and 1", calls.Load(), len(h.submitted()))
		}
	})
}

func TestHistoryBlobGone(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		gone bool
	}{
		{fmt.Errorf("failed to download: %w", whatsmeow.ErrMediaDownloadFailedWith404), true},
		{fmt.Errorf("failed to download: %w", whatsmeow.ErrMediaDownloadFailedWith410), true},
		{fmt.Errorf("failed to download: %w", whatsmeow.ErrNoURLPresent), true},
		{fmt.Errorf("failed to download: %w", whatsmeow.ErrMediaDownloadFailedWith403), false},
		{fmt.Errorf("failed to download: %w", whatsmeow.ErrInvalidMediaHMAC), false},
		{fmt.Errorf("failed to download: %w", context.DeadlineExceeded), false},
		{errors.New("failed to decompress: unexpected EOF"), true},
	} {
		if got := historyBlobGone(c.err); got != c.gone {
			t.Errorf("historyBlobGone(%v) = %v, want %v", c.err, got, c.gone)
		}
	}
}

// TestHistoryLimitsAreCounted: every chat a limit leaves out is logged with
// the session and chat, counted in the metrics and on the session; so are
// the messages older than the window.
func TestHistoryLimitsAreCounted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, chatsync.SyncConfig{MaxChats: 3, SyncWindowDays: 30})
	reg := prometheus.NewRegistry()
	h.s.metrics = NewMetrics(reg)
	if !h.s.handleEvent(t.Context(), historyEvent()) {
		t.Fatal("handler failed")
	}
	// historyEvent: Alice's A1 is older than the window; "Old group" has no
	// activity within it (1 message); of the 4 chats left, the oldest is
	// beyond max_chats 3; status@broadcast is no chat.
	want := store.HistorySkips{ChatsOverMaxChats: 1, ChatsOutsideWindow: 1, MessagesOutsideWindow: 2}
	if h.history.skips != want {
		t.Errorf("counted on the session %+v, want %+v", h.history.skips, want)
	}
	for label, n := range map[string]float64{skipOverMaxChats: 1, skipOutsideWindow: 1, skipInvalid: 0, skipNotAChat: 1} {
		if got := counterValue(t, reg, "chatsync_wa_history_skipped_chats_total", label); got != n {
			t.Errorf("skipped chats{reason=%s} = %v, want %v", label, got, n)
		}
	}
	if got := counterValue(t, reg, "chatsync_wa_history_skipped_messages_total", skipOutsideWindow); got != 2 {
		t.Errorf("skipped messages{reason=outside_window} = %v, want 2", got)
	}
	logs := h.logs.String()
	for _, line := range []string{
		`msg="history chat left out" session_id=42 sync_type=INITIAL_BOOTSTRAP chunk=1 chat_jid=15551230006@s.whatsapp.net reason="beyond max_chats"`,
		`msg="history chat left out" session_id=42 sync_type=INITIAL_BOOTSTRAP chunk=1 chat_jid=120363000000000002@g.us reason="no activity within sync_window_days" messages=1`,
	} {
		if !strings.Contains(logs, line) {
			t.Errorf("log line %q missing:\n%s", line, logs)
		}
	}
}

// counterValue reads a counter with the given reason label (none when
// empty) from reg; -1 when there is none.
func counterValue(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if reason == "" {
				return m.GetCounter().GetValue()
			}
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return -1
}

// TestOnDemandHistoryPagesBack: the anchor ResyncSession sends WhatsApp is
// the chat's oldest stored message; the ON_DEMAND answer, older than the
// sync window, lands whole through the stored-notification path with
// sync_progress events on the workspace's stream, and the next call's
// anchor is older still.
func TestOnDemandHistoryPagesBack(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	sess := e.pairedSession(t, "Phone", ownJID)
	s := e.pairedRunner(t, sess, chatsync.SyncConfig{SyncWindowDays: 30}, e.sink)
	stop := runSession(t, s)
	defer stop()
	process := e.processor(t)
	const alice = "15551230001@s.whatsapp.net"
	blob := func(syncType waHistorySync.HistorySync_HistorySyncType, msgs ...*waHistorySync.HistorySyncMsg) *waHistorySync.HistorySync {
		return &waHistorySync.HistorySync{
			SyncType: syncType.Enum(), ChunkOrder: proto.Uint32(1),
			Conversations: []*waHistorySync.Conversation{{ID: proto.String(alice), Name: proto.String("Alice"), Messages: msgs}},
		}
	}
	land := func(id string, data *waHistorySync.HistorySync) {
		t.Helper()
		if !s.handleEvent(ctx, historyNotification(t, id, data)) {
			t.Fatalf("handler failed on %s", id)
		}
		waitFor(t, id+" processed", func() bool {
			p, err := e.st.PendingHistoryNotifications(ctx, sess.ID, 1)
			return err == nil && len(p) == 0
		})
		process()
	}
	oldest := func() string {
		t.Helper()
		a, err := e.st.HistoryAnchors(ctx, sess.ID, alice, 1)
		if err != nil || len(a) != 1 {
			t.Fatalf("anchors %+v, %v", a, err)
		}
		return a[0].MessageID
	}
	messages := func() int {
		t.Helper()
		var n int
		if err := e.st.DB().NewRaw("SELECT count(*) FROM messages m JOIN chats c ON c.id = m.chat_id WHERE c.jid = ?", alice).Scan(ctx, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	land("FULL1", blob(waHistorySync.HistorySync_FULL,
		webMsg("R0", false, "", ago(40*day), text("before the window")),
		webMsg("R1", false, "", ago(5*day), text("in the window")),
		webMsg("R2", true, "", ago(day), text("yesterday"))))
	if n, a := messages(), oldest(); n != 2 || a != "R1" {
		t.Fatalf("after the window's history: %d messages, anchor %s; want 2, R1", n, a)
	}
	// The phone answers the request anchored on R1 with what came before.
	land("DEMAND1", blob(waHistorySync.HistorySync_ON_DEMAND,
		webMsg("P1", false, "", ago(50*day), text("older")),
		webMsg("P2", true, "", ago(45*day), text("older still answered")),
		webMsg("R0", false, "", ago(40*day), text("before the window"))))
	if n, a := messages(), oldest(); n != 5 || a != "P1" {
		t.Fatalf("after the first answer: %d messages, anchor %s; want 5 (the window does not apply), P1", n, a)
	}
	land("DEMAND2", blob(waHistorySync.HistorySync_ON_DEMAND, webMsg("Q1", false, "", ago(60*day), text("oldest"))))
	if n, a := messages(), oldest(); n != 6 || a != "Q1" {
		t.Fatalf("after the second answer: %d messages, anchor %s; want 6, Q1", n, a)
	}

	msgs, err := e.rdb.XRange(ctx, "chatsync:events:{"+strconv.FormatInt(e.ws, 10)+"}", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	progress := 0
	for _, m := range msgs {
		var ev chatsync.Event
		if err := json.Unmarshal([]byte(m.Values["e"].(string)), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type == chatsync.EventSyncProgress && ev.SessionID == sess.ID && ev.Progress != nil && ev.Progress.Kind == chatsync.BatchHistory {
			progress++
		}
	}
	if progress != 3 {
		t.Errorf("%d sync_progress events of history batches, want one per blob (3)", progress)
	}
}

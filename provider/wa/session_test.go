package wa

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/proto/waSyncAction"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
)

type fakeBatchSink struct {
	SubmitBatchFn func(ctx context.Context, sessionID int64, kind chatsync.BatchKind, batchID string, p chatsync.BatchPayload) error
}

func (f *fakeBatchSink) SubmitBatch(ctx context.Context, sessionID int64, kind chatsync.BatchKind, batchID string, p chatsync.BatchPayload) error {
	return f.SubmitBatchFn(ctx, sessionID, kind, batchID, p)
}

type fakeStatusSink struct {
	SetStatusFn func(ctx context.Context, sessionID int64, st chatsync.SessionStatus, reason string, banExpire time.Time) error
}

func (f *fakeStatusSink) SetStatus(ctx context.Context, sessionID int64, st chatsync.SessionStatus, reason string, banExpire time.Time) error {
	return f.SetStatusFn(ctx, sessionID, st, reason, banExpire)
}

// memHistory is an in-memory historyQueue.
type memHistory struct {
	mu      sync.Mutex
	rows    []memNotification
	saveErr error
	skips   store.HistorySkips
}

type memNotification struct {
	store.HistoryNotification
	done, failed bool
}

func (m *memHistory) SaveHistoryNotification(_ context.Context, sessionID int64, messageID string, b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.saveErr != nil {
		return m.saveErr
	}
	for _, r := range m.rows {
		if r.SessionID == sessionID && r.MessageID == messageID {
			return nil
		}
	}
	m.rows = append(m.rows, memNotification{HistoryNotification: store.HistoryNotification{
		ID: int64(len(m.rows) + 1), SessionID: sessionID, MessageID: messageID, Notification: b,
	}})
	return nil
}

func (m *memHistory) PendingHistoryNotifications(_ context.Context, sessionID int64, limit int) ([]store.HistoryNotification, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.HistoryNotification
	for _, r := range m.rows {
		if r.SessionID == sessionID && !r.done && !r.failed && len(out) < limit {
			out = append(out, r.HistoryNotification)
		}
	}
	return out, nil
}

func (m *memHistory) FinishHistoryNotification(_ context.Context, id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows[id-1].done = true
	return nil
}

func (m *memHistory) HistoryNotificationFailed(_ context.Context, id int64, errMsg string, permanent bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := &m.rows[id-1]
	r.Attempts++
	r.LastError = errMsg
	r.failed = r.failed || permanent
	return nil
}

func (m *memHistory) AddHistorySkips(_ context.Context, _ int64, k store.HistorySkips) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.skips.ChatsOverMaxChats += k.ChatsOverMaxChats
	m.skips.ChatsOutsideWindow += k.ChatsOutsideWindow
	m.skips.ChatsInvalid += k.ChatsInvalid
	m.skips.MessagesOutsideWindow += k.MessagesOutsideWindow
	return nil
}

// state returns the notifications' message IDs by state.
func (m *memHistory) state() (pending, done, failed []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.rows {
		switch {
		case r.done:
			done = append(done, r.MessageID)
		case r.failed:
			failed = append(failed, r.MessageID)
		default:
			pending = append(pending, r.MessageID)
		}
	}
	return pending, done, failed
}

type fakeGroups struct {
	GetGroupInfoFn func(ctx context.Context, jid types.JID) (*types.GroupInfo, error)
}

func (f *fakeGroups) GetGroupInfo(ctx context.Context, jid types.JID) (*types.GroupInfo, error) {
	return f.GetGroupInfoFn(ctx, jid)
}

type submitted struct {
	Kind    chatsync.BatchKind
	BatchID string
	Payload chatsync.BatchPayload
}

type statusCall struct {
	Status    chatsync.SessionStatus
	Reason    string
	BanExpire time.Time
}

// harness is a Session on a real, unconnected whatsmeow client with a
// SQLite device store, and fake sinks that record what they get.
type harness struct {
	s       *Session
	client  *whatsmeow.Client
	logs    *syncBuffer
	history *memHistory

	mu          sync.Mutex
	batches     []submitted
	statuses    []statusCall
	groupCalls  int
	submitErr   func(batchID string) error
	statusErr   error
	groupInfo   *types.GroupInfo
	groupErr    error
	connectErr  error
	connectHook func()
}

const testSessionID = 42

func newHarness(t *testing.T, cfg chatsync.SyncConfig) *harness {
	t.Helper()
	h := &harness{logs: &syncBuffer{}, history: &memHistory{}}
	h.client = whatsmeow.NewClient(newTestDevice(t), Logger(discardLogger()))
	s, err := NewSession(SessionParams{
		ID:     testSessionID,
		Client: h.client,
		Batches: &fakeBatchSink{SubmitBatchFn: func(_ context.Context, sessionID int64, kind chatsync.BatchKind, batchID string, p chatsync.BatchPayload) error {
			if sessionID != testSessionID {
				t.Errorf("batch for session %d", sessionID)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.submitErr != nil {
				if err := h.submitErr(batchID); err != nil {
					return err
				}
			}
			h.batches = append(h.batches, submitted{kind, batchID, p})
			return nil
		}},
		Status: &fakeStatusSink{SetStatusFn: func(_ context.Context, sessionID int64, st chatsync.SessionStatus, reason string, banExpire time.Time) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.statuses = append(h.statuses, statusCall{st, reason, banExpire})
			return h.statusErr
		}},
		History:    h.history,
		Logger:     slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SyncConfig: cfg,
		Now:        fixedNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.historyRetry = []time.Duration{0, 0}
	s.historyBackoff = [2]time.Duration{time.Millisecond, 10 * time.Millisecond}
	s.groups = &fakeGroups{GetGroupInfoFn: func(_ context.Context, jid types.JID) (*types.GroupInfo, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.groupCalls++
		return h.groupInfo, h.groupErr
	}}
	s.connect = func() error {
		if h.connectHook != nil {
			h.connectHook()
		}
		return h.connectErr
	}
	s.pairPhone = func(context.Context, string) (string, error) {
		t.Error("pairPhone called")
		return "", errors.New("unexpected")
	}
	h.s = s
	t.Cleanup(func() {
		if msg := "lunch at 1?"; strings.Contains(h.logs.String(), msg) {
			t.Errorf("message text in the logs:\n%s", h.logs.String())
		}
	})
	return h
}

func (h *harness) submitted() []submitted {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]submitted(nil), h.batches...)
}

func (h *harness) statusCalls() []statusCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]statusCall(nil), h.statuses...)
}

// dispatch hands evt to the client's registered handlers the way whatsmeow
// does for a decoded node, and reports whether one of them failed.
func (h *harness) dispatch(evt any) (handlerFailed bool) {
	//lint:ignore SA1019 the only way to inject an event without a socket
	return h.client.DangerousInternals().DispatchEvent(evt) //nolint:staticcheck // as above
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestNewSessionRequires(t *testing.T) {
	t.Parallel()
	cli := whatsmeow.NewClient(newTestDevice(t), nil)
	sink := &fakeBatchSink{}
	status := &fakeStatusSink{}
	for name, p := range map[string]SessionParams{
		"client": {Batches: sink, Status: status, Logger: discardLogger()},
		"sinks":  {Client: cli, Logger: discardLogger()},
		"logger": {Client: cli, Batches: sink, Status: status},
	} {
		if _, err := NewSession(p); err == nil {
			t.Errorf("no %s: got no error", name)
		}
	}
	if _, err := NewSession(SessionParams{Client: cli, Batches: sink, Status: status, Logger: discardLogger()}); err == nil {
		t.Error("no history queue: got no error")
	}
	if _, err := NewSession(SessionParams{Client: cli, Batches: sink, Status: status, History: &memHistory{}, Logger: discardLogger()}); err != nil {
		t.Fatal(err)
	}
	if !cli.SynchronousAck {
		t.Error("SynchronousAck is off: messages would be acknowledged before their batch is durable")
	}
	if !cli.ManualHistorySyncDownload {
		t.Error("ManualHistorySyncDownload is off: whatsmeow would ack history blobs before they are stored")
	}
}

// TestRunHandlesEventsThroughTheClient registers the handler with Run and
// delivers events through whatsmeow's own dispatcher: a failed durable
// write of a message reports failure to whatsmeow (no receipt is sent).
func TestRunHandlesEventsThroughTheClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t, chatsync.SyncConfig{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.s.Run(ctx) }()
	waitFor(t, "the handler to be registered", func() bool {
		h.dispatch(&events.Connected{})
		return len(h.statusCalls()) > 0
	})
	if got := h.statusCalls()[0]; got.Status != chatsync.SessionConnected {
		t.Errorf("status %+v, want connected", got)
	}

	if failed := h.dispatch(imageMessage(t)); failed {
		t.Error("handler reported failure for a message it stored")
	}
	h.mu.Lock()
	h.submitErr = func(string) error { return errors.New("database is down") }
	h.mu.Unlock()
	if failed := h.dispatch(fromMeToLID(t)); !failed {
		t.Error("handler reported success for a message it could not store; whatsmeow would send a receipt")
	}
	if got := h.submitted(); len(got) != 1 || got[0].BatchID != "wa:msg:3EB0C0FFEE000002" || got[0].Kind != chatsync.BatchLive {
		t.Errorf("submitted %+v, want the image message as a live batch", got)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	before := len(h.statusCalls())
	h.dispatch(&events.Connected{})
	if len(h.statusCalls()) != before {
		t.Error("handler still registered after Run returned")
	}
}

func TestRunConnectsPairedDevice(t *testing.T) {
	t.Parallel()
	h := newHarness(t, chatsync.SyncConfig{})
	h.client.Store.ID = ptrJID(t, "15559990000:7@s.whatsapp.net")
	h.connectErr = errors.New("dial tcp: no route to host")
	if err := h.s.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "no route to host") {
		t.Errorf("Run = %v, want the connect error", err)
	}

	h.connectErr = nil
	connected := make(chan struct{})
	h.connectHook = func() { close(connected) }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.s.Run(ctx) }()
	select {
	case <-connected:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not connect a paired device")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestHandleMessage(t *testing.T) {
	t.Parallel()
	t.Run("group participants go with the first message", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		h.groupInfo = teamGroup(t)
		ctx := t.Context()
		msg := groupTextMessage(t)
		if !h.s.handleEvent(ctx, msg) {
			t.Fatal("handler failed")
		}
		second := groupTextMessage(t)
		second.Info.ID = "3EB0C0FFEE000009"
		h.s.handleEvent(ctx, second)
		got := h.submitted()
		if len(got) != 2 {
			t.Fatalf("submitted %d batches, want 2", len(got))
		}
		if g := got[0].Payload.Chats[0].Group; g == nil || len(g.Participants) != 3 {
			t.Errorf("first message: group %+v, want the 3 participants", g)
		}
		if g := got[1].Payload.Chats[0].Group; g != nil {
			t.Errorf("second message: group %+v, want none (already described)", g)
		}
		if h.groupCalls != 1 {
			t.Errorf("%d group info requests, want 1", h.groupCalls)
		}

		// A membership change makes the next message describe the group again.
		h.s.handleEvent(ctx, &events.GroupInfo{JID: msg.Info.Chat, Timestamp: testNow, Leave: []types.JID{mustJID(t, "444444444444444@lid")}})
		h.s.handleEvent(ctx, groupTextMessage(t))
		if h.groupCalls != 2 {
			t.Errorf("%d group info requests after a change, want 2", h.groupCalls)
		}
	})
	t.Run("group fetch failure still stores the message", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		h.groupErr = errors.New("info query timed out")
		if !h.s.handleEvent(t.Context(), groupTextMessage(t)) {
			t.Fatal("handler failed")
		}
		got := h.submitted()
		if len(got) != 1 || got[0].Payload.Chats[0].Group != nil {
			t.Errorf("submitted %+v, want the message without group", got)
		}
		h.groupErr, h.groupInfo = nil, teamGroup(t)
		h.s.handleEvent(t.Context(), groupTextMessage(t))
		if got := h.submitted(); len(got) != 2 || got[1].Payload.Chats[0].Group == nil {
			t.Errorf("the next message did not retry the group info")
		}
	})
	t.Run("failed submit does not mark the group described", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		h.groupInfo = teamGroup(t)
		h.submitErr = func(string) error { return errors.New("down") }
		if h.s.handleEvent(t.Context(), groupTextMessage(t)) {
			t.Fatal("handler succeeded though the batch was not stored")
		}
		h.submitErr = nil
		h.s.handleEvent(t.Context(), groupTextMessage(t))
		if got := h.submitted(); len(got) != 1 || got[0].Payload.Chats[0].Group == nil {
			t.Errorf("redelivered message lacks the group: %+v", got)
		}
	})
	t.Run("nothing to sync and invalid messages are acknowledged", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		reaction := imageMessage(t)
		reaction.Message = &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("x")}}
		future := imageMessage(t)
		future.Info.Timestamp = testNow.Add(72 * time.Hour)
		for _, e := range []*events.Message{reaction, future} {
			if !h.s.handleEvent(t.Context(), e) {
				t.Error("handler failed; WhatsApp would redeliver a message that can never be stored")
			}
		}
		if got := h.submitted(); len(got) != 0 {
			t.Errorf("submitted %+v, want nothing", got)
		}
		if !strings.Contains(h.logs.String(), "message not synced") {
			t.Errorf("invalid message not logged:\n%s", h.logs.String())
		}
	})
	t.Run("alternate JIDs come from the device's LID table", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		c := sqliteContainer(t)
		if err := c.LIDMap.PutLIDMapping(t.Context(), mustJID(t, "222222222222222@lid"), mustJID(t, "15551230002@s.whatsapp.net")); err != nil {
			t.Fatal(err)
		}
		h.s.lids = c.LIDMap
		e := imageMessage(t)
		e.Info.SenderAlt = types.JID{}
		h.s.handleEvent(t.Context(), e)
		got := h.submitted()
		if len(got) != 1 {
			t.Fatalf("submitted %d batches", len(got))
		}
		if c := got[0].Payload.Chats[0]; c.JID != "15551230002@s.whatsapp.net" || c.Contact.AltJID != "222222222222222@lid" {
			t.Errorf("chat %s alt %s, want the phone JID with the LID", c.JID, c.Contact.AltJID)
		}
		if !e.Info.SenderAlt.IsEmpty() {
			t.Error("the handler changed the event other handlers see")
		}
	})
}

func TestMessageBatchID(t *testing.T) {
	t.Parallel()
	info := groupTextMessage(t).Info
	if got := messageBatchID(info); got != "wa:msg:3EB0C0FFEE000001" {
		t.Errorf("got %q", got)
	}
	for _, id := range []string{"id with spaces", strings.Repeat("A", 60)} {
		info.ID = id
		got := messageBatchID(info)
		if !strings.HasPrefix(got, "wa:msg:h") || len(got) > 64 || !batchIDSafe(got) || got != messageBatchID(info) {
			t.Errorf("id %q: batch id %q", id, got)
		}
	}
	if batchIDSafe("") {
		t.Error("empty batch id is safe")
	}
}

func historyBlob(syncType waHistorySync.HistorySync_HistorySyncType, chunk uint32, jids ...string) *events.HistorySync {
	data := &waHistorySync.HistorySync{SyncType: syncType.Enum(), ChunkOrder: proto.Uint32(chunk)}
	for i, j := range jids {
		data.Conversations = append(data.Conversations, &waHistorySync.Conversation{
			ID:                    proto.String(j),
			ConversationTimestamp: proto.Uint64(ago(time.Duration(i+1) * time.Hour)),
		})
	}
	return &events.HistorySync{Data: data}
}

func TestHandleHistorySync(t *testing.T) {
	t.Parallel()
	t.Run("batches with deterministic IDs", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{MaxChats: 3, SyncWindowDays: 30})
		h.s.batchSize = 2
		evt := historyEvent()
		h.s.handleEvent(t.Context(), evt)
		got := h.submitted()
		if len(got) != 2 {
			t.Fatalf("submitted %d batches, want 2", len(got))
		}
		want, _ := HistorySyncBatches(historyEvent(), chatsync.SyncConfig{MaxChats: 3, SyncWindowDays: 30}, testNow, 2)
		for i, b := range got {
			if b.Kind != chatsync.BatchHistory {
				t.Errorf("batch %d kind %s", i, b.Kind)
			}
			if prefix := "wa:hist:0:1:" + itoa(i) + ":"; !strings.HasPrefix(b.BatchID, prefix) || len(b.BatchID) != len(prefix)+16 {
				t.Errorf("batch %d id %q, want %s<hash>", i, b.BatchID, prefix)
			}
			if len(b.Payload.Chats) != len(want[i].Chats) {
				t.Errorf("batch %d: %d chats, want %d", i, len(b.Payload.Chats), len(want[i].Chats))
			}
		}
		// Redelivered, the same blob gives the same IDs.
		h2 := newHarness(t, chatsync.SyncConfig{MaxChats: 3, SyncWindowDays: 30})
		h2.s.batchSize = 2
		h2.s.handleEvent(t.Context(), historyEvent())
		for i, b := range h2.submitted() {
			if b.BatchID != got[i].BatchID {
				t.Errorf("batch %d: id %q then %q", i, got[i].BatchID, b.BatchID)
			}
		}
	})
	t.Run("max_chats holds across blobs", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{MaxChats: 2})
		ctx := t.Context()
		h.s.handleEvent(ctx, historyBlob(waHistorySync.HistorySync_INITIAL_BOOTSTRAP, 1, "15550000001@s.whatsapp.net", "15550000002@s.whatsapp.net", "15550000003@s.whatsapp.net"))
		h.s.handleEvent(ctx, historyBlob(waHistorySync.HistorySync_RECENT, 2, "15550000004@s.whatsapp.net", "15550000001@s.whatsapp.net"))
		h.s.handleEvent(ctx, historyBlob(waHistorySync.HistorySync_ON_DEMAND, 1, "15550000009@s.whatsapp.net"))
		var jids []string
		for _, b := range h.submitted() {
			for _, c := range b.Payload.Chats {
				jids = append(jids, c.JID)
			}
		}
		want := []string{"15550000001@s.whatsapp.net", "15550000002@s.whatsapp.net", "15550000001@s.whatsapp.net", "15550000009@s.whatsapp.net"}
		if strings.Join(jids, ",") != strings.Join(want, ",") {
			t.Errorf("chats %v, want %v", jids, want)
		}
	})
	t.Run("an on-demand answer bypasses the sync window", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{SyncWindowDays: 7})
		old := func(syncType waHistorySync.HistorySync_HistorySyncType) *events.HistorySync {
			return &events.HistorySync{Data: &waHistorySync.HistorySync{SyncType: syncType.Enum(), ChunkOrder: proto.Uint32(1),
				Conversations: []*waHistorySync.Conversation{{
					ID: proto.String("15550000001@s.whatsapp.net"), ConversationTimestamp: proto.Uint64(ago(40 * day)),
					Messages: []*waHistorySync.HistorySyncMsg{
						webMsg("OLD1", false, "", ago(40*day), text("from last month")),
						webMsg("OLD2", true, "", ago(39*day), text("and my answer")),
					},
				}},
			}}
		}
		h.s.handleEvent(t.Context(), old(waHistorySync.HistorySync_FULL))
		if got := h.submitted(); len(got) != 0 {
			t.Fatalf("a full sync's chat older than the window: submitted %+v", got)
		}
		h.s.handleEvent(t.Context(), old(waHistorySync.HistorySync_ON_DEMAND))
		got := h.submitted()
		if len(got) != 1 || len(got[0].Payload.Chats) != 1 || len(got[0].Payload.Chats[0].Messages) != 2 {
			t.Fatalf("the on-demand answer: submitted %+v, want the chat with its 2 messages", got)
		}
	})
	t.Run("sync config changes apply to the next blob", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		h.s.SetSyncConfig(chatsync.SyncConfig{MaxChats: 1})
		h.s.handleEvent(t.Context(), historyBlob(waHistorySync.HistorySync_FULL, 1, "15550000001@s.whatsapp.net", "15550000002@s.whatsapp.net"))
		if got := h.submitted(); len(got) != 1 || len(got[0].Payload.Chats) != 1 {
			t.Errorf("submitted %+v, want one chat", got)
		}
	})
	t.Run("a failed submit is retried", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		attempts := 0
		h.submitErr = func(string) error {
			attempts++
			if attempts < 3 {
				return errors.New("connection reset")
			}
			return nil
		}
		h.s.handleEvent(t.Context(), historyBlob(waHistorySync.HistorySync_FULL, 1, "15550000001@s.whatsapp.net"))
		if got := h.submitted(); len(got) != 1 || attempts != 3 {
			t.Errorf("submitted %d after %d attempts, want 1 after 3", len(got), attempts)
		}
	})
	t.Run("a batch that keeps failing fails the blob, and processing it again sends the rest", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		h.s.batchSize = 1
		var refuse atomic.Bool
		refuse.Store(true)
		h.submitErr = func(id string) error {
			if refuse.Load() && strings.HasPrefix(id, "wa:hist:2:1:0:") {
				return errors.New("payload rejected")
			}
			return nil
		}
		blob := historyBlob(waHistorySync.HistorySync_FULL, 1, "15550000001@s.whatsapp.net", "15550000002@s.whatsapp.net")
		if err := h.s.onHistorySync(t.Context(), blob); err == nil || !strings.Contains(err.Error(), "payload rejected") {
			t.Errorf("got %v, want the batch's error", err)
		}
		if got := h.submitted(); len(got) != 0 {
			t.Errorf("submitted %d batches after a failed one; the blob is processed again in order", len(got))
		}
		refuse.Store(false)
		if err := h.s.onHistorySync(t.Context(), blob); err != nil {
			t.Fatal(err)
		}
		if got := h.submitted(); len(got) != 2 {
			t.Errorf("submitted %d batches, want both", len(got))
		}
	})
	t.Run("retries stop when the context ends", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		h.s.historyRetry = []time.Duration{time.Hour}
		h.submitErr = func(string) error { return errors.New("down") }
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := h.s.submitRetrying(ctx, "wa:hist:x", chatsync.BatchPayload{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	})
}

func TestHandleGroupAndContactEvents(t *testing.T) {
	t.Parallel()
	change := func(t *testing.T, ts time.Time) *events.GroupInfo {
		return &events.GroupInfo{
			JID:       mustJID(t, "120363000000000001@g.us"),
			Timestamp: ts,
			Promote:   []types.JID{mustJID(t, "333333333333333@lid")},
		}
	}
	t.Run("group change with phones from the LID table", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		c := sqliteContainer(t)
		if err := c.LIDMap.PutLIDMapping(t.Context(), mustJID(t, "333333333333333@lid"), mustJID(t, "15551230003@s.whatsapp.net")); err != nil {
			t.Fatal(err)
		}
		h.s.lids = c.LIDMap
		if !h.s.handleEvent(t.Context(), change(t, testNow)) {
			t.Fatal("handler failed")
		}
		got := h.submitted()
		if len(got) != 1 || got[0].Kind != chatsync.BatchLive || !strings.HasPrefix(got[0].BatchID, "wa:grp:") {
			t.Fatalf("submitted %+v", got)
		}
		p := got[0].Payload
		if ch := p.Chats[0].Group.Changes[0]; ch.Action != chatsync.ActionPromote || ch.Phone != "+15551230003" {
			t.Errorf("change %+v, want a promote with the phone", ch)
		}
		if len(p.Contacts) != 1 || p.Contacts[0].JID != "15551230003@s.whatsapp.net" || p.Contacts[0].AltJID != "333333333333333@lid" {
			t.Errorf("contacts %+v, want the LID pair", p.Contacts)
		}
		assertValid(t, p)
	})
	t.Run("redelivery keeps the batch ID, a new change does not", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		h.s.handleEvent(t.Context(), change(t, testNow))
		h.s.handleEvent(t.Context(), change(t, testNow))
		h.s.handleEvent(t.Context(), change(t, testNow.Add(time.Minute)))
		got := h.submitted()
		if len(got) != 3 || got[0].BatchID != got[1].BatchID || got[1].BatchID == got[2].BatchID {
			t.Errorf("batch ids %q %q %q", got[0].BatchID, got[1].BatchID, got[2].BatchID)
		}
	})
	t.Run("failed group change is not acknowledged", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		h.submitErr = func(string) error { return errors.New("down") }
		if h.s.handleEvent(t.Context(), change(t, testNow)) {
			t.Error("handler succeeded though the change was not stored")
		}
		if h.s.handleEvent(t.Context(), &events.JoinedGroup{GroupInfo: *teamGroup(t)}) {
			t.Error("handler succeeded though the joined group was not stored")
		}
	})
	t.Run("joined group describes it for later messages", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		if !h.s.handleEvent(t.Context(), &events.JoinedGroup{GroupInfo: *teamGroup(t)}) {
			t.Fatal("handler failed")
		}
		h.s.handleEvent(t.Context(), groupTextMessage(t))
		got := h.submitted()
		if len(got) != 2 || !strings.HasPrefix(got[0].BatchID, "wa:join:") || h.groupCalls != 0 {
			t.Errorf("submitted %d (%q), %d group requests; want 2, wa:join:…, 0", len(got), got[0].BatchID, h.groupCalls)
		}
	})
	t.Run("contacts and push names", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		ctx := t.Context()
		contact := &events.Contact{JID: mustJID(t, "15551230001@s.whatsapp.net"), Timestamp: testNow, Action: &waSyncAction.ContactAction{FullName: proto.String("Alice Anders")}}
		h.s.handleEvent(ctx, contact)
		full := *contact
		full.FromFullSync = true
		h.s.handleEvent(ctx, &full)
		h.s.handleEvent(ctx, &events.PushName{JID: mustJID(t, "15551230001@s.whatsapp.net"), Message: &imageMessage(t).Info, NewPushName: "Alice"})
		h.s.handleEvent(ctx, &events.PushName{JID: mustJID(t, "15551230001@s.whatsapp.net")}) // nothing to sync
		got := h.submitted()
		if len(got) != 3 {
			t.Fatalf("submitted %d batches, want 3", len(got))
		}
		for i, want := range []struct {
			kind   chatsync.BatchKind
			prefix string
		}{{chatsync.BatchLive, "wa:ct:"}, {chatsync.BatchHistory, "wa:ct:"}, {chatsync.BatchLive, "wa:pn:"}} {
			if got[i].Kind != want.kind || !strings.HasPrefix(got[i].BatchID, want.prefix) {
				t.Errorf("batch %d: %s %q, want %s %s…", i, got[i].Kind, got[i].BatchID, want.kind, want.prefix)
			}
		}
	})
}

func TestHandleStatusEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		evt  any
		want statusCall
	}{
		{"connected", &events.Connected{}, statusCall{Status: chatsync.SessionConnected}},
		{"disconnected", &events.Disconnected{}, statusCall{Status: chatsync.SessionDisconnected, Reason: "connection closed"}},
		{"logged out on connect", &events.LoggedOut{OnConnect: true, Reason: events.ConnectFailureMainDeviceGone},
			statusCall{Status: chatsync.SessionLoggedOut, Reason: "403: primary device was logged out"}},
		{"logged out while connected", &events.LoggedOut{}, statusCall{Status: chatsync.SessionLoggedOut, Reason: "logged out from the phone"}},
		{"temporary ban", &events.TemporaryBan{Code: events.TempBanBlockedByUsers, Expire: 36 * time.Hour},
			statusCall{Status: chatsync.SessionBanned, Reason: "102: too many people blocked you", BanExpire: testNow.Add(36 * time.Hour)}},
		{"temporary ban without expiry", &events.TemporaryBan{Code: events.TempBanBroadcastList},
			statusCall{Status: chatsync.SessionBanned, Reason: "106: you sent too many messages to a broadcast list"}},
		{"stream replaced", &events.StreamReplaced{}, statusCall{Status: chatsync.SessionStreamReplaced, Reason: "another client connected with this device"}},
		{"connect failure", &events.ConnectFailure{Reason: events.ConnectFailureServiceUnavailable},
			statusCall{Status: chatsync.SessionDisconnected, Reason: "connect failure: 503: unknown error"}},
		{"client outdated", &events.ClientOutdated{}, statusCall{Status: chatsync.SessionDisconnected, Reason: "WhatsApp rejected this client as outdated"}},
		{"CAT refresh error", &events.CATRefreshError{Error: errors.New("x")}, statusCall{Status: chatsync.SessionDisconnected, Reason: "crypto auth token refresh failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, chatsync.SyncConfig{})
			if !h.s.handleEvent(t.Context(), tt.evt) {
				t.Error("handler failed")
			}
			got := h.statusCalls()
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("statuses %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("sink failure is logged", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		h.statusErr = errors.New("database is down")
		if !h.s.handleEvent(t.Context(), &events.Connected{}) {
			t.Error("handler failed")
		}
		if !strings.Contains(h.logs.String(), "set session status") {
			t.Errorf("failure not logged:\n%s", h.logs.String())
		}
	})
	t.Run("other events are ignored", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		if !h.s.handleEvent(t.Context(), &events.Receipt{}) || len(h.statusCalls())+len(h.submitted()) != 0 {
			t.Error("a receipt did something")
		}
	})
}

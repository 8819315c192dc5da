package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
)

// TestNodeSidecarCommands is the cross-language test of the command
// channel: the real Node sidecar (createSidecar on a fake whatsapp-web.js
// client, test/e2e-commands.mjs) holds a signed WatchCommands stream to the
// real server on PostgreSQL and Redis, and ResyncSession and SendMessage
// reach it, run, and come back through CompleteCommand.
func TestNodeSidecarCommands(t *testing.T) {
	cfg := productionConfig(t)
	cfg.SyncRatePerMinute = 6000
	m := start(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	hc, opts := h2c(), connect.WithInterceptors(authed("bootstrap-token"))
	sessions := chatsyncv1connect.NewSessionServiceClient(hc, m.URL(), opts)
	chats := chatsyncv1connect.NewChatServiceClient(hc, m.URL(), opts)
	created, err := sessions.CreateSession(ctx, &chatsyncv1.CreateSessionRequest{DisplayName: "webjs", Provider: chatsyncv1.Provider_PROVIDER_WEBJS})
	if err != nil {
		t.Fatal(err)
	}
	sid := created.GetSession().GetId()
	status := func() chatsyncv1.SessionStatus {
		t.Helper()
		res, err := sessions.GetSession(ctx, &chatsyncv1.GetSessionRequest{SessionId: sid})
		if err != nil {
			t.Fatal(err)
		}
		return res.GetSession().GetStatus()
	}
	// jids lists the session's chats as JID → chat.
	listChats := func() map[string]*chatsyncv1.Chat {
		t.Helper()
		res, err := chats.ListChats(ctx, &chatsyncv1.ListChatsRequest{SessionIds: []string{sid}, PageSize: 200})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*chatsyncv1.Chat{}
		for _, c := range res.GetChats() {
			out[c.GetJid()] = c
		}
		return out
	}
	holdsAll := func(jids []string) func() bool {
		return func() bool {
			got := listChats()
			return !slices.ContainsFunc(jids, func(j string) bool { return got[j] == nil })
		}
	}

	h := startCommandHarness(t, ctx, m.URL(), sid, created.GetSidecarSecret(), "E2E_CHATS=20", "E2E_EXTRA_CHATS=5")
	initial := h.waitFor(t, 0, "the harness to start", func(e harnessEvent) bool { return e.Event == "started" }).Jids
	if len(initial) != 20 {
		t.Fatalf("harness started with %d chats, want 20", len(initial))
	}
	h.waitFor(t, 0, "the command stream", func(e harnessEvent) bool { return e.Event == "stream" })
	sync0 := h.waitFor(t, 0, "the sync on ready", func(e harnessEvent) bool { return e.Event == "synced" && e.ChatJid == "" })
	if sync0.Synced != 20 || sync0.FailedBatches != 0 || sync0.Rejected != 0 {
		t.Fatalf("sync on ready: %+v", sync0)
	}

	t.Run("connected while the stream is open", func(t *testing.T) {
		if st := status(); st != chatsyncv1.SessionStatus_SESSION_STATUS_CONNECTED {
			t.Fatalf("GetSession status = %v with a WatchCommands stream open", st)
		}
		eventually(t, ctx, "the chats of the sync on ready to land", holdsAll(initial))
	})

	t.Run("ResyncSession runs the sync again", func(t *testing.T) {
		mark := h.mark()
		added := h.control(t, map[string]any{"do": "add_chats"}).Jids
		if len(added) != 5 {
			t.Fatalf("add_chats added %d chats, want 5", len(added))
		}
		res, err := sessions.ResyncSession(ctx, &chatsyncv1.ResyncSessionRequest{SessionId: sid})
		if err != nil {
			t.Fatal(err)
		}
		id := res.GetCommandId()
		if id == "" {
			t.Fatal("ResyncSession of a webjs session returned no command_id")
		}
		h.waitFor(t, mark, "the resync command", func(e harnessEvent) bool {
			return e.Event == "command" && e.CommandID == id && e.Kind == "resync" && e.ChatJid == ""
		})
		s := h.waitFor(t, mark, "the full resync", func(e harnessEvent) bool { return e.Event == "synced" && e.ChatJid == "" })
		if s.Total != 25 || s.Synced != 25 || s.FailedBatches != 0 {
			t.Fatalf("resync: %+v, want all 25 chats synced", s)
		}
		if c := h.completion(t, mark, id); c.Error != "" {
			t.Fatalf("resync completed with error %q", c.Error)
		}
		eventually(t, ctx, "the chats added since ready to land", holdsAll(added))
		if n := len(listChats()); n != 25 {
			t.Fatalf("%d chats after the resync, want 25", n)
		}
	})

	t.Run("ResyncSession with chat_jid syncs that chat", func(t *testing.T) {
		group := initial[4] // makeChats: every fifth chat is a group
		if !strings.HasSuffix(group, "@g.us") {
			t.Fatalf("chat 4 is %s, want a group", group)
		}
		mark := h.mark()
		h.control(t, map[string]any{"do": "rename", "jid": group, "name": "Renamed after ready"})
		res, err := sessions.ResyncSession(ctx, &chatsyncv1.ResyncSessionRequest{SessionId: sid, ChatJid: group})
		if err != nil {
			t.Fatal(err)
		}
		s := h.waitFor(t, mark, "the one-chat resync", func(e harnessEvent) bool { return e.Event == "synced" && e.ChatJid == group })
		if s.Total != 1 || s.Synced != 1 {
			t.Fatalf("one-chat resync: %+v", s)
		}
		if c := h.completion(t, mark, res.GetCommandId()); c.Error != "" {
			t.Fatalf("one-chat resync completed with error %q", c.Error)
		}
		eventually(t, ctx, "the renamed group to land", func() bool { return listChats()[group].GetName() == "Renamed after ready" })
	})

	private := initial[0]
	chat := listChats()[private]
	if chat == nil {
		t.Fatalf("no chat %s", private)
	}
	messages := func() []*chatsyncv1.Message {
		t.Helper()
		res, err := chats.ListMessages(ctx, &chatsyncv1.ListMessagesRequest{ChatId: chat.GetId(), PageSize: 200})
		if err != nil {
			t.Fatal(err)
		}
		return res.GetMessages()
	}

	t.Run("SendMessage sends through the sidecar", func(t *testing.T) {
		mark := h.mark()
		const text = "hello from chatsync"
		res, err := chats.SendMessage(ctx, &chatsyncv1.SendMessageRequest{ChatId: chat.GetId(), Text: text})
		if err != nil {
			t.Fatalf("SendMessage: %v\nharness stderr: %s", err, lastLines(h.stderr.String(), 20))
		}
		sent := h.waitFor(t, mark, "the fake client to send", func(e harnessEvent) bool { return e.Event == "sent" })
		if want := strings.TrimSuffix(private, "@s.whatsapp.net") + "@c.us"; sent.ChatID != want || sent.Text != text {
			t.Fatalf("the fake client sent %q to %s, want %q to %s", sent.Text, sent.ChatID, text, want)
		}
		cmd := h.waitFor(t, mark, "the send command", func(e harnessEvent) bool { return e.Event == "command" && e.Kind == "send" })
		if cmd.ChatJid != private {
			t.Fatalf("send command for %s, want %s", cmd.ChatJid, private)
		}
		done := h.completion(t, mark, cmd.CommandID)
		if done.Error != "" || done.MessageID != sent.MessageID {
			t.Fatalf("CompleteCommand(error %q, message_id %q), want the sent message ID %q", done.Error, done.MessageID, sent.MessageID)
		}
		if res.GetMessageId() != sent.MessageID || res.GetProvider() != chatsyncv1.Provider_PROVIDER_WEBJS ||
			res.GetSessionId() != sid || res.GetFailedOver() {
			t.Fatalf("SendMessage = %v, want message %s from webjs session %s", res, sent.MessageID, sid)
		}
		i := slices.IndexFunc(messages(), func(m *chatsyncv1.Message) bool { return m.GetId() == sent.MessageID })
		if i < 0 {
			t.Fatalf("ListMessages does not show the sent message %s", sent.MessageID)
		}
		if m := messages()[i]; !m.GetFromMe() || m.GetText() != text {
			t.Fatalf("stored message = %v, want from_me with the text", m)
		}
	})

	t.Run("a send the client refuses fails with its error", func(t *testing.T) {
		before := len(messages())
		mark := h.mark()
		const why = "fake whatsapp-web.js: phone offline"
		h.control(t, map[string]any{"do": "fail_sends", "error": why})
		_, err := chats.SendMessage(ctx, &chatsyncv1.SendMessageRequest{ChatId: chat.GetId(), Text: "this one fails"})
		// No backup session is set, so nothing fails over (docs/sessions.md).
		if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), why) ||
			!strings.Contains(err.Error(), fmt.Sprintf("webjs (session %s)", sid)) {
			t.Fatalf("SendMessage = %v, want unavailable naming the webjs session and %q", err, why)
		}
		cmd := h.waitFor(t, mark, "the failing send command", func(e harnessEvent) bool { return e.Event == "command" && e.Kind == "send" })
		if c := h.completion(t, mark, cmd.CommandID); c.Error != why || c.MessageID != "" {
			t.Fatalf("CompleteCommand(error %q, message_id %q), want the client's error", c.Error, c.MessageID)
		}
		if n := len(messages()); n != before {
			t.Fatalf("%d messages after a failed send, want %d", n, before)
		}
		h.control(t, map[string]any{"do": "fail_sends", "error": ""})
	})

	t.Run("disconnected once the sidecar stops", func(t *testing.T) {
		h.stop(t)
		eventually(t, ctx, "the session to become disconnected", func() bool {
			return status() == chatsyncv1.SessionStatus_SESSION_STATUS_DISCONNECTED
		})
		_, err := chats.SendMessage(ctx, &chatsyncv1.SendMessageRequest{ChatId: chat.GetId(), Text: "nobody listens"})
		if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "no sidecar is attached") {
			t.Fatalf("SendMessage without a sidecar = %v, want unavailable: no sidecar is attached", err)
		}
	})
	if t.Failed() {
		t.Logf("harness stderr:\n%s", lastLines(h.stderr.String(), 30))
	}
}

// harnessEvent is one JSON line of test/e2e-commands.mjs.
type harnessEvent struct {
	Event         string   `json:"event"`
	N             int      `json:"n"`
	Jids          []string `json:"jids"`
	CommandID     string   `json:"commandId"`
	Kind          string   `json:"kind"`
	ChatJid       string   `json:"chatJid"`
	ChatID        string   `json:"chatId"`
	Text          string   `json:"text"`
	MessageID     string   `json:"messageId"`
	Error         string   `json:"error"`
	Code          string   `json:"code"`
	Do            string   `json:"do"`
	Total         int      `json:"total"`
	Synced        int      `json:"synced"`
	Rejected      int      `json:"rejected"`
	FailedBatches int      `json:"failedBatches"`
}

// commandHarness runs test/e2e-commands.mjs and collects its event lines.
type commandHarness struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *syncBuffer
	ctx    context.Context
	exited chan struct{} // closed when the process has exited
	err    error         // the process's exit, once exited is closed

	mu      sync.Mutex
	events  []harnessEvent
	changed chan struct{} // closed and replaced on every new event
}

func startCommandHarness(t *testing.T, ctx context.Context, url, sid, secret string, env ...string) *commandHarness {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required for the cross-language test: %v", err)
	}
	root, _ := filepath.Abs("../..")
	dir := filepath.Join(root, "sidecar/webjs")
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		t.Fatalf("sidecar packages missing: run `go tool task sidecar:deps` (the test task does)")
	}
	h := &commandHarness{stderr: &syncBuffer{}, ctx: ctx, exited: make(chan struct{}), changed: make(chan struct{})}
	h.cmd = exec.CommandContext(ctx, node, "test/e2e-commands.mjs")
	h.cmd.Dir = dir
	h.cmd.Env = append(append(os.Environ(),
		"CHATSYNC_URL="+url, "CHATSYNC_SESSION_ID="+sid, "CHATSYNC_SIDECAR_SECRET="+secret, "CHATSYNC_LOG_LEVEL=info"), env...)
	h.cmd.Stderr = h.stderr
	// When the test's context ends first: SIGTERM (the harness closes its
	// stream and exits), then SIGKILL if it is still there after 5 s.
	h.cmd.Cancel = func() error { return h.cmd.Process.Signal(syscall.SIGTERM) }
	h.cmd.WaitDelay = 5 * time.Second
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go h.read(stdout)
	t.Cleanup(func() {
		select {
		case <-h.exited:
		default:
			_ = h.cmd.Process.Kill()
			<-h.exited
		}
	})
	return h
}

// read collects event lines until stdout closes, then reaps the process.
func (h *commandHarness) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var e harnessEvent
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Event == "" {
			_, _ = fmt.Fprintf(h.stderr, "(stdout, not an event) %s\n", sc.Bytes())
			continue
		}
		h.mu.Lock()
		h.events = append(h.events, e)
		close(h.changed)
		h.changed = make(chan struct{})
		h.mu.Unlock()
	}
	h.err = h.cmd.Wait()
	close(h.exited)
}

// mark is the position of the next event: waitFor(mark, …) sees only
// events after an action taken now.
func (h *commandHarness) mark() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.events)
}

// waitFor returns the first event from position from on that matches,
// waiting for it until the test's deadline or the harness's exit.
func (h *commandHarness) waitFor(t *testing.T, from int, what string, match func(harnessEvent) bool) harnessEvent {
	t.Helper()
	for {
		h.mu.Lock()
		for _, e := range h.events[from:] {
			if match(e) {
				h.mu.Unlock()
				return e
			}
		}
		from = len(h.events)
		changed := h.changed
		h.mu.Unlock()
		select {
		case <-changed:
		case <-h.exited:
			t.Fatalf("the sidecar harness exited (%v) while waiting for %s\nstderr: %s", h.err, what, lastLines(h.stderr.String(), 30))
		case <-h.ctx.Done():
			t.Fatalf("timed out waiting for %s\nstderr: %s", what, lastLines(h.stderr.String(), 30))
		}
	}
}

// completion waits for the CompleteCommand of a command.
func (h *commandHarness) completion(t *testing.T, from int, commandID string) harnessEvent {
	t.Helper()
	e := h.waitFor(t, from, "CompleteCommand of command "+commandID, func(e harnessEvent) bool {
		return (e.Event == "completed" || e.Event == "complete_failed") && e.CommandID == commandID
	})
	if e.Event == "complete_failed" {
		t.Fatalf("CompleteCommand of command %s failed: %s: %s", commandID, e.Code, e.Error)
	}
	return e
}

// control sends a control line and waits for its ack.
func (h *commandHarness) control(t *testing.T, line map[string]any) harnessEvent {
	t.Helper()
	mark := h.mark()
	b, _ := json.Marshal(line)
	if _, err := h.stdin.Write(append(b, '\n')); err != nil {
		t.Fatalf("control %s: %v", b, err)
	}
	e := h.waitFor(t, mark, "the ack of "+string(b), func(e harnessEvent) bool {
		return (e.Event == "ack" && e.Do == line["do"]) || e.Event == "error"
	})
	if e.Event == "error" {
		t.Fatalf("control %s: %s", b, e.Error)
	}
	return e
}

// stop asks the harness to exit and waits until it has, cleanly.
func (h *commandHarness) stop(t *testing.T) {
	t.Helper()
	mark := h.mark()
	if _, err := io.WriteString(h.stdin, `{"do":"exit"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, mark, "the harness to stop", func(e harnessEvent) bool { return e.Event == "exit" })
	select {
	case <-h.exited:
	case <-h.ctx.Done():
		t.Fatal("the harness did not exit")
	}
	if h.err != nil {
		t.Fatalf("the harness exited with %v\nstderr: %s", h.err, lastLines(h.stderr.String(), 30))
	}
}

// eventually polls cond until it holds or the context ends.
func eventually(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

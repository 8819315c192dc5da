package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
)

// TestNodeSidecarSyncLandsExactly is the cross-language test of the sidecar
// issue: the real Node sidecar code (sidecar/webjs, fake WhatsApp client of
// 1,000 chats) signs and pushes to the real server on PostgreSQL and Redis,
// and every chat, group, participant and message lands exactly.
func TestNodeSidecarSyncLandsExactly(t *testing.T) {
	cfg := productionConfig(t)
	cfg.SyncRatePerMinute = 6000
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	node, root, m, created := nodeSidecarSession(ctx, t, cfg)
	sid := created.GetSession().GetId()

	cmd := exec.CommandContext(ctx, node, "test/e2e-sync.mjs")
	cmd.Dir = filepath.Join(root, "sidecar/webjs")
	cmd.Env = append(os.Environ(),
		"CHATSYNC_URL="+m.URL(), "CHATSYNC_SESSION_ID="+sid, "CHATSYNC_SIDECAR_SECRET="+created.GetSidecarSecret(),
		"E2E_CHATS=1000", "CHATSYNC_LOG_LEVEL=warn")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("sidecar sync: %v\nstdout: %s\nstderr: %s", err, stdout.String(), lastLines(stderr.String(), 20))
	}
	pushed := time.Since(began)
	var out struct {
		OK       bool
		Expected struct {
			Chats, Groups, PrivateChats, Participants, Messages int
			JidsSha256                                          string
		}
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &out); err != nil || !out.OK {
		t.Fatalf("sidecar output %q: %v", stdout.String(), err)
	}
	want := out.Expected
	if want.Chats != 1000 || want.Groups == 0 || want.Participants == 0 {
		t.Fatalf("sidecar expected counts look wrong: %+v", want)
	}

	count := rowCounter(ctx, t, m)
	waitBatchesDone(ctx, t, count, sid)
	landed := time.Since(began)
	if n := count("SELECT count(*) FROM sync_batches WHERE session_id = ? AND status <> 'completed'", sid); n != 0 {
		t.Fatalf("%d batches did not complete", n)
	}
	got := map[string]int{
		"chats":        count("SELECT count(*) FROM chats WHERE session_id = ?", sid),
		"groups":       count("SELECT count(*) FROM chats WHERE session_id = ? AND type = 'group'", sid),
		"private":      count("SELECT count(*) FROM chats WHERE session_id = ? AND type = 'private'", sid),
		"participants": count("SELECT count(*) FROM group_participants gp JOIN chats c ON c.id = gp.chat_id WHERE c.session_id = ?", sid),
		"counted":      count("SELECT COALESCE(sum(participant_count), 0) FROM chats WHERE session_id = ?", sid),
		"messages":     count("SELECT count(*) FROM messages m JOIN chats c ON c.id = m.chat_id WHERE c.session_id = ?", sid),
	}
	wantMap := map[string]int{"chats": want.Chats, "groups": want.Groups, "private": want.PrivateChats,
		"participants": want.Participants, "counted": want.Participants, "messages": want.Messages}
	for k, v := range wantMap {
		if got[k] != v {
			t.Errorf("%s: %d in the database, sidecar sent %d", k, got[k], v)
		}
	}
	var jids []string
	if err := m.store.DB().NewRaw("SELECT jid FROM chats WHERE session_id = ?", sid).Scan(ctx, &jids); err != nil {
		t.Fatal(err)
	}
	sort.Strings(jids)
	sum := sha256.Sum256([]byte(strings.Join(jids, "\n")))
	if hex.EncodeToString(sum[:]) != want.JidsSha256 {
		t.Error("the stored chat JIDs differ from the ones the sidecar sent")
	}
	t.Logf("1,000-chat sidecar sync: pushed in %s, all rows committed after %s", pushed.Round(time.Millisecond), landed.Round(time.Millisecond))
}

// nodeSidecarSession is what a cross-language test needs: node, the
// repository root, a server on cfg (PostgreSQL and Redis) and a Web.js
// session of it with its sidecar secret.
func nodeSidecarSession(ctx context.Context, t *testing.T, cfg Config) (node, root string, m *Main, created *chatsyncv1.CreateSessionResponse) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required for the cross-language test: %v", err)
	}
	root, _ = filepath.Abs("../..")
	if _, err := os.Stat(filepath.Join(root, "sidecar/webjs/node_modules")); err != nil {
		t.Fatalf("sidecar packages missing: run `go tool task sidecar:deps` (the test task does)")
	}
	m = start(t, cfg)
	sessions := chatsyncv1connect.NewSessionServiceClient(h2c(), m.URL(), connect.WithInterceptors(authed("bootstrap-token")))
	created, err = sessions.CreateSession(ctx, &chatsyncv1.CreateSessionRequest{DisplayName: "webjs", Provider: chatsyncv1.Provider_PROVIDER_WEBJS})
	if err != nil {
		t.Fatal(err)
	}
	return node, root, m, created
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// rowCounter returns a function that runs a count query on m's database.
func rowCounter(ctx context.Context, t *testing.T, m *Main) func(q string, args ...any) int {
	db := m.store.DB()
	return func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := db.NewRaw(q, args...).Scan(ctx, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// waitBatchesDone polls until no batch of the session is queued or
// processing, failing when ctx ends first.
func waitBatchesDone(ctx context.Context, t *testing.T, count func(string, ...any) int, sid string) {
	t.Helper()
	for count("SELECT count(*) FROM sync_batches WHERE session_id = ? AND status IN ('queued', 'processing')", sid) > 0 {
		if ctx.Err() != nil {
			t.Fatal("batches still pending")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNodeSidecarAppStateLands is the sidecar's event-sequence test of the
// app-state issue: recorded-shape whatsapp-web.js state changes go through
// the real sidecar code to the real server on PostgreSQL, and the final
// rows hold what the phone shows (test/e2e-appstate.mjs lists the steps).
func TestNodeSidecarAppStateLands(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	node, root, m, created := nodeSidecarSession(ctx, t, productionConfig(t))
	sid := created.GetSession().GetId()
	cmd := exec.CommandContext(ctx, node, "test/e2e-appstate.mjs")
	cmd.Dir = filepath.Join(root, "sidecar/webjs")
	cmd.Env = append(os.Environ(), "CHATSYNC_URL="+m.URL(), "CHATSYNC_SESSION_ID="+sid,
		"CHATSYNC_SIDECAR_SECRET="+created.GetSidecarSecret(), "CHATSYNC_LOG_LEVEL=warn")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sidecar: %v\nstdout: %s\nstderr: %s", err, stdout.String(), lastLines(stderr.String(), 20))
	}
	var out struct {
		OK                  bool
		A, B, C, D, E, F, G string
		MutedUntil          int64
		Mine                string
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &out); err != nil || !out.OK {
		t.Fatalf("sidecar output %q: %v", stdout.String(), err)
	}
	count := rowCounter(ctx, t, m)
	waitBatchesDone(ctx, t, count, sid)

	type row struct {
		Archived, Pinned, MarkedUnread bool
		Unread                         int
		MutedUntil                     *time.Time
	}
	chat := func(jid string) row {
		t.Helper()
		var r row
		if err := m.store.DB().NewRaw("SELECT archived, pinned, marked_unread, unread_count, muted_until FROM chats WHERE session_id = ? AND jid = ?", sid, jid).
			Scan(ctx, &r.Archived, &r.Pinned, &r.MarkedUnread, &r.Unread, &r.MutedUntil); err != nil {
			t.Fatalf("chat %s: %v", jid, err)
		}
		return r
	}
	if r := chat(out.A); r.Archived {
		t.Errorf("A archived then unarchived: %+v", r)
	}
	if r := chat(out.B); !r.Archived {
		t.Errorf("B archived: %+v", r)
	}
	if r := chat(out.C); !r.Pinned || r.Unread != 3 {
		t.Errorf("C pinned, then a message: %+v, want pinned with 3 unread", r)
	}
	if r := chat(out.D); r.MutedUntil == nil || r.MutedUntil.Unix() != out.MutedUntil {
		t.Errorf("D muted until %d: %+v", out.MutedUntil, r)
	}
	if r := chat(out.E); r.Unread != 0 || r.MarkedUnread {
		t.Errorf("E read on the phone: %+v", r)
	}
	if r := chat(out.F); !r.MarkedUnread || r.Unread != 2 {
		t.Errorf("F marked unread: %+v, want the dot and the count of 2 kept", r)
	}
	var status int
	if err := m.store.DB().NewRaw("SELECT m.status FROM messages m JOIN chats c ON c.id = m.chat_id WHERE c.session_id = ? AND c.jid = ? AND m.wa_id = ?", sid, out.G, out.Mine).
		Scan(ctx, &status); err != nil || status != 3 {
		t.Errorf("G: my message's status %d, %v; want 3 (read)", status, err)
	}
	// The sidecar reported its state and its sync to the real server.
	var state string
	var total, synced int
	if err := m.store.DB().NewRaw("SELECT sidecar_state, sidecar_sync_total, sidecar_sync_synced FROM sessions WHERE id = ?", sid).
		Scan(ctx, &state, &total, &synced); err != nil || state != "ready" || total == 0 || synced != total {
		t.Errorf("sidecar state %q, last sync %d of %d, %v; want ready, all synced", state, synced, total, err)
	}
}

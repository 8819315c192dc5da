package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
)

// TestSimulateLiveDuringHistoryLosesNothing is a small version of the live
// issue's check (`chatsync simulate -chats 2000 -messages 3 -live 600
// -live-rate 40` against the embedded server): live messages sent while a
// history syncs, on a live budget small enough that the server refuses
// some of their batches, all land in the database and no batch fails.
func TestSimulateLiveDuringHistoryLosesNothing(t *testing.T) {
	cfg := embeddedConfig(t)
	cfg.SyncLiveRatePerMinute = 12 // a burst of 12 batches, then one every 5 s
	m := start(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	sessions := chatsyncv1connect.NewSessionServiceClient(h2c(), m.URL(), connect.WithInterceptors(authed("bootstrap-token")))
	created, err := sessions.CreateSession(ctx, &chatsyncv1.CreateSessionRequest{DisplayName: "sim", Provider: chatsyncv1.Provider_PROVIDER_WEBJS})
	if err != nil {
		t.Fatal(err)
	}
	sid := created.GetSession().GetId()

	const live = 70
	var stdout, stderr bytes.Buffer
	err = simulateCmd(ctx, []string{
		"-url", m.URL(), "-session", sid, "-secret", created.GetSidecarSecret(), "-quiet",
		"-chats", "200", "-messages", "2", "-live", "70", "-live-rate", "0", "-live-during-history",
		"-live-flush", "20ms", "-live-flush-messages", "5",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("simulate: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "live: 70 messages in ") || !strings.Contains(out, "errors: 0 failed batches") {
		t.Fatalf("simulate summary:\n%s", out)
	}

	count := rowCounter(ctx, t, m)
	liveBatches := count("SELECT count(*) FROM sync_batches WHERE session_id = ? AND kind = 'live'", sid)
	if liveBatches <= 12 {
		t.Fatalf("%d live batches: the budget of 12 was never exceeded, so nothing was refused", liveBatches)
	}
	waitBatchesDone(ctx, t, count, sid)
	if n := count("SELECT count(*) FROM sync_batches WHERE session_id = ? AND status <> 'completed'", sid); n != 0 {
		t.Fatalf("%d batches did not complete", n)
	}
	// Live message IDs start with 3EB1 (simulate/generate.go).
	if n := count("SELECT count(*) FROM messages m JOIN chats c ON c.id = m.chat_id WHERE c.session_id = ? AND m.wa_id LIKE '3EB1%'", sid); n != live {
		t.Fatalf("%d live messages in the database, want %d", n, live)
	}
	if n := count("SELECT count(*) FROM messages m JOIN chats c ON c.id = m.chat_id WHERE c.session_id = ?", sid); n != 200*2+live {
		t.Fatalf("%d messages in the database, want %d", n, 200*2+live)
	}
	t.Logf("%s", out)
}

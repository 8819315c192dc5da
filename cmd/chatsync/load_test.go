package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatsync/chatsync/load"
)

// A short run of the load scenario against the embedded server: the
// report's counts add up (every call made is counted once, every chat
// accepted is synced, no call failed); its timings are not asserted.
func TestLoadScenarioReportAddsUp(t *testing.T) {
	m := start(t, embeddedConfig(t))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	p := load.DefaultParams()
	p.URL, p.Token, p.OperatorToken, p.RunID = m.URL(), "bootstrap-token", m.OperatorToken, "test"
	p.Stages, _ = load.ParseStages("1s:3,1s:3,300ms:0")
	p.ChatsPerBatch, p.Think, p.DrainTimeout = 5, 100*time.Millisecond, 30*time.Second
	rep, err := load.Run(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if rep.PeakUsers != 3 || rep.Failed() != 0 || rep.Sync.Count == 0 || rep.List.Count == 0 {
		t.Fatalf("report %+v", rep)
	}
	if rep.ChatsAccepted != int64(rep.Sync.Count)*5 || rep.ChatsSynced != rep.ChatsAccepted || !rep.Drained {
		t.Errorf("chats accepted %d (of %d calls × 5), synced %d, drained %v", rep.ChatsAccepted, rep.Sync.Count, rep.ChatsSynced, rep.Drained)
	}
	// Each user lists after each sync, so the counts differ by at most the
	// users stopped between their two calls.
	if d := rep.Sync.Count - rep.List.Count; d < 0 || d > 3 {
		t.Errorf("%d SyncBatch and %d ListChats calls", rep.Sync.Count, rep.List.Count)
	}
	// The stages split the same calls.
	var syncs, lists, failed int
	for _, st := range rep.Stages {
		syncs, lists, failed = syncs+st.Sync.Count, lists+st.List.Count, failed+st.Failures
	}
	if len(rep.Stages) != 3 || syncs != rep.Sync.Count || lists != rep.List.Count || failed != 0 || rep.Stages[0].Sync.Count == 0 || rep.Stages[1].Sync.Count == 0 {
		t.Errorf("stages %+v do not add up to %d SyncBatch and %d ListChats calls", rep.Stages, rep.Sync.Count, rep.List.Count)
	}
	if rep.PeakQueueDepth < 0 {
		t.Error("the queue depth was not read with the operator token")
	}

	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`(?s)^load: \d+s, peak 3 users\nSyncBatch: ` + strconv.Itoa(rep.Sync.Count) + ` calls, p50 .*\nfailures: 0\n(stage \d \(.* to \d users\): SyncBatch p95 .*, \d+ failed\n){3}chats: \d+ accepted, \d+ synced\nqueue: peak depth \d+ batches\ndrain: .* after the last call\n$`)
	if !want.MatchString(out.String()) {
		t.Errorf("report text:\n%s", out.String())
	}

	// The command: flags, and a refusal to start without a token.
	var stdout, stderr bytes.Buffer
	err = loadCmd(ctx, []string{"-url", m.URL(), "-stages", "300ms:1", "-chats", "2", "-think", "10ms", "-run", "cmd"},
		func(k string) string { return map[string]string{"CHATSYNC_TOKEN": "bootstrap-token"}[k] }, &stdout, &stderr)
	if err != nil || !strings.Contains(stdout.String(), "peak 1 users") || !strings.Contains(stdout.String(), "not measured") {
		t.Errorf("chatsync load = %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if err := loadCmd(ctx, []string{"-url", m.URL()}, func(string) string { return "" }, &stdout, &stderr); err == nil {
		t.Error("chatsync load without a token started")
	}
	if err := loadCmd(ctx, []string{"-stages", "soon:3"}, func(string) string { return "x" }, &stdout, &stderr); err == nil {
		t.Error("chatsync load with bad stages started")
	}
}

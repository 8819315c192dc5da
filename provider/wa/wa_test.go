package wa

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/proto/waWeb"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/chatsync/chatsync"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// testNow is the clock of every translation test.
var testNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// checkGolden compares v, as indented JSON, with testdata/<name>.golden.
func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatalf("marshal %s: %v", name, err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (run go test -update to accept):\n--- got\n%s", name, path, got)
	}
}

// assertValid checks that every chat and contact of the payloads passes
// chatsync's validation, on copies, and that the limits of a batch hold.
func assertValid(t *testing.T, ps ...chatsync.BatchPayload) {
	t.Helper()
	for i, p := range ps {
		if len(p.Chats) > chatsync.MaxBatchChats || len(p.Contacts) > chatsync.MaxBatchContacts {
			t.Errorf("payload %d: %d chats, %d contacts: over the limits", i, len(p.Chats), len(p.Contacts))
		}
		if b, _ := json.Marshal(p); len(b) > chatsync.MaxBatchBytes {
			t.Errorf("payload %d: %d bytes, over the limit", i, len(b))
		}
		for _, c := range p.Chats {
			c := deepCopy(t, c)
			if err := c.Validate(testNow); err != nil {
				t.Errorf("payload %d: chat %s: %v", i, c.JID, err)
			}
		}
		for _, c := range p.Contacts {
			if err := c.Validate("contact."); err != nil {
				t.Errorf("payload %d: contact %s: %v", i, c.JID, err)
			}
		}
	}
}

func deepCopy[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustJID(t testing.TB, s string) types.JID {
	t.Helper()
	j, err := types.ParseJID(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return j
}

func ptrJID(t testing.TB, s string) *types.JID {
	j := mustJID(t, s)
	return &j
}

func ago(d time.Duration) uint64 { return uint64(testNow.Add(-d).Unix()) }

const day = 24 * time.Hour

// webMsg is a stored message as a history sync carries it.
func webMsg(id string, fromMe bool, participant string, ts uint64, m *waE2E.Message) *waHistorySync.HistorySyncMsg {
	wm := &waWeb.WebMessageInfo{
		Key:              &waCommon.MessageKey{ID: proto.String(id), FromMe: proto.Bool(fromMe)},
		MessageTimestamp: proto.Uint64(ts),
		Message:          m,
	}
	if participant != "" {
		wm.Participant = proto.String(participant)
	}
	return &waHistorySync.HistorySyncMsg{Message: wm}
}

func text(s string) *waE2E.Message { return &waE2E.Message{Conversation: proto.String(s)} }

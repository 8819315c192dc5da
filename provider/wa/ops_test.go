package wa

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mau.fi/libsignal/logger"

	"github.com/chatsync/chatsync"
)

func TestSessionOpsNeedAConnection(t *testing.T) {
	t.Parallel()
	h := newHarness(t, chatsync.SyncConfig{})
	ctx := t.Context()
	if h.s.Online() {
		t.Fatal("an unconnected session is online")
	}
	if _, err := h.s.Send(ctx, "15551234567@s.whatsapp.net", "hi"); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Send = %v, want ErrNotConnected", err)
	}
	if err := h.s.RequestHistory(ctx, nil, 0); !errors.Is(err, ErrNotPaired) {
		t.Errorf("RequestHistory unpaired = %v, want ErrNotPaired", err)
	}
	jid := mustJID(t, "15550001111:3@s.whatsapp.net")
	h.client.Store.ID = &jid
	if err := h.s.RequestHistory(ctx, nil, 0); !errors.Is(err, ErrNotConnected) {
		t.Errorf("RequestHistory offline = %v, want ErrNotConnected", err)
	}
	if err := h.s.Logout(ctx); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Logout offline = %v, want ErrNotConnected", err)
	}
}

func TestAnchorInfo(t *testing.T) {
	t.Parallel()
	ts := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	info, err := anchorInfo(Anchor{ChatJID: "120363000000000001@g.us", MessageID: "ABC", SenderJID: "15551234567@s.whatsapp.net", Timestamp: ts})
	if err != nil {
		t.Fatal(err)
	}
	if !info.IsGroup || info.ID != "ABC" || info.Sender.User != "15551234567" || !info.Timestamp.Equal(ts) || info.IsFromMe {
		t.Errorf("info = %+v", info)
	}
}

func TestSetupSignalLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	// TestMain installed the adapter process-wide; this one writes to buf.
	if _, ok := logger.Logger.(signalLogger); !ok {
		t.Fatalf("libsignal logger is %T, want the adapter", logger.Logger)
	}
	var l logger.Loggable = signalLogger{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})).With(slog.String("module", "libsignal"))}
	l.Debug("x.go:1", "secret key material")
	l.Info("x.go:2", "info line")
	l.Warning("x.go:3", "warn line")
	l.Error("x.go:4", "error line")
	l.Configure("all")
	out := buf.String()
	if strings.Contains(out, "secret") {
		t.Errorf("debug line logged: %s", out)
	}
	for _, want := range []string{"level=DEBUG msg=\"info line\"", "level=WARN msg=\"warn line\"", "level=ERROR msg=\"error line\"", "module=libsignal"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q: %s", want, out)
		}
	}
}

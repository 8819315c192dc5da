package worker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// Asynq's own log lines reach slog at their level.
func TestAsynqLogger(t *testing.T) {
	var buf bytes.Buffer
	l := asynqLogger{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	l.Debug("d", 1)
	l.Info("i")
	l.Warn("w")
	l.Error("e")
	for _, want := range []string{"level=DEBUG msg=d1", "level=INFO msg=i", "level=WARN msg=w", "level=ERROR msg=e"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log %q lacks %q", buf.String(), want)
		}
	}
}

package wa

import (
	"log/slog"
	"testing"

	"go.mau.fi/whatsmeow/util/keys"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// libsignal sets its package-level logger lazily, without a lock, the
	// first time it signs; parallel tests creating devices race on it. Set
	// it once before any test runs, as cmd/chatsync does at startup.
	SetupSignalLogger(slog.New(slog.DiscardHandler))
	keys.NewKeyPair().CreateSignedPreKey(1)
	goleak.VerifyTestMain(m)
}

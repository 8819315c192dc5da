package wa

import (
	"testing"

	"go.mau.fi/whatsmeow/util/keys"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// libsignal sets its package-level logger lazily, without a lock, the
	// first time it signs; parallel tests creating devices race on it.
	// Sign once before any test runs. (cmd/chatsync should likewise create
	// a device or call libsignal's logger.Setup before starting sessions.)
	keys.NewKeyPair().CreateSignedPreKey(1)
	goleak.VerifyTestMain(m)
}

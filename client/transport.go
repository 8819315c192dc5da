package client

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/chatsync/chatsync/signing"
)

// Transport is an [http.RoundTripper] that signs every request with the
// session's sidecar secret: it reads the raw body, restores it, and sets
// X-Chatsync-Session, X-Chatsync-Timestamp and X-Chatsync-Signature.
type Transport struct {
	// Base sends the signed request; nil means http.DefaultTransport.
	Base http.RoundTripper
	// SessionID is the session's ID, e.g. "42".
	SessionID string
	// Secret is the session's sidecar_secret as CreateSession returned it
	// (64 hex characters); its UTF-8 bytes are the HMAC key.
	Secret string
	// Now is the clock for the timestamp; nil means time.Now.
	Now func() time.Time
}

var _ http.RoundTripper = (*Transport)(nil)

// RoundTrip signs a copy of req and sends it with Base. As RoundTrippers
// must, it leaves req itself unchanged and closes its body.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readBody(req)
	if err != nil {
		return nil, fmt.Errorf("sign %s: read body: %w", req.URL.Path, err)
	}
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	ts := now().Unix()

	signed := req.Clone(req.Context())
	signed.Header.Set(signing.HeaderSession, t.SessionID)
	signed.Header.Set(signing.HeaderTimestamp, strconv.FormatInt(ts, 10))
	signed.Header.Set(signing.HeaderSignature, signing.Sign([]byte(t.Secret), ts, body))
	if len(body) == 0 {
		signed.Body = http.NoBody
		signed.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
	} else {
		signed.Body = io.NopCloser(bytes.NewReader(body))
		signed.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	signed.ContentLength = int64(len(body))

	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(signed)
}

// readBody reads and closes req's body. Streaming request bodies (client
// streams) would block here until the stream ends; SyncService has none.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	return io.ReadAll(req.Body)
}

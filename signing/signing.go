// Package signing implements the sidecar request signature of DESIGN.md:
//
//	X-Chatsync-Session:   <session id>
//	X-Chatsync-Timestamp: <unix seconds>
//	X-Chatsync-Signature: v1=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
//
// The server verifies it over the raw HTTP body before decoding; the Go
// client and the Node sidecar compute it the same way (testdata/signing holds
// shared vectors).
package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Header names.
const (
	HeaderSession   = "X-Chatsync-Session"
	HeaderTimestamp = "X-Chatsync-Timestamp"
	HeaderSignature = "X-Chatsync-Signature"
)

// MaxSkew is how far a timestamp may be from the server's clock.
const MaxSkew = 300 * time.Second

const prefix = "v1="

// Reasons a signature is refused. They name the problem for logs and for the
// caller, never the secret.
var (
	ErrMissing   = errors.New("signature headers missing")
	ErrMalformed = errors.New("signature header malformed")
	ErrTimestamp = errors.New("timestamp malformed")
	ErrSkew      = errors.New("timestamp outside the 300 s window")
	ErrMismatch  = errors.New("signature does not match")
)

// Sign returns the X-Chatsync-Signature value for body at timestamp ts.
func Sign(secret []byte, ts int64, body []byte) string {
	return prefix + hex.EncodeToString(mac(secret, strconv.FormatInt(ts, 10), body))
}

// Verify checks a signature header value against body. tsHeader is the raw
// X-Chatsync-Timestamp value; now is the server's clock. It compares in
// constant time.
func Verify(secret []byte, tsHeader, sigHeader string, body []byte, now time.Time) error {
	if tsHeader == "" || sigHeader == "" {
		return ErrMissing
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil || strconv.FormatInt(ts, 10) != tsHeader {
		return ErrTimestamp
	}
	if d := now.Unix() - ts; d > int64(MaxSkew/time.Second) || d < -int64(MaxSkew/time.Second) {
		return ErrSkew
	}
	hexSig, ok := strings.CutPrefix(sigHeader, prefix)
	if !ok || len(hexSig) != 2*sha256.Size {
		return ErrMalformed
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || hex.EncodeToString(got) != hexSig { // lowercase only
		return ErrMalformed
	}
	if !hmac.Equal(got, mac(secret, tsHeader, body)) {
		return ErrMismatch
	}
	return nil
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

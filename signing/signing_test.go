package signing_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatsync/chatsync/signing"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	secret := []byte("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	body := []byte(`{"sessionId":"42","batchId":"b1"}`)
	const ts = int64(1700000000)
	tsHeader := strconv.FormatInt(ts, 10)
	sig := signing.Sign(secret, ts, body)
	now := time.Unix(ts, 0)
	hexSig := strings.TrimPrefix(sig, "v1=")

	tests := []struct {
		name     string
		secret   []byte
		tsHeader string
		sig      string
		body     []byte
		now      time.Time
		want     error
	}{
		{name: "valid", secret: secret, tsHeader: tsHeader, sig: sig, body: body, now: now},
		{name: "valid 300 s old", secret: secret, tsHeader: tsHeader, sig: sig, body: body, now: now.Add(300 * time.Second)},
		{name: "valid 300 s ahead", secret: secret, tsHeader: tsHeader, sig: sig, body: body, now: now.Add(-300 * time.Second)},
		{name: "missing signature", secret: secret, tsHeader: tsHeader, sig: "", body: body, now: now, want: signing.ErrMissing},
		{name: "missing timestamp", secret: secret, tsHeader: "", sig: sig, body: body, now: now, want: signing.ErrMissing},
		{name: "no v1 prefix", secret: secret, tsHeader: tsHeader, sig: hexSig, body: body, now: now, want: signing.ErrMalformed},
		{name: "v2 prefix", secret: secret, tsHeader: tsHeader, sig: "v2=" + hexSig, body: body, now: now, want: signing.ErrMalformed},
		{name: "short hex", secret: secret, tsHeader: tsHeader, sig: sig[:len(sig)-2], body: body, now: now, want: signing.ErrMalformed},
		{name: "long hex", secret: secret, tsHeader: tsHeader, sig: sig + "00", body: body, now: now, want: signing.ErrMalformed},
		{name: "not hex", secret: secret, tsHeader: tsHeader, sig: "v1=" + strings.Repeat("zz", 32), body: body, now: now, want: signing.ErrMalformed},
		{name: "uppercase hex", secret: secret, tsHeader: tsHeader, sig: "v1=" + strings.ToUpper(hexSig), body: body, now: now, want: signing.ErrMalformed},
		{name: "wrong secret", secret: []byte("2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"), tsHeader: tsHeader, sig: sig, body: body, now: now, want: signing.ErrMismatch},
		{name: "changed body", secret: secret, tsHeader: tsHeader, sig: sig, body: []byte(`{"sessionId":"43","batchId":"b1"}`), now: now, want: signing.ErrMismatch},
		{name: "empty body", secret: secret, tsHeader: tsHeader, sig: sig, body: nil, now: now, want: signing.ErrMismatch},
		{name: "signed for another timestamp", secret: secret, tsHeader: strconv.FormatInt(ts+1, 10), sig: sig, body: body, now: now, want: signing.ErrMismatch},
		{name: "skew 301 s old", secret: secret, tsHeader: tsHeader, sig: sig, body: body, now: now.Add(301 * time.Second), want: signing.ErrSkew},
		{name: "skew 301 s ahead", secret: secret, tsHeader: tsHeader, sig: sig, body: body, now: now.Add(-301 * time.Second), want: signing.ErrSkew},
		{name: "timestamp with plus", secret: secret, tsHeader: "+" + tsHeader, sig: sig, body: body, now: now, want: signing.ErrTimestamp},
		{name: "timestamp with leading zero", secret: secret, tsHeader: "0" + tsHeader, sig: sig, body: body, now: now, want: signing.ErrTimestamp},
		{name: "timestamp +123", secret: secret, tsHeader: "+123", sig: sig, body: body, now: time.Unix(123, 0), want: signing.ErrTimestamp},
		{name: "timestamp 0123", secret: secret, tsHeader: "0123", sig: sig, body: body, now: time.Unix(123, 0), want: signing.ErrTimestamp},
		{name: "timestamp in milliseconds", secret: secret, tsHeader: tsHeader + "000", sig: sig, body: body, now: now, want: signing.ErrSkew},
		{name: "timestamp not a number", secret: secret, tsHeader: "yesterday", sig: sig, body: body, now: now, want: signing.ErrTimestamp},
		{name: "timestamp with space", secret: secret, tsHeader: " " + tsHeader, sig: sig, body: body, now: now, want: signing.ErrTimestamp},
		{name: "timestamp overflows", secret: secret, tsHeader: "99999999999999999999", sig: sig, body: body, now: now, want: signing.ErrTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := signing.Verify(tt.secret, tt.tsHeader, tt.sig, tt.body, tt.now)
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSignFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret []byte
		ts     int64
		body   []byte
	}{
		{name: "json", secret: []byte("s"), ts: 1700000000, body: []byte(`{}`)},
		{name: "empty", secret: []byte("s"), ts: 0, body: nil},
		{name: "empty secret", secret: nil, ts: 1, body: []byte{0, 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sig := signing.Sign(tt.secret, tt.ts, tt.body)
			hexSig, ok := strings.CutPrefix(sig, "v1=")
			if !ok || len(hexSig) != 64 || strings.ToLower(hexSig) != hexSig {
				t.Errorf("Sign = %q, want v1= and 64 lowercase hex digits", sig)
			}
			if sig == signing.Sign(tt.secret, tt.ts+1, tt.body) {
				t.Error("signature does not depend on the timestamp")
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	f.Add([]byte("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"), int64(1700000000), []byte(`{"sessionId":"42"}`), "1700000000", "v1=00")
	f.Add([]byte("k"), int64(0), []byte{}, "0", "")
	f.Add([]byte{}, int64(-1), []byte{0, 0, 0, 0, 5, 1, 2, 3, 4, 5}, "+123", "v1="+strings.Repeat("A", 64))
	f.Add([]byte("k"), int64(1<<62), []byte("x"), "0123", "v1="+strings.Repeat("0", 64))
	f.Fuzz(func(t *testing.T, secret []byte, ts int64, body []byte, tsHeader, sigHeader string) {
		now := time.Unix(ts, 0)
		// Arbitrary headers: never panics, and accepts only the canonical
		// timestamp with the one signature Sign makes for it.
		if err := signing.Verify(secret, tsHeader, sigHeader, body, now); err == nil {
			parsed, perr := strconv.ParseInt(tsHeader, 10, 64)
			if perr != nil || strconv.FormatInt(parsed, 10) != tsHeader {
				t.Fatalf("accepted non-canonical timestamp %q", tsHeader)
			}
			if want := signing.Sign(secret, parsed, body); sigHeader != want {
				t.Fatalf("accepted %q, want only %q", sigHeader, want)
			}
		}
		// A valid signature round-trips.
		sig := signing.Sign(secret, ts, body)
		tsStr := strconv.FormatInt(ts, 10)
		if err := signing.Verify(secret, tsStr, sig, body, now); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		// One flipped body bit breaks it.
		if len(body) > 0 {
			changed := append([]byte(nil), body...)
			changed[len(changed)/2] ^= 1
			if err := signing.Verify(secret, tsStr, sig, changed, now); !errors.Is(err, signing.ErrMismatch) {
				t.Fatalf("changed body: got %v, want ErrMismatch", err)
			}
		}
	})
}

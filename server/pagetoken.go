package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// Page tokens are opaque to clients: base64url of the keyset position
// (time in nanoseconds, id), a hash of the request's filters, and a MAC. A
// token that was tampered with, or reused with other filters, is refused.
// Decoding is strict, so each token has exactly one spelling.
const pageTokenLen = 8 + 8 + 8 + 16

var (
	errTokenMalformed = errors.New("page_token: malformed or tampered with")
	errTokenFilters   = errors.New("page_token: does not belong to a request with these filters")
)

type cursor struct {
	at time.Time
	id int64
}

func (k Keys) encodePageToken(c cursor, filters string) string {
	b := make([]byte, 0, pageTokenLen)
	b = binary.BigEndian.AppendUint64(b, uint64(c.at.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(c.id))
	fh := sha256.Sum256([]byte(filters))
	b = append(b, fh[:8]...)
	b = append(b, k.pageMAC(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (k Keys) decodePageToken(tok, filters string) (cursor, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || len(b) != pageTokenLen {
		return cursor{}, errTokenMalformed
	}
	body, mac := b[:24], b[24:]
	if !hmac.Equal(mac, k.pageMAC(body)) {
		return cursor{}, errTokenMalformed
	}
	fh := sha256.Sum256([]byte(filters))
	if !hmac.Equal(body[16:24], fh[:8]) {
		return cursor{}, errTokenFilters
	}
	return cursor{
		at: time.Unix(0, int64(binary.BigEndian.Uint64(body[0:8]))).UTC(),
		id: int64(binary.BigEndian.Uint64(body[8:16])),
	}, nil
}

func (k Keys) pageMAC(b []byte) []byte {
	m := hmac.New(sha256.New, k.page)
	m.Write(b)
	return m.Sum(nil)[:16]
}

// pageSize applies the default (50) and the maximum (200).
func pageSize(n int32) int {
	switch {
	case n <= 0:
		return 50
	case n > 200:
		return 200
	}
	return int(n)
}

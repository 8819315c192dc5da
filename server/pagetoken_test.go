package server

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func testKeys(t testing.TB) Keys {
	t.Helper()
	k, err := NewKeys(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestPageTokenRoundTripAndRefusals(t *testing.T) {
	k := testKeys(t)
	other, err := NewKeys(bytes.Repeat([]byte{8}, 32))
	if err != nil {
		t.Fatal(err)
	}
	c := cursor{at: time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC), id: 42}
	tok := k.encodePageToken(c, "f")
	tests := []struct {
		name    string
		keys    Keys
		tok     string
		filters string
		want    error
	}{
		{"round trip keeps nanoseconds", k, tok, "f", nil},
		{"other filters", k, tok, "g", errTokenFilters},
		{"other server key", other, tok, "f", errTokenMalformed},
		{"empty", k, "", "f", errTokenMalformed},
		{"truncated", k, tok[:len(tok)-1], "f", errTokenMalformed},
		{"extended", k, tok + "A", "f", errTokenMalformed},
		{"padded", k, tok + "=", "f", errTokenMalformed},
		{"standard alphabet", k, "+/" + tok[2:], "f", errTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.keys.decodePageToken(tt.tok, tt.filters)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil && (!got.at.Equal(c.at) || got.id != c.id) {
				t.Fatalf("cursor = %+v, want %+v", got, c)
			}
		})
	}
}

// FuzzPageToken: decoding never panics, a token decodes only with the
// filters it was made for, and any change of it is refused.
func FuzzPageToken(f *testing.F) {
	k := testKeys(f)
	f.Add(int64(0), int64(1), "chats|1|[]||\"\"|false", "")
	f.Add(int64(1_800_000_000_000_000_000), int64(1<<62), "messages|1|2", "AAAA")
	f.Fuzz(func(t *testing.T, nanos, id int64, filters, garbage string) {
		c := cursor{at: time.Unix(0, nanos).UTC(), id: id}
		tok := k.encodePageToken(c, filters)
		got, err := k.decodePageToken(tok, filters)
		if err != nil || got.id != id || !got.at.Equal(c.at) {
			t.Fatalf("round trip of %+v: %+v, %v", c, got, err)
		}
		if _, err := k.decodePageToken(tok, filters+"x"); err == nil {
			t.Fatal("token accepted with other filters")
		}
		if garbage != "" && garbage != tok {
			if _, err := k.decodePageToken(garbage, filters); err == nil {
				t.Fatalf("forged token %q accepted", garbage)
			}
		}
		for i := range len(tok) {
			b := []byte(tok)
			b[i] ^= 1
			if _, err := k.decodePageToken(string(b), filters); err == nil {
				t.Fatalf("token with byte %d changed accepted", i)
			}
		}
	})
}

package events

import (
	"errors"
	"strconv"
	"testing"
)

// FuzzResumeToken: any resume token parses to an ID that prints back as
// itself, or is ErrBadToken; nothing panics.
func FuzzResumeToken(f *testing.F) {
	for _, s := range []string{"1700000000000-0", "0-0", "-", "1-", "-1", "18446744073709551615-18446744073709551615", "1-2-3", "abc", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseID(s)
		if err != nil {
			if !errors.Is(err, ErrBadToken) {
				t.Fatalf("parseID(%q) = %v, want ErrBadToken", s, err)
			}
			return
		}
		back := strconv.FormatUint(id.ms, 10) + "-" + strconv.FormatUint(id.seq, 10)
		again, err := parseID(back)
		if err != nil || again != id {
			t.Fatalf("parseID(%q) = %v, which prints as %q and parses to %v, %v", s, id, back, again, err)
		}
	})
}

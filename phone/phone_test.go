package phone

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"unassigned 555 range", "+15551234567", "", false},
		{"us with plus", "+1 650 253 0000", "+16502530000", true},
		{"digits as in a JID", "16502530000", "+16502530000", true},
		{"punctuation", "+44 (20) 7031-3000", "+442070313000", true},
		{"indonesia", "6281234567890", "+6281234567890", true},
		{"leading zeros dropped", "0016502530000", "+16502530000", true},
		{"too short", "+1234", "", false},
		{"letters", "call me", "", false},
		{"empty", "", "", false},
		{"only spaces", "   ", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Normalize(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestFromJID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"16502530000@s.whatsapp.net":    "16502530000",
		"16502530000:12@s.whatsapp.net": "16502530000",
		"123456789@lid":                 "",
		"120363041234567890@g.us":       "",
		"garbage":                       "",
	} {
		if got := FromJID(in); got != want {
			t.Errorf("FromJID(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzNormalize checks that normalisation never panics and that what it
// returns is E.164 and a fixed point.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"+16502530000", "6281234567890", "+44 (20) 7031-3000", "", "+", "00", "+999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, ok := Normalize(raw)
		if !ok {
			if got != "" {
				t.Fatalf("Normalize(%q) = %q with ok=false", raw, got)
			}
			return
		}
		if !strings.HasPrefix(got, "+") || len(got) > 16 || strings.Trim(got[1:], "0123456789") != "" {
			t.Fatalf("Normalize(%q) = %q, not E.164", raw, got)
		}
		again, ok2 := Normalize(got)
		if !ok2 || again != got {
			t.Fatalf("Normalize(%q) = %q, %v; want fixed point %q", got, again, ok2, got)
		}
	})
}

// Package phone normalises phone numbers to E.164 with
// github.com/nyaruka/phonenumbers (the seed's formatPhone).
package phone

import (
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Normalize returns the E.164 form of raw ("+15551234567") and true, or ""
// and false when raw is not a valid number (the library's verdict, within
// E.164's 15 digits). WhatsApp numbers are international, so a number
// without a leading + is read as digits after the + (as WhatsApp JIDs carry
// them), not in any home region.
//
// Canonical input ("+" and digits, or digits as in a JID) does not go
// through the library's parser, whose regexps took most of Normalize's time
// once isValid was fast: parseE164 returns what the parser would.
// TestFastMatchesLibrary and FuzzNormalizeFastMatchesLibrary compare the
// two.
func Normalize(raw string) (string, bool) {
	s, ok := prepare(raw)
	if !ok {
		return "", false
	}
	if cc, nsn, handled, err := parseE164(s); handled {
		if err != nil || !validNSN(cc, nsn) {
			return "", false
		}
		// Format(n, E164).
		return e164(cc, nsn)
	}
	return normalizePrepared(s)
}

// maxE164 is the longest E.164 number written with its "+": 15 digits.
const maxE164 = 16

// e164 is "+<cc><nsn>", or false past E.164's 15 digits.
func e164(cc int, nsn string) (string, bool) {
	out := "+" + strconv.Itoa(cc) + nsn
	if len(out) > maxE164 {
		return "", false
	}
	return out, true
}

// normalizeSlow is Normalize parsing every number with the library.
func normalizeSlow(raw string) (string, bool) {
	s, ok := prepare(raw)
	if !ok {
		return "", false
	}
	return normalizePrepared(s)
}

// normalizePrepared is Normalize of a prepared number with the library's
// parser.
func normalizePrepared(s string) (string, bool) {
	n, err := phonenumbers.Parse(s, "ZZ")
	if err != nil || !isValid(n) {
		return "", false
	}
	// The library takes letters for digits (vanity numbers) and keeps
	// some national lengths past E.164's 15 digits ("//49//201000000A000000"
	// became 17): those are no E.164 number.
	if out := phonenumbers.Format(n, phonenumbers.E164); len(out) <= maxE164 {
		return out, true
	}
	return "", false
}

// prepare is raw as Normalize hands it to the parser: trimmed, read as
// international.
func prepare(raw string) (string, bool) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", false
	}
	if !strings.HasPrefix(s, "+") {
		s = "+" + strings.TrimLeft(s, "0")
	}
	return s, true
}

// FromJID returns the digits of a phone JID's user part as a raw number
// ("15551234567@s.whatsapp.net" → "15551234567"), or "" for other JIDs.
func FromJID(jid string) string {
	user, server, ok := strings.Cut(jid, "@")
	if !ok || server != "s.whatsapp.net" {
		return ""
	}
	user, _, _ = strings.Cut(user, ":")
	return user
}

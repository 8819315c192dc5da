package phone

import (
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// maxFastDigits bounds the digits after the + that parseE164 takes: the
// country code (up to 3 digits) and a national number of up to the
// library's MAX_LENGTH_FOR_NSN (17) digits. Longer inputs go to the
// library.
const maxFastDigits = 20

// parseE164 is phonenumbers.Parse(s, "ZZ") for s of a + and 1 to
// maxFastDigits ASCII digits, the canonical E.164 form nearly every input
// has; handled is false for any other s, and for the few numbers it does
// not reproduce the library on (see below), which the caller must parse
// with the library. For a handled s it returns the error Parse returns, or
// the parsed number's country code and national significant number
// (GetNationalSignificantNumber), which is all Normalize reads of it.
//
// It follows the library's parseHelper step by step for such an s (the
// library is github.com/nyaruka/phonenumbers, phonenumberutil.go):
//
//   - buildNationalNumberForParsing and extractPossibleNumber leave s as it
//     is: it has no ";phone-context=" or ";isub=", starts with a valid start
//     character and ends with a digit.
//   - isViablePhoneNumber wants the two-digit form without a + or a + and
//     at least three digits: fewer digits are ErrNotANumber.
//   - checkRegionForParsing passes (s starts with a +); maybeStripExtension
//     finds nothing (every extension form has a non-digit in it).
//   - maybeExtractCountryCode strips the + (normalising digits changes
//     nothing) and extractCountryCode takes the shortest prefix of 1 to 3
//     digits, not starting with 0, that is a known calling code. Without one
//     it is ErrInvalidCountryCode: parseHelper's retry without the +, with
//     no default region, finds no country code either and returns that
//     error. (ErrTooShortAfterIDD needs at most two digits, which never get
//     this far.)
//   - The region's metadata is the main region's of the calling code, or
//     the non-geographical entity's; with it, the national prefix is stripped
//     (maybeStripNationalPrefixAndCarrierCode, replicated by
//     stripNationalPrefix with the same patterns) and kept only when
//     testNumberLength says the rest is possible or too long.
//   - The national number must have 2 to 17 digits (ErrTooShortNSN,
//     ErrNumTooLong).
//   - setItalianLeadingZerosForPhoneNumber and the national number as an
//     integer make GetNationalSignificantNumber give back exactly these
//     digits: the leading zeros it counts (all but the last digit of an
//     all-zero number) are the ones the integer drops.
//
// Unhandled: a national number the transform rule turns into something
// other than digits (no metadata does) and metadata without possible
// lengths (where the library panics).
func parseE164(s string) (cc int, nsn string, handled bool, err error) {
	if len(s) < 2 || len(s) > 1+maxFastDigits || s[0] != '+' {
		return 0, "", false, nil
	}
	digits := s[1:]
	for i := 0; i < len(digits); i++ {
		if c := digits[i]; c < '0' || c > '9' {
			return 0, "", false, nil
		}
	}
	if len(digits) < 3 { // isViablePhoneNumber
		return 0, "", true, phonenumbers.ErrNotANumber
	}
	// extractCountryCode.
	if digits[0] == '0' {
		return 0, "", true, phonenumbers.ErrInvalidCountryCode
	}
	codes := callingCodes()
	n := 0
	for cc = 0; n < 3; {
		cc = cc*10 + int(digits[n]-'0')
		n++
		if codes[cc] {
			break
		}
	}
	if !codes[cc] {
		return 0, "", true, phonenumbers.ErrInvalidCountryCode
	}
	nn := digits[n:]
	if len(nn) < 2 {
		return 0, "", true, phonenumbers.ErrTooShortNSN
	}
	if m := parseMetadata(cc); m != nil {
		if len(m.general.lengths) == 0 {
			return 0, "", false, nil
		}
		if p := m.stripNationalPrefix(nn); p != nn {
			switch testNumberLength(len(p), m.general.lengths, m.localLengths) {
			case phonenumbers.IS_POSSIBLE, phonenumbers.TOO_LONG:
				nn = p
			}
		}
	}
	if len(nn) < 2 {
		return 0, "", true, phonenumbers.ErrTooShortNSN
	}
	if len(nn) > 17 {
		return 0, "", true, phonenumbers.ErrNumTooLong
	}
	for i := 0; i < len(nn); i++ {
		if c := nn[i]; c < '0' || c > '9' {
			return 0, "", false, nil
		}
	}
	return cc, nn, true, nil
}

// callingCodes is the set of country calling codes the library knows
// (GetSupportedCallingCodes: the keys of its country code to region map,
// which extractCountryCode looks codes up in), by code.
var callingCodes = sync.OnceValue(func() *[1000]bool {
	var codes [1000]bool
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		if cc > 0 && cc < len(codes) {
			codes[cc] = true
		}
	}
	return &codes
})

// parseMetadata is the metadata parseHelper uses for a number with calling
// code cc and no default region, nil when it has none:
// getMetadataForRegionOrCallingCode(cc, GetRegionCodeForCountryCode(cc)).
func parseMetadata(cc int) *metadata {
	region := phonenumbers.GetRegionCodeForCountryCode(cc)
	if region == nonGeo {
		return loadMetadata().nonGeoCode(cc)
	}
	// getMetadataForRegion knows only supported regions; the unknown region
	// "ZZ" of a code without regions is not one.
	if !phonenumbers.GetSupportedRegions()[region] {
		return nil
	}
	return loadMetadata().region(region)
}

// stripNationalPrefix is maybeStripNationalPrefixAndCarrierCode: nn with
// its national prefix stripped or transformed, or nn itself. (The carrier
// code it also extracts is only kept with the raw input.)
func (m *metadata) stripNationalPrefix(nn string) string {
	if len(nn) == 0 || m.nationalPrefix == nil || !m.nationalPrefix.MatchString(nn) {
		return nn
	}
	viable := m.general.re.MatchString(nn)
	groups := m.nationalPrefix.FindStringSubmatchIndex(nn)
	numOfGroups := len(groups)/2 - 1
	if len(m.transform) == 0 || groups[numOfGroups*2] < 0 {
		if viable && !m.general.re.MatchString(nn[groups[1]:]) {
			return nn
		}
		return nn[groups[1]:]
	}
	t := m.nationalPrefix.ReplaceAllString(nn, m.transform)
	if viable && !m.general.re.MatchString(t) {
		return nn
	}
	return t
}

// testNumberLength is the library's testNumberLength for the type UNKNOWN
// (the general description) of a number of length n; lengths must not be
// empty.
func testNumberLength(n int, lengths, local []int32) phonenumbers.ValidationResult {
	if lengths[0] == -1 {
		return phonenumbers.INVALID_LENGTH
	}
	l := int32(n)
	for _, x := range local {
		if x == l {
			return phonenumbers.IS_POSSIBLE_LOCAL_ONLY
		}
	}
	switch {
	case lengths[0] == l:
		return phonenumbers.IS_POSSIBLE
	case lengths[0] > l:
		return phonenumbers.TOO_SHORT
	case lengths[len(lengths)-1] < l:
		return phonenumbers.TOO_LONG
	}
	for _, x := range lengths[1:] {
		if x == l {
			return phonenumbers.IS_POSSIBLE
		}
	}
	return phonenumbers.INVALID_LENGTH
}

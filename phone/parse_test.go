package phone

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// checkFast compares Normalize(raw) with normalizeSlow(raw), which parses
// with the library, and, when parseE164 handles the prepared raw, parseE164
// with the library's Parse: same error (the same value), country code and
// national significant number. With withIsValidNumber it also compares
// Normalize with libraryNormalize (the library's IsValidNumber in place of
// isValid), computed from the same Parse. It reports whether parseE164
// handled raw and whether raw is valid.
func checkFast(t testing.TB, raw string, withIsValidNumber bool) (handled, valid bool) {
	t.Helper()
	got, ok := Normalize(raw)
	if want, wantOK := normalizeSlow(raw); got != want || ok != wantOK {
		t.Errorf("Normalize(%q) = %q, %v; with the library's parser %q, %v", raw, got, ok, want, wantOK)
	}
	s, prepared := prepare(raw)
	if !prepared {
		return false, ok
	}
	cc, nsn, handled, ferr := parseE164(s)
	if !handled && !withIsValidNumber {
		return false, ok
	}
	n, err := phonenumbers.Parse(s, "ZZ")
	if withIsValidNumber {
		want := ""
		if err == nil && phonenumbers.IsValidNumber(n) {
			want = phonenumbers.Format(n, phonenumbers.E164)
		}
		if len(want) > maxE164 {
			want = "" // past E.164's 15 digits: not a number chatsync keeps
		}
		if got != want || ok != (want != "") {
			t.Errorf("Normalize(%q) = %q, %v; the library says %q, %v", raw, got, ok, want, want != "")
		}
	}
	if !handled {
		return false, ok
	}
	var wcc int
	var wnsn string
	if err == nil {
		wcc, wnsn = int(n.GetCountryCode()), phonenumbers.GetNationalSignificantNumber(n)
	}
	if cc != wcc || nsn != wnsn || !errors.Is(ferr, err) {
		t.Errorf("parseE164(%q) = %d, %q, %v; Parse gives %d, %q, %v", s, cc, nsn, ferr, wcc, wnsn, err)
	}
	return true, ok
}

// fastNumbers are inputs for parseE164: testNumbers (every region's example
// numbers and their neighbours, random digits after every calling code,
// the +1 555 range); numbers generated from every region's patterns (each
// number type's, and its national prefix for parsing followed by such a
// number, to take every branch of the national prefix stripping); random
// digits of every length 0 to 20 after every calling code, with and without
// leading zeros; every example number with a digit dropped, added, changed
// and with the national prefix after the calling code; and all of these
// also as digits without the + (as JIDs carry them).
var fastNumbers = sync.OnceValue(func() []string {
	r := rand.New(rand.NewPCG(3, 4))
	out := testNumbers()
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + r.IntN(10))
		}
		return string(b)
	}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		panic(err)
	}
	for _, pm := range coll.GetMetadata() {
		cc := strconv.Itoa(int(pm.GetCountryCode()))
		descs := []*phonenumbers.PhoneNumberDesc{pm.GetGeneralDesc(), pm.GetFixedLine(), pm.GetMobile(), pm.GetTollFree(),
			pm.GetPremiumRate(), pm.GetSharedCost(), pm.GetPersonalNumber(), pm.GetVoip(), pm.GetPager(), pm.GetUan(),
			pm.GetVoicemail(), pm.GetNoInternationalDialling()}
		var prefixes []*syntax.Regexp
		if np := pm.GetNationalPrefixForParsing(); np != "" {
			prefixes = append(prefixes, mustParse(np))
		}
		var examples []string
		for _, d := range descs {
			if ex := d.GetExampleNumber(); ex != "" {
				examples = append(examples, ex)
			}
			if d.GetNationalNumberPattern() == "" || d.GetNationalNumberPattern() == "NA" {
				continue
			}
			re := mustParse(d.GetNationalNumberPattern())
			for range 6 {
				nn := generate(r, re)
				out = append(out, "+"+cc+nn)
				for _, p := range prefixes {
					out = append(out, "+"+cc+generate(r, p)+nn)
				}
			}
		}
		for _, p := range prefixes {
			// The prefix pattern alone, and followed by random digits.
			for range 10 {
				out = append(out, "+"+cc+generate(r, p), "+"+cc+generate(r, p)+digits(r.IntN(14)))
			}
		}
		ndd := pm.GetNationalPrefix()
		for _, ex := range examples {
			out = append(out, "+"+cc+"0"+ex, "+"+cc+"00"+ex, "+"+cc+"1"+ex, "+"+cc+ndd+ex, "+"+cc+ndd+ndd+ex)
			e := "+" + cc + ex
			i := 1 + len(cc) + r.IntN(len(ex))
			out = append(out, e[:i]+e[i+1:], e[:i]+digits(1)+e[i:], e[:i]+digits(1)+e[i+1:])
			if v, err := strconv.ParseUint(ex, 10, 64); err == nil {
				out = append(out, fmt.Sprintf("+%s%0*d", cc, len(ex), v+1), fmt.Sprintf("+%s%0*d", cc, len(ex), v-1))
			}
		}
	}
	for _, cc := range slices.Sorted(maps.Keys(phonenumbers.GetSupportedCallingCodes())) {
		c := strconv.Itoa(cc)
		for n := 0; n <= 20-len(c); n++ {
			for range 4 {
				out = append(out, "+"+c+digits(n))
			}
			for zeros := 1; zeros <= min(n, 4); zeros++ {
				out = append(out, "+"+c+strings.Repeat("0", zeros)+digits(n-zeros))
			}
			out = append(out, "+"+c+strings.Repeat("0", n))
		}
	}
	// Italian leading zeros, short, long and unknown calling codes.
	for n := 0; n <= 18; n++ {
		for range 20 {
			out = append(out, "+390"+digits(n), "+3900"+digits(n), "+"+digits(n), "+0"+digits(n))
		}
		out = append(out, "+39"+strings.Repeat("0", n), "+"+strings.Repeat("9", n))
	}
	for n := 21; n <= 24; n++ {
		out = append(out, "+1"+digits(n-1), "+62"+digits(n-2))
	}
	// Without the +.
	for i, n := 0, len(out); i < n; i++ {
		if s, ok := strings.CutPrefix(out[i], "+"); ok {
			switch i % 8 {
			case 0:
				out = append(out, s)
			case 4:
				out = append(out, "00"+s)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
})

func mustParse(pattern string) *syntax.Regexp {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		panic(err)
	}
	return re.Simplify()
}

// generate returns a random string re matches, ignoring anchors (the
// metadata patterns are matched whole or, for prefixes, from the start).
func generate(r *rand.Rand, re *syntax.Regexp) string {
	var b strings.Builder
	var gen func(re *syntax.Regexp)
	gen = func(re *syntax.Regexp) {
		switch re.Op {
		case syntax.OpLiteral:
			b.WriteString(string(re.Rune))
		case syntax.OpCharClass:
			// Ranges are pairs lo, hi.
			i := 2 * r.IntN(len(re.Rune)/2)
			lo, hi := re.Rune[i], re.Rune[i+1]
			b.WriteRune(lo + rune(r.IntN(int(hi-lo)+1)))
		case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			b.WriteByte(byte('0' + r.IntN(10)))
		case syntax.OpCapture:
			gen(re.Sub[0])
		case syntax.OpConcat:
			for _, s := range re.Sub {
				gen(s)
			}
		case syntax.OpAlternate:
			gen(re.Sub[r.IntN(len(re.Sub))])
		case syntax.OpQuest:
			if r.IntN(2) == 0 {
				gen(re.Sub[0])
			}
		case syntax.OpStar, syntax.OpPlus:
			n := r.IntN(4)
			if re.Op == syntax.OpPlus {
				n++
			}
			for range n {
				gen(re.Sub[0])
			}
		case syntax.OpRepeat:
			n := re.Min
			if re.Max > re.Min {
				n += r.IntN(re.Max - re.Min + 1)
			} else if re.Max < 0 {
				n += r.IntN(4)
			}
			for range n {
				gen(re.Sub[0])
			}
		}
	}
	gen(re)
	return b.String()
}

func TestFastMatchesLibrary(t *testing.T) {
	t.Parallel()
	nums := fastNumbers()
	// Four parallel parts: under the race detector this is the slowest
	// test.
	const parts = 4
	var (
		mu             sync.Mutex
		handled, valid int
		errs           = map[error]int{}
		wg             sync.WaitGroup
	)
	for part := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var h, v int
			e := map[error]int{}
			for i := part; i < len(nums); i += parts {
				raw := nums[i]
				ok, isValid := checkFast(t, raw, true)
				if !ok {
					continue
				}
				h++
				s, _ := prepare(raw)
				_, _, _, err := parseE164(s)
				e[err]++
				if isValid {
					v++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			handled += h
			valid += v
			for err, n := range e {
				errs[err] += n
			}
		}()
	}
	wg.Wait()
	// Each outcome must be well represented, the fast path must take
	// nearly all inputs.
	if handled < len(nums)*9/10 || valid < handled/10 || errs[nil]-valid < handled/10 {
		t.Fatalf("%d numbers, %d handled by parseE164, %d valid, %d parsed but invalid: not a useful mix", len(nums), handled, valid, errs[nil]-valid)
	}
	for _, err := range []error{phonenumbers.ErrNotANumber, phonenumbers.ErrInvalidCountryCode, phonenumbers.ErrTooShortNSN, phonenumbers.ErrNumTooLong} {
		if errs[err] < 100 {
			t.Errorf("only %d numbers with error %q", errs[err], err)
		}
	}
	t.Logf("%d numbers, %d handled by parseE164: %d valid, %d parsed but invalid, errors %v", len(nums), handled, valid, errs[nil]-valid, errs)
}

// TestFastStripsNationalPrefixes checks that fastNumbers exercise the
// national prefix stripping: in every calling code whose region has a
// national prefix for parsing, some numbers must have it stripped (or
// transformed). It logs in how many codes the prefix matched a number that
// kept it.
func TestFastStripsNationalPrefixes(t *testing.T) {
	t.Parallel()
	stripped := map[int]int{}
	kept := map[int]int{}
	for _, raw := range fastNumbers() {
		s, ok := prepare(raw)
		if !ok {
			continue
		}
		cc, nsn, handled, err := parseE164(s)
		if !handled || err != nil {
			continue
		}
		if s[1+len(strconv.Itoa(cc)):] != nsn {
			stripped[cc]++
		} else if m := parseMetadata(cc); m != nil && m.nationalPrefix != nil && m.nationalPrefix.MatchString(nsn) {
			kept[cc]++
		}
	}
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		if m := parseMetadata(cc); m != nil && m.nationalPrefix != nil && stripped[cc] == 0 {
			t.Errorf("+%d: no number had its national prefix stripped", cc)
		}
	}
	t.Logf("stripped in %d calling codes, prefix matched but kept in %d", len(stripped), len(kept))
}

func TestFastHandlesCanonicalOnly(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "+", "15551234567", " +15551234567", "+1 5551234567", "+1555123456a", "++15551234567",
		"+１5551234567", "+" + strings.Repeat("1", maxFastDigits+1)} {
		if _, _, handled, _ := parseE164(s); handled {
			t.Errorf("parseE164(%q) handled", s)
		}
	}
	for _, s := range []string{"+1", "+15551234567", "+" + strings.Repeat("1", maxFastDigits)} {
		if _, _, handled, _ := parseE164(s); !handled {
			t.Errorf("parseE164(%q) not handled", s)
		}
	}
}

func FuzzNormalizeFastMatchesLibrary(f *testing.F) {
	for _, s := range []string{"+16502530000", "+15551234567", "6281234567890", "+6281234567001", "+390612345678",
		"+3900000", "+5401115123456", "+5491123456789", "+5501223456789012", "+2610201234", "+6720012", "+37881234",
		"+8100021234", "+440201234567", "+80012345678", "+882345678901", "+1", "+12", "+999", "+0123", "", "+44 (20) 7031-3000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		checkFast(t, raw, false)
		// The same bytes as a canonical number, so that most inputs
		// exercise parseE164: a + and up to maxFastDigits digits.
		b := []byte{'+'}
		for i := 0; i < len(raw) && len(b) <= maxFastDigits; i++ {
			b = append(b, '0'+raw[i]%10)
		}
		checkFast(t, string(b), false)
		checkFast(t, string(b[1:]), false)
	})
}

// benchNumbers are 65,536 different numbers of each kind.
var benchNumbers = sync.OnceValue(func() map[string][]string {
	r := rand.New(rand.NewPCG(5, 6))
	m := map[string][]string{}
	for i := range 1 << 16 {
		m["us555"] = append(m["us555"], fmt.Sprintf("+1555%07d", i*152))
		m["id-mobile"] = append(m["id-mobile"], fmt.Sprintf("+628%d%08d", 1+r.IntN(3), i*1525))
	}
	return m
})

// BenchmarkNormalize compares Normalize with the library's parser on the
// ingest workload's kind of numbers, each one different: +1 555 numbers
// (invalid, the synthetic workload's) and Indonesian mobile numbers.
func BenchmarkNormalize(b *testing.B) {
	impls := []struct {
		name string
		f    func(string) (string, bool)
	}{{"fast", Normalize}, {"library", normalizeSlow}}
	for _, kind := range []string{"us555", "id-mobile"} {
		nums := benchNumbers()[kind]
		if _, ok := Normalize(nums[1]); ok != (kind == "id-mobile") {
			b.Fatalf("Normalize(%q) valid: %v", nums[1], ok)
		}
		for _, impl := range impls {
			b.Run(kind+"/"+impl.name, func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					impl.f(nums[i%len(nums)])
					i++
				}
			})
		}
	}
}

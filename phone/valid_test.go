package phone

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// libraryNormalize is Normalize with the library's own IsValidNumber.
func libraryNormalize(raw string) (string, bool) {
	s, ok := prepare(raw)
	if !ok {
		return "", false
	}
	n, err := phonenumbers.Parse(s, "ZZ")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", false
	}
	// Within E.164's 15 digits: the library keeps some national lengths
	// past them.
	if out := phonenumbers.Format(n, phonenumbers.E164); len(out) <= maxE164 {
		return out, true
	}
	return "", false
}

// testNumbers are inputs near and far from valid numbers: every region's
// example number of every type with its last digits varied and its length
// changed by one, random digits after every country code, and the +1 555
// range of the benchmark workload.
func testNumbers() []string {
	r := rand.New(rand.NewPCG(1, 2))
	var out []string
	types := []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE,
		phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER,
		phonenumbers.PAGER, phonenumbers.UAN, phonenumbers.VOICEMAIL}
	ccs := map[int]bool{}
	for _, region := range slices.Sorted(maps.Keys(phonenumbers.GetSupportedRegions())) {
		ccs[phonenumbers.GetCountryCodeForRegion(region)] = true
		for _, typ := range types {
			ex := phonenumbers.GetExampleNumberForType(region, typ)
			if ex == nil {
				continue
			}
			e := phonenumbers.Format(ex, phonenumbers.E164)
			out = append(out, e, e[:len(e)-1], e+strconv.Itoa(r.IntN(10)))
			for range 4 {
				k := 1 + r.IntN(min(5, len(e)-2))
				tail := fmt.Sprintf("%0*d", k, r.IntN(pow10(k)))
				out = append(out, e[:len(e)-k]+tail)
			}
		}
	}
	for cc := range phonenumbers.GetSupportedGlobalNetworkCallingCodes() {
		ccs[cc] = true
	}
	for _, cc := range slices.Sorted(maps.Keys(ccs)) {
		for range 20 {
			n := 2 + r.IntN(15)
			out = append(out, "+"+strconv.Itoa(cc)+fmt.Sprintf("%0*d", n, r.Int64N(int64(pow10(min(n, 18))))))
		}
	}
	for i := range 2000 {
		out = append(out, fmt.Sprintf("+1555%07d", r.IntN(10_000_000)), fmt.Sprintf("1555%07d", i), fmt.Sprintf("+1%03d%07d", r.IntN(1000), r.IntN(10_000_000)))
	}
	return out
}

func pow10(k int) int {
	p := 1
	for range k {
		p *= 10
	}
	return p
}

func TestValidMatchesLibrary(t *testing.T) {
	t.Parallel()
	valid := 0
	nums := testNumbers()
	for _, raw := range nums {
		got, ok := Normalize(raw)
		want, wantOK := libraryNormalize(raw)
		if got != want || ok != wantOK {
			t.Errorf("Normalize(%q) = %q, %v; the library says %q, %v", raw, got, ok, want, wantOK)
		}
		if ok {
			valid++
		}
	}
	// Both sides of the check must be well represented.
	if valid < len(nums)/10 || valid > len(nums)*9/10 {
		t.Fatalf("%d of %d test numbers valid: not a useful mix", valid, len(nums))
	}
	t.Logf("%d numbers, %d valid", len(nums), valid)
}

func FuzzValidMatchesLibrary(f *testing.F) {
	for _, s := range []string{"+16502530000", "+15551234567", "6281234567890", "+44 (20) 7031-3000", "+80012345678",
		"+882345678901", "+39 06 1234 5678", "+1 268 464 1234", "+7 495 123 45 67", "+2250712345678"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, ok := Normalize(raw)
		want, wantOK := libraryNormalize(raw)
		if got != want || ok != wantOK {
			t.Fatalf("Normalize(%q) = %q, %v; the library says %q, %v", raw, got, ok, want, wantOK)
		}
	})
}

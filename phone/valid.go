package phone

import (
	"regexp"
	"strconv"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// isValid is phonenumbers.IsValidNumber, computed the same way from the
// same embedded metadata, with the patterns compiled once. The library
// builds each pattern's anchored string, looks it up in a locked regexp
// cache and matches it twice for every number type it tries; for a number
// it rejects (it tries every type of every region of the country code) that
// was about two thirds of Normalize's time. TestValidMatchesLibrary and
// FuzzValidMatchesLibrary compare the two.
func isValid(n *phonenumbers.PhoneNumber) bool {
	return validNSN(int(n.GetCountryCode()), phonenumbers.GetNationalSignificantNumber(n))
}

// validNSN is isValid of the number with country calling code cc and
// national significant number nsn (GetNationalSignificantNumber), the only
// parts of a number IsValidNumber looks at.
func validNSN(cc int, nsn string) bool {
	meta := loadMetadata()
	regions := phonenumbers.GetRegionCodesForCountryCode(cc)
	// GetRegionCodeForNumber.
	var region string
	switch len(regions) {
	case 0:
		return false
	case 1:
		region = regions[0]
	default:
		for _, r := range regions {
			m := meta.region(r)
			if m != nil && m.leading != nil {
				if m.leading.MatchString(nsn) {
					region = r
					break
				}
			} else if m.known(nsn) {
				region = r
				break
			}
		}
	}
	// IsValidNumberForRegion.
	var m *metadata
	if region == nonGeo {
		m = meta.nonGeoCode(cc)
	} else {
		m = meta.region(region)
		if m != nil && m.countryCode != cc {
			return false
		}
	}
	return m.known(nsn)
}

// nonGeo is the region code of non-geographical entities.
const nonGeo = "001"

// metadata is a region's number descriptions, compiled.
type metadata struct {
	countryCode int
	leading     *regexp.Regexp // nil without leading digits
	general     desc
	// types are the descriptions whose match makes a number's type known
	// (premium rate … voicemail, fixed line); mobile counts only when its
	// pattern differs from the fixed line's.
	types  []desc
	mobile *desc

	// What parsing needs (see parse.go): the national prefix for parsing,
	// anchored at the start as the library anchors it, nil without one; its
	// transform rule; and the general description's local-only lengths
	// (general.lengths are its possible lengths).
	nationalPrefix *regexp.Regexp
	transform      string
	localLengths   []int32
}

type desc struct {
	lengths []int32
	re      *regexp.Regexp
}

func compileDesc(d *phonenumbers.PhoneNumberDesc) desc {
	return desc{lengths: d.GetPossibleLength(), re: regexp.MustCompile("^(?:" + d.GetNationalNumberPattern() + ")$")}
}

// matches is the library's isNumberMatchingDesc.
func (d *desc) matches(nsn string) bool {
	if len(d.lengths) > 0 {
		ok := false
		for _, l := range d.lengths {
			if int32(len(nsn)) == l {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return d.re.MatchString(nsn)
}

// known reports the library's getNumberTypeHelper(nsn) != UNKNOWN; a nil
// metadata knows no number.
func (m *metadata) known(nsn string) bool {
	if m == nil || !m.general.matches(nsn) {
		return false
	}
	for i := range m.types {
		if m.types[i].matches(nsn) {
			return true
		}
	}
	return m.mobile != nil && m.mobile.matches(nsn)
}

func compileMetadata(pm *phonenumbers.PhoneMetadata) *metadata {
	m := &metadata{countryCode: int(pm.GetCountryCode()), general: compileDesc(pm.GetGeneralDesc())}
	if ld := pm.GetLeadingDigits(); len(ld) > 0 {
		m.leading = regexp.MustCompile("^(?:" + ld + ")")
	}
	if np := pm.GetNationalPrefixForParsing(); len(np) > 0 {
		m.nationalPrefix = regexp.MustCompile("^(?:" + np + ")")
	}
	m.transform = pm.GetNationalPrefixTransformRule()
	m.localLengths = pm.GetGeneralDesc().GetPossibleLengthLocalOnly()
	for _, d := range []*phonenumbers.PhoneNumberDesc{pm.GetPremiumRate(), pm.GetTollFree(), pm.GetSharedCost(), pm.GetVoip(),
		pm.GetPersonalNumber(), pm.GetPager(), pm.GetUan(), pm.GetVoicemail(), pm.GetFixedLine()} {
		m.types = append(m.types, compileDesc(d))
	}
	if !pm.GetSameMobileAndFixedLinePattern() {
		d := compileDesc(pm.GetMobile())
		m.mobile = &d
	}
	return m
}

// metadataSet is the library's embedded metadata by region and, for
// non-geographical entities, by country code; a region's patterns are
// compiled when a number first needs them (compiling them all took a
// tenth of a second).
type metadataSet struct {
	raw      map[string]*phonenumbers.PhoneMetadata
	compiled sync.Map // key → *metadata
}

// region returns the compiled metadata of a region, nil for an unknown one.
func (s *metadataSet) region(r string) *metadata { return s.get(r) }

// nonGeoCode returns the compiled metadata of a non-geographical country
// code, nil for an unknown one.
func (s *metadataSet) nonGeoCode(cc int) *metadata { return s.get(nonGeo + "/" + strconv.Itoa(cc)) }

func (s *metadataSet) get(key string) *metadata {
	if m, ok := s.compiled.Load(key); ok {
		return m.(*metadata)
	}
	pm := s.raw[key]
	if pm == nil {
		return nil
	}
	m, _ := s.compiled.LoadOrStore(key, compileMetadata(pm))
	return m.(*metadata)
}

// loadMetadata indexes the library's embedded metadata once.
var loadMetadata = sync.OnceValue(func() *metadataSet {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		panic(err) // the library itself panics at init on bad embedded metadata
	}
	s := &metadataSet{raw: map[string]*phonenumbers.PhoneMetadata{}}
	for _, pm := range coll.GetMetadata() {
		if pm.GetId() == nonGeo {
			s.raw[nonGeo+"/"+strconv.Itoa(int(pm.GetCountryCode()))] = pm
		} else {
			s.raw[pm.GetId()] = pm
		}
	}
	return s
})

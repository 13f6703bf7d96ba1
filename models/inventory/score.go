package inventory

import (
	"net/netip"
	"slices"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/datasets/labels"
)

// Scorecard compares verdicts with the truth of a labelled population.
type Scorecard struct {
	Hosts     int `json:"hosts"`
	OSCorrect int `json:"os_correct"` // OS family right ("unknown" for hosts without one)
	// WithoutEvidence counts hosts whose truth has no catalog file, and
	// Misnamed those of them given an OS anyway.
	WithoutEvidence int `json:"without_catalog_files"`
	Misnamed        int `json:"without_catalog_files_given_os"`
	// Per family of the truth: hosts and right answers.
	ByOS map[string][2]int `json:"by_os"`

	UpdatesRight   int `json:"updates_right"`   // listed and fetched
	UpdatesWrong   int `json:"updates_wrong"`   // listed, not fetched
	UpdatesMissed  int `json:"updates_missed"`  // fetched, not listed
	UpdatesFetched int `json:"updates_fetched"` // in the truth

	// What `fingerflow missing` would answer: the (host, update) pairs the
	// inventory implies are missing (a host given an OS family, a
	// catalog entry of that family neither among its updates nor its
	// possible fetches), and of them those the host did fetch. Possible
	// counts the pairs left as possibly fetched, PossibleFetched those
	// the host did fetch.
	MissingPairs    int `json:"missing_pairs"`
	MissingWrong    int `json:"missing_wrong"`
	PossiblePairs   int `json:"possible_pairs"`
	PossibleFetched int `json:"possible_fetched"`
}

// MissingPrecision is the share of the implied missing pairs the host
// really did not fetch (1 when none are implied).
func (s *Scorecard) MissingPrecision() float64 {
	if s.MissingPairs == 0 {
		return 1
	}
	return 1 - ratio(s.MissingWrong, s.MissingPairs)
}

// OSAccuracy is the share of hosts whose OS family is right.
func (s *Scorecard) OSAccuracy() float64 { return ratio(s.OSCorrect, s.Hosts) }

// Precision is the share of listed updates the host fetched.
func (s *Scorecard) Precision() float64 {
	return ratio(s.UpdatesRight, s.UpdatesRight+s.UpdatesWrong)
}

// Recall is the share of fetched updates listed.
func (s *Scorecard) Recall() float64 { return ratio(s.UpdatesRight, s.UpdatesFetched) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Score compares verdicts with truth; cat gives each entry's family for
// the missing pairs. A host of the truth without a verdict counts as
// "unknown" with no updates; an OS of "none" or "" in the truth means the
// host should stay "unknown".
func Score(verdicts map[netip.Addr]Verdict, truth []labels.HostTruth, cat *catalog.Catalog) Scorecard {
	s := Scorecard{ByOS: map[string][2]int{}}
	for _, h := range truth {
		want := h.OS
		if want == "none" || want == "" {
			want = Unknown
		}
		v, ok := verdicts[h.Addr]
		if !ok {
			v = Verdict{OS: Unknown}
		}
		s.Hosts++
		c := s.ByOS[want]
		c[0]++
		if v.OS == want {
			s.OSCorrect++
			c[1]++
		}
		s.ByOS[want] = c
		if len(h.Files) == 0 {
			s.WithoutEvidence++
			if v.OS != Unknown {
				s.Misnamed++
			}
		}
		s.UpdatesFetched += len(h.Files)
		listed := map[string]bool{}
		for _, u := range v.Updates {
			listed[u.Entry] = true
			if slices.Contains(h.Files, u.Entry) {
				s.UpdatesRight++
			} else {
				s.UpdatesWrong++
			}
		}
		for _, f := range h.Files {
			if !listed[f] {
				s.UpdatesMissed++
			}
		}
		if v.OS == Unknown || v.OS == "" {
			continue
		}
		possible := map[string]bool{}
		for _, p := range v.Possible {
			possible[p.Entry] = true
		}
		for _, e := range cat.Files() {
			if familyOf(cat, e.Name) != v.OS || listed[e.Name] {
				continue
			}
			fetched := slices.Contains(h.Files, e.Name)
			if possible[e.Name] {
				s.PossiblePairs++
				if fetched {
					s.PossibleFetched++
				}
				continue
			}
			s.MissingPairs++
			if fetched {
				s.MissingWrong++
			}
		}
	}
	return s
}

package inventory

import (
	"cmp"
	"context"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/datasets/labels"
	"github.com/fingerflow/fingerflow/datasets/nfcapd"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/downloads"
)

// testCatalog has two families of two files each and one file without a
// family.
func testCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.New([]catalog.Entry{
		{Name: "deb-a", Size: 1000, OS: "debian", OSVersion: "12", Product: "a", Version: "1+deb12u1"},
		{Name: "deb-b", Size: 2000, OS: "debian", OSVersion: "12"},
		{Name: "win-a", Size: 3000, OS: "windows"},
		{Name: "win-b", Size: 4000, OS: "windows"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestInfer(t *testing.T) {
	cat := testCatalog(t)
	shares := Shares(cat)
	when := time.Date(2027, 1, 11, 12, 0, 0, 0, time.UTC)
	fetch := func(id int, chance float64, files ...string) Fetch {
		return Fetch{ID: id, Kind: KindDownload, Files: files, When: when, Chance: chance, Exact: chance < 1e-3}
	}
	ttl64 := Hint{Kind: KindTTL, OS: []string{"debian"}, Weight: 0.2, Text: "initial TTL 64"}
	for _, tc := range []struct {
		name    string
		fetches []Fetch
		hints   []Hint
		os      string
		updates []string
	}{
		{"no evidence", nil, nil, Unknown, nil},
		{"hints alone never name an OS", nil, []Hint{ttl64, {Kind: KindHint, OS: []string{"debian"}, Weight: 2}}, Unknown, nil},
		{"one chance fit is not evidence", []Fetch{fetch(1, 0.2, "deb-a")}, []Hint{ttl64}, Unknown, nil},
		{"one inexact fit is not enough however unlikely", []Fetch{fetch(1, 0.002, "deb-a")}, nil, Unknown, nil},
		{"many downloads bring chance fits", []Fetch{fetch(1, 0.1, "deb-a"), fetch(2, 0.1, "deb-b")}, nil, Unknown, nil},
		{"agreeing fits add up", []Fetch{fetch(1, 0.1, "deb-a"), fetch(2, 0.1, "deb-b")}, nil, "debian", []string{"deb-a", "deb-b"}},
		{"one download counts once", []Fetch{fetch(1, 0.1, "deb-a"), {ID: 1, Kind: KindOSSearch, Files: []string{"deb-b"}, When: when, Chance: 0.1}}, nil, Unknown, nil},
		{"an exact fit suffices", []Fetch{fetch(1, 1e-6, "win-a")}, nil, "windows", []string{"win-a"}},
		{"the other family's fits are dropped", []Fetch{fetch(1, 1e-6, "win-a"), fetch(2, 0.3, "deb-a")}, nil, "windows", []string{"win-a"}},
		{"too close to call", []Fetch{fetch(1, 1e-3, "win-a"), fetch(2, 1e-3, "deb-a")}, nil, Unknown, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trials := 0
			if strings.HasPrefix(tc.name, "many downloads") {
				trials = 1000
			}
			v := Infer(DefaultConfig(), cat, shares, HostEvidence{Fetches: tc.fetches, Hints: tc.hints, Trials: trials})
			if v.OS != tc.os {
				t.Errorf("OS %q (score %.2f), want %q", v.OS, v.Score, tc.os)
			}
			var got []string
			for _, u := range v.Updates {
				got = append(got, u.Entry)
			}
			if !slices.Equal(got, tc.updates) {
				t.Errorf("updates %v, want %v", got, tc.updates)
			}
			if len(v.Evidence) != len(tc.fetches)+len(tc.hints) {
				t.Errorf("%d evidence items, want one per fetch and hint", len(v.Evidence))
			}
			if v.OS == Unknown && v.Confidence != 0 {
				t.Errorf("confidence %.2f for an unknown OS", v.Confidence)
			}
		})
	}
}

// TestInferTTLClass: a TTL class rules families out; the class of 128
// names Windows with any Windows evidence or alone, at the confidence
// its weight carries; the class of 64 never decides between the Unix
// families it leaves, so a host without catalog files stays unknown.
// TestInferSameTwice: a file fetched twice, by downloads as strong, is an
// update at the earlier fetch's time, whatever order maps are walked in.
func TestInferSameTwice(t *testing.T) {
	cat := testCatalog(t)
	shares := Shares(cat)
	at := func(m int) time.Time { return time.Date(2027, 1, 11, 12, m, 0, 0, time.UTC) }
	var fetches []Fetch
	for id := 1; id <= 6; id++ {
		fetches = append(fetches, Fetch{ID: id, Kind: KindDownload, Files: []string{"deb-a"}, When: at(10 * id), Chance: 1e-6, Exact: true})
	}
	fetches = append(fetches, Fetch{ID: 7, Kind: KindDownload, Files: []string{"deb-b"}, When: at(5), Chance: 1e-6, Exact: true})
	for range 30 {
		v := Infer(DefaultConfig(), cat, shares, HostEvidence{Fetches: fetches})
		if len(v.Updates) != 2 || v.Updates[1].Entry != "deb-a" || !v.Updates[1].When.Equal(at(10)) {
			t.Fatalf("updates %+v, want deb-b, then deb-a at its first fetch (%s)", v.Updates, at(10))
		}
	}
}

func TestInferTTLClass(t *testing.T) {
	rs, err := LoadRules("")
	if err != nil {
		t.Fatal(err)
	}
	class := func(ttl uint8) Hint { return rs.TTLHints(map[uint8]uint64{ttl: 20})[0] }
	cat := testCatalog(t)
	shares := Shares(cat)
	when := time.Date(2027, 1, 11, 12, 0, 0, 0, time.UTC)
	fetch := func(id int, chance float64, files ...string) Fetch {
		return Fetch{ID: id, Kind: KindDownload, Files: files, When: when, Chance: chance, Exact: chance < 1e-3}
	}
	noWindows, err := catalog.New([]catalog.Entry{{Name: "deb-a", Size: 1000, OS: "debian"}, {Name: "sles-a", Size: 2000, OS: "sles"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		cat     *catalog.Catalog
		fetches []Fetch
		ttl     uint8
		os      string
		byTTL   bool
		conf    [2]float64
	}{
		{"128 alone names windows", cat, nil, 128, "windows", true, [2]float64{0.89, 0.91}},
		{"128 with a weak windows fit", cat, []Fetch{fetch(1, 0.3, "win-a")}, 128, "windows", true, [2]float64{0.95, 0.999}},
		{"128 rules weak debian evidence out", cat, []Fetch{fetch(1, 0.1, "deb-a"), fetch(2, 0.1, "deb-b")}, 128, "windows", true, [2]float64{0.89, 0.91}},
		{"decisive debian evidence outweighs 128", cat, []Fetch{fetch(1, 1e-6, "deb-a")}, 128, "debian", false, [2]float64{0.99, 0.9995}},
		{"64 rules windows out", cat, []Fetch{fetch(1, 0.1, "win-a"), fetch(2, 0.1, "win-b")}, 64, Unknown, false, [2]float64{0, 0}},
		{"decisive windows evidence outweighs 64", cat, []Fetch{fetch(1, 1e-6, "win-a")}, 64, "windows", false, [2]float64{0.99, 0.9995}},
		{"64 alone names nothing", cat, nil, 64, Unknown, false, [2]float64{0, 0}},
		{"64 with debian evidence", cat, []Fetch{fetch(1, 1e-6, "deb-a")}, 64, "debian", false, [2]float64{0.99, 1}},
		{"64 never decides between unix families", noWindows, nil, 64, Unknown, false, [2]float64{0, 0}},
		{"128 without windows in the catalog", noWindows, nil, 128, Unknown, false, [2]float64{0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Infer(DefaultConfig(), tc.cat, Shares(tc.cat), HostEvidence{Fetches: tc.fetches, Hints: []Hint{class(tc.ttl)}})
			_ = shares
			if v.OS != tc.os || v.ByTTL != tc.byTTL || v.Confidence < tc.conf[0] || v.Confidence > tc.conf[1] {
				t.Errorf("OS %q by TTL %v confidence %.4f, want %q %v in %v", v.OS, v.ByTTL, v.Confidence, tc.os, tc.byTTL, tc.conf)
			}
			ttlLines := 0
			for _, e := range v.Evidence {
				if e.Kind == KindTTL {
					ttlLines++
					if tc.byTTL && !strings.Contains(e.Text, "names") {
						t.Errorf("the TTL decided but its evidence does not say so: %q", e.Text)
					}
					if contra := strings.Contains(e.Text, "contradicts"); contra != ((tc.ttl == 64) == (tc.os == "windows")) && tc.os != Unknown {
						t.Errorf("TTL evidence %q: says it contradicts the verdict %v", e.Text, contra)
					}
				}
			}
			if ttlLines != 1 {
				t.Errorf("%d TTL evidence lines, want one", ttlLines)
			}
		})
	}
}

func TestInferVersionAndConfidence(t *testing.T) {
	cat := testCatalog(t)
	f := []Fetch{{ID: 1, Kind: KindDownload, Files: []string{"deb-a"}, Chance: 1e-5, Exact: true}}
	v := Infer(DefaultConfig(), cat, Shares(cat), HostEvidence{Fetches: f})
	if v.OS != "debian" || v.OSVersion != "12" {
		t.Fatalf("verdict %s %s, want debian 12", v.OS, v.OSVersion)
	}
	against := Infer(DefaultConfig(), cat, Shares(cat), HostEvidence{Fetches: f, Hints: []Hint{{Kind: KindTTL, OS: []string{"debian"}, Weight: -0.5}}})
	if against.OS != "debian" || against.Confidence >= v.Confidence {
		t.Errorf("a TTL against debian: %s at %.4f, want debian at less than %.4f", against.OS, against.Confidence, v.Confidence)
	}
	if u := v.Updates[0]; u.Product != "a" || u.Version != "1+deb12u1" {
		t.Errorf("update %+v: want product and version from the catalog", u)
	}
}

func TestInferCatalogWithoutOS(t *testing.T) {
	cat, err := catalog.New([]catalog.Entry{{Name: "x", Size: 10}, {Name: "y", Size: 20}})
	if err != nil {
		t.Fatal(err)
	}
	v := Infer(DefaultConfig(), cat, Shares(cat), HostEvidence{Fetches: []Fetch{{ID: 1, Files: []string{"x"}, Chance: 1e-6, Exact: true}}})
	if v.OS != Unknown || len(v.Updates) != 1 {
		t.Errorf("OS %q, %d updates: want unknown with the update listed", v.OS, len(v.Updates))
	}
}

func TestWeight(t *testing.T) {
	for _, tc := range []struct{ chance, share, want float64 }{
		{0.5, 1, 0}, {0.05, 1, 1}, {0.05, 0.1, 2}, {0, 1, 4}, {1e-9, 1, 4}, {2, 1, 0},
	} {
		if got := Weight(tc.chance, tc.share, 4); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("Weight(%g, %g) = %g, want %g", tc.chance, tc.share, got, tc.want)
		}
	}
}

// population is the shipped sample population run through the pipeline
// the nightly run uses, a night of its own for each test (Verdicts and
// hints change a night), with its first verdicts.
func population(t *testing.T) (*Night, map[netip.Addr]Verdict) {
	t.Helper()
	pd, err := popDownloads()
	if err != nil {
		t.Fatal(err)
	}
	n := NewNight(DefaultConfig(), pd.cl, pd.cat, netip.MustParsePrefix("10.0.0.0/8").Contains)
	for i := range pd.ds {
		n.Add(&pd.ds[i], pd.cl.Answer(&pd.ds[i]))
	}
	vs, err := n.Verdicts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n, vs
}

// popData are the shipped sample population's downloads, the classifier
// adapted to them and the catalog.
type popData struct {
	cl  *downloads.Classifier
	cat *catalog.Catalog
	ds  []features.Download
}

var popDownloads = sync.OnceValues(func() (*popData, error) {
	ctx := context.Background()
	dir := filepath.Join("..", "..", "datasets", "population")
	m, err := downloads.Load(ctx, filepath.Join("..", "..", "datasets", "lab-dev", "lab.ffm"))
	if err != nil {
		return nil, err
	}
	cat, err := catalog.Load(ctx, filepath.Join(dir, "pop-near-24h-s1007.catalog.csv"))
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "pop-near-24h-s1007.v9", "nfcapd.*"))
	if err != nil {
		return nil, err
	}
	ex := features.NewExtractor(features.DefaultConfig())
	var ds []features.Download
	for _, f := range files {
		for fl, err := range (&nfcapd.Reader{}).Flows(ctx, f) {
			if err != nil {
				return nil, err
			}
			ex.Add(&fl)
			ds = append(ds, ex.Drain()...)
		}
	}
	ds = append(ds, ex.Flush()...)
	ad := m.NewAdapter()
	for i := range ds {
		ad.Add(&ds[i])
	}
	offs, err := ad.Offsets(ctx)
	if err != nil {
		return nil, err
	}
	return &popData{m.Classifier(downloads.Options{Offsets: offs}), cat, ds}, nil
})

// TestPendingBounded: a host with more downloads of catalog size than a
// night keeps for the search keeps the largest, and the files the
// dropped ones could hold are still listed as possibly fetched (never
// counted as missing).
func TestPendingBounded(t *testing.T) {
	pd, err := popDownloads()
	if err != nil {
		t.Fatal(err)
	}
	cl := pd.cl
	// Unknown downloads of catalog size that could hold catalog files,
	// largest first.
	var unknown []features.Download
	for _, d := range pd.ds {
		if a := cl.Answer(&d); cl.InRange(&d) && a.Unknown() && len(cl.Possible(&d)) > 0 {
			unknown = append(unknown, d)
		}
	}
	slices.SortFunc(unknown, func(a, b features.Download) int { return cmp.Compare(b.Bytes, a.Bytes) })
	if len(unknown) < 3 || unknown[0].Bytes == unknown[len(unknown)-1].Bytes {
		t.Fatalf("%d unknown downloads of catalog size, want three of different sizes", len(unknown))
	}
	// The two smallest, fetched earlier: the smallest first.
	big := unknown[0]
	small := slices.Clone(unknown[len(unknown)-2:])
	small[0].Start = big.Start.Add(-time.Hour)
	small[1].Start = big.Start.Add(-2 * time.Hour)
	host := netip.MustParseAddr("10.200.0.1")
	n := NewNight(DefaultConfig(), cl, pd.cat, netip.MustParsePrefix("10.0.0.0/8").Contains)
	add := func(d features.Download) {
		d.Client = host
		n.Add(&d, cl.Answer(&d))
	}
	for _, d := range small {
		add(d)
	}
	for range maxPending {
		add(big)
	}
	h := n.hosts[host]
	if len(h.pending) != maxPending || h.dropped != len(small) {
		t.Fatalf("%d pending, %d dropped: want %d and %d", len(h.pending), h.dropped, maxPending, len(small))
	}
	for _, p := range h.pending {
		if p.d.Bytes != big.Bytes {
			t.Fatalf("a download of %d bytes kept, the smaller ones of %d and %d dropped instead", p.d.Bytes, small[0].Bytes, small[1].Bytes)
		}
	}
	// Every file one of the downloads could hold is listed, as of the
	// earliest download that could hold it.
	v := n.Verdict(host)
	listed := map[string]time.Time{}
	for _, p := range v.Possible {
		listed[p.Entry] = p.When
	}
	first := map[string]time.Time{}
	for _, d := range append(small, big) {
		for _, name := range cl.Possible(&d) {
			if t, ok := first[name]; !ok || d.Start.Before(t) {
				first[name] = d.Start
			}
		}
	}
	for name, at := range first {
		if got, ok := listed[name]; !ok || !got.Equal(at) {
			t.Errorf("%s: listed as possibly fetched %v at %v, want at %v", name, ok, got, at)
		}
	}
}

func TestPopulation(t *testing.T) {
	n, vs := population(t)
	truth, err := labels.LoadHosts(context.Background(), "../../datasets/population/pop-near-24h-s1007.hosts.csv")
	if err != nil {
		t.Fatal(err)
	}
	s := Score(vs, truth, n.cat)
	t.Logf("OS %d/%d, by family %v; updates precision %.3f recall %.3f; missing precision %.3f of %d pairs, %d possible (%d fetched); %+v",
		s.OSCorrect, s.Hosts, s.ByOS, s.Precision(), s.Recall(), s.MissingPrecision(), s.MissingPairs, s.PossiblePairs, s.PossibleFetched, n.Stats)
	if s.Misnamed != 0 {
		t.Errorf("%d of %d hosts without catalog files given an OS", s.Misnamed, s.WithoutEvidence)
	}
	// Measured on this population: every sles host right, five debian
	// hosts of six (the sixth fetched two files over lossy transfers, one
	// of them named as the other), one windows host (keep-alive
	// connections) of five; every listed update fetched; 66 of 90 listed.
	for fam, least := range map[string]int{"debian": 5, "sles": 7, Unknown: 6, "windows": 1} {
		if c := s.ByOS[fam]; c[1] < least {
			t.Errorf("%s: %d of %d hosts right, want at least %d", fam, c[1], c[0], least)
		}
	}
	if s.Precision() < 0.98 || s.Recall() < 0.7 {
		t.Errorf("updates precision %.3f recall %.3f, want at least 0.98 and 0.7", s.Precision(), s.Recall())
	}
	// The files a host may have fetched are never counted as missing:
	// of the pairs left missing, at least 99% the host did not fetch.
	if s.MissingPrecision() < 0.99 || s.PossibleFetched == 0 {
		t.Errorf("missing precision %.3f (%d of %d pairs fetched), %d possible pairs fetched: want 0.99 and the unresolved fetches among the possible",
			s.MissingPrecision(), s.MissingWrong, s.MissingPairs, s.PossibleFetched)
	}
	for a, v := range vs {
		if v.OS == Unknown {
			continue
		}
		if v.Confidence <= 0 || v.Confidence >= 1 || len(v.Evidence) == 0 {
			t.Errorf("%s: %s with confidence %.3f and %d evidence items", a, v.OS, v.Confidence, len(v.Evidence))
		}
		for _, e := range v.Evidence {
			if e.Text == "" || strings.Contains(e.Text, "%!") {
				t.Errorf("%s: evidence text %q", a, e.Text)
			}
		}
	}
}

// TestVerdictSearchesHintedFamily: a host that only a TTL class names
// (here Windows) has its downloads searched among that family's files,
// once, as Verdicts searches the family catalog evidence leans to.
func TestVerdictSearchesHintedFamily(t *testing.T) {
	n, vs := population(t)
	tried := 0
	for _, a := range n.Hosts() {
		h := n.hosts[a]
		if vs[a].OS != Unknown || len(h.pending) == 0 || h.searched == "windows" {
			continue
		}
		tried++
		n.AddHint(a, Hint{Kind: KindTTL, OS: []string{"windows"}, Weight: 1, Text: "initial TTL 128", Class: true})
		before := n.Stats.OSSearched
		if v := n.Verdict(a); v.OS != "windows" || !v.ByTTL {
			t.Errorf("%s: %s (by TTL %v), want windows by its TTL", a, v.OS, v.ByTTL)
		}
		if got := n.Stats.OSSearched - before; got != len(h.pending) {
			t.Errorf("%s: %d of its %d downloads searched among the windows files", a, got, len(h.pending))
		}
		before = n.Stats.OSSearched
		n.Verdict(a)
		if n.Stats.OSSearched != before {
			t.Errorf("%s: searched again on a second verdict", a)
		}
	}
	if tried == 0 {
		t.Fatal("no unidentified host with downloads to search")
	}
}

// TestChanceLevelExplainsNothing: a download named at a chance that is
// not negligible may hold other files (a keep-alive connection read as
// one file): the other files of the host's family it could hold stay
// possibly fetched, never missing, even when the named file is listed as
// an update.
func TestChanceLevelExplainsNothing(t *testing.T) {
	n, vs := population(t)
	checked := 0
	for a, v := range vs {
		if v.OS == Unknown {
			continue
		}
		updates, possible := map[string]bool{}, map[string]bool{}
		for _, u := range v.Updates {
			updates[u.Entry] = true
		}
		for _, p := range v.Possible {
			possible[p.Entry] = true
		}
		h := n.hosts[a]
		for _, f := range h.fetches {
			if downloads.Negligible(f.Chance) || !allIn(f.Files, updates) {
				continue
			}
			for k := range h.pending {
				if h.pending[k].id != f.ID {
					continue
				}
				for _, name := range n.possibleOf(&h.pending[k]) {
					if updates[name] || n.families[name] != v.OS {
						continue
					}
					checked++
					if !possible[name] {
						t.Errorf("%s: %s, which the download named %v at chance %.3g could hold, is neither an update nor possibly fetched", a, name, f.Files, f.Chance)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no chance-level update whose download could hold other files of its family")
	}
}

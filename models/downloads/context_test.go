package downloads

import (
	"context"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/features"
)

// shippedModel is datasets/lab-dev/lab.ffm, which the nightly run uses on
// the shipped population.
func shippedModel(t *testing.T) *Model {
	t.Helper()
	m, err := Load(context.Background(), filepath.Join(labDir, "lab-dev", "lab.ffm"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRequestsLoss(t *testing.T) {
	exs := loadRun(t, "lab-extra", "dev-keepalive")
	cl := shippedModel(t).Classifier(Options{})
	right, free := 0, 0
	for _, ex := range exs {
		n, loss := cl.Requests(&ex.Download)
		if loss == LossFree {
			free++
			if n == len(ex.Files) {
				right++
			} else {
				o := cl.observe(0, &ex.Download)
				t.Logf("%v: counted %d requests, rev %.0f, reqlen %.1f", ex.Files, n, o.revBytes, cl.Profiles[0].ReqLen)
			}
		}
	}
	// A loss-free connection's requests are counted exactly; a lossy one
	// whose SACK options happen to add up to whole requests looks
	// loss-free with too many (measured: 4 of 40).
	if free < 20 || right*10 < free*9 {
		t.Errorf("%d of %d loss-free connections counted right, want 90%% of at least 20", right, free)
	}
}

// TestConnectionWithUnknowns: keep-alive connections that also carried
// files outside the catalog are explained once those files' responses are
// known from loss-free single downloads of the same run.
func TestConnectionWithUnknowns(t *testing.T) {
	exs := loadRun(t, "lab-extra", "dev-keepalive")
	singles := loadRun(t, "lab-dev", "test-near") // the background files downloaded whole
	cl := shippedModel(t).Classifier(Options{})
	u := cl.NewUnknowns()
	for _, ex := range append(slices.Clone(singles), exs...) {
		u.Add(&ex.Download, cl.Classify(&ex.Download))
	}
	if u.Len() < 10 {
		t.Fatalf("%d unknown responses learned, want the background files test-near fetched whole", u.Len())
	}
	found, wrong, mixed := 0, 0, 0
	for _, ex := range exs {
		if len(ex.Files) < 2 {
			continue
		}
		fit, ok := cl.Connection(&ex.Download, u)
		if !ok {
			continue
		}
		for _, f := range fit.Files {
			if slices.Contains(ex.Files, f) {
				found++
			} else {
				wrong++
				t.Errorf("%v: named %s (chance %.3g)", ex.Files, f, fit.Chance)
			}
		}
		if fit.Others > 0 {
			mixed++
		}
	}
	t.Logf("%d catalog files found, %d wrong, %d connections with files outside the catalog", found, wrong, mixed)
	if found < 40 || mixed == 0 {
		t.Errorf("%d files found in %d mixed connections, want at least 40 and some mixed", found, mixed)
	}
}

func TestRestrict(t *testing.T) {
	cl := shippedModel(t).Classifier(Options{})
	even, ok := cl.Restrict(func(e *catalog.Entry) bool { return strings.HasSuffix(e.Name, "0.bin") })
	if !ok || len(even.Catalog.Entries) != 5 {
		t.Fatalf("restricted to %d entries, want 5", len(even.Catalog.Entries))
	}
	if _, ok := cl.Restrict(func(*catalog.Entry) bool { return false }); ok {
		t.Error("an empty restriction gave a classifier")
	}
	for _, ex := range loadRun(t, "lab-dev", "test-near") {
		r := even.Classify(&ex.Download)
		for _, f := range r.Files {
			if !strings.HasSuffix(f, "0.bin") {
				t.Fatalf("restricted classifier named %s", f)
			}
		}
	}
	if len(cl.Catalog.Entries) != 50 {
		t.Error("restricting changed the original classifier's catalog")
	}
}

// TestChance: an exact fit of a loss-free download is rarely a chance fit;
// a lossy download's fit often is.
func TestChance(t *testing.T) {
	cl := shippedModel(t).Classifier(Options{})
	var free, lossy []float64
	for _, ex := range loadRun(t, "lab-dev", "test-near") {
		if len(ex.Files) != 1 || !ex.Known {
			continue
		}
		r := cl.Classify(&ex.Download)
		if r.Unknown() {
			continue
		}
		q := cl.Chance(&ex.Download)
		if q <= 0 || q > 1 {
			t.Fatalf("chance %g outside (0, 1]", q)
		}
		if _, loss := cl.Requests(&ex.Download); loss == LossFree && r.Extra == 0 {
			free = append(free, q)
		} else {
			lossy = append(lossy, q)
		}
	}
	slices.Sort(free)
	slices.Sort(lossy)
	if len(free) < 20 || len(lossy) < 20 {
		t.Fatalf("%d exact and %d lossy answers, want at least 20 of each", len(free), len(lossy))
	}
	if mf, ml := free[len(free)/2], lossy[len(lossy)/2]; mf > 1e-3 || ml < 10*mf {
		t.Errorf("median chance %.3g exact, %.3g lossy: want exact below 1e-3 and lossy ten times higher", mf, ml)
	}
}

// TestConnectionReordered: a keep-alive connection of three catalog files
// that lost nothing (Argus counted no loss) but whose client sent SACK
// options for packets reordered on the way, 116 bytes of them: its
// reverse payload reads as four requests with a few losses. Counters of
// a 1-hop lab run (softflowd → NetFlow v9). The three-request reading
// fits the files exactly, and the answer is that one.
func TestConnectionReordered(t *testing.T) {
	cl := shippedModel(t).Classifier(Options{})
	d := features.Download{
		Server: netip.MustParseAddr("10.77.0.1"), ServerPort: 80, Client: netip.MustParseAddr("10.77.1.57"), ClientPort: 60256,
		Packets: 26139, Bytes: 38824067, HasReverse: true, RevPackets: 2560, RevBytes: 133488, Sampling: 1,
	}
	if n, loss := cl.Requests(&d); n != 4 || loss != LossFew {
		t.Fatalf("reverse direction read as %d requests, %s: want 4, few losses", n, loss)
	}
	fit, ok := cl.Connection(&d, cl.NewUnknowns())
	want := []string{"cat-005.bin", "cat-009.bin", "cat-016.bin"}
	if !ok || !slices.Equal(fit.Files, want) || fit.Requests != 3 || fit.Loss != LossFree {
		t.Fatalf("answer %v (%v, %d requests, %s, chance %.3g), want %v over 3 loss-free requests", fit.Files, ok, fit.Requests, fit.Loss, fit.Chance, want)
	}
	// 700 bytes more, not a sum of the catalog's responses nor of whole
	// resent segments: no answer.
	d.Bytes += 700
	if fit, ok := cl.Connection(&d, cl.NewUnknowns()); ok {
		t.Errorf("%d bytes more: answered %v (%d requests, %s, chance %.3g)", 700, fit.Files, fit.Requests, fit.Loss, fit.Chance)
	}
}

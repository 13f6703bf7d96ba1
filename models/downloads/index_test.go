package downloads

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/datasets/labels"
	"github.com/fingerflow/fingerflow/datasets/nfcapd"
	"github.com/fingerflow/fingerflow/features"
)

// TestIndexFit: on the shipped real-apt run every debian host's apt-get
// update connection (InRelease and Release.gpg answered 404, Release and
// Packages.xz fetched) fits the mirror's index as Packages.xz and the
// Release with the small responses, and no other download of the night
// fits it, shifted or not.
func TestIndexFit(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join("..", "..", "datasets", "population")
	m, err := Load(ctx, filepath.Join(dir, "apt-near.ffm"))
	if err != nil {
		t.Fatal(err)
	}
	rel, err := catalog.Load(ctx, filepath.Join(dir, "apt-near-18h-s2302.Release"))
	if err != nil {
		t.Fatal(err)
	}
	truth, err := labels.LoadHosts(ctx, filepath.Join(dir, "apt-near-18h-s2302.hosts.csv"))
	if err != nil {
		t.Fatal(err)
	}
	debian := map[string]bool{}
	for _, h := range truth {
		if h.OS == "debian" {
			debian[h.Addr.String()] = true
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "apt-near-18h-s2302.v9", "nfcapd.*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("flow files %v: %v", files, err)
	}
	ex := features.NewExtractor(features.DefaultConfig())
	var ds []features.Download
	for _, f := range files {
		for fl, err := range (&nfcapd.Reader{}).Flows(ctx, f) {
			if err != nil {
				t.Fatal(err)
			}
			ex.Add(&fl)
			ds = append(ds, ex.Drain()...)
		}
	}
	ds = append(ds, ex.Flush()...)
	idx := m.Classifier(Options{}).NewIndex(rel.Entries)
	fitted := map[string]bool{}
	for i := range ds {
		d := &ds[i]
		fit, ok := idx.Fit(d, 1)
		if !ok {
			for _, s := range []float64{0.5, 0.8, 1.25, 2} {
				if _, ok := idx.Fit(d, s); ok {
					t.Errorf("%s:%d (%d bytes) fits the index shifted by %g", d.Client, d.ClientPort, d.Bytes, s)
				}
			}
			continue
		}
		fitted[d.Client.String()] = true
		if !debian[d.Client.String()] {
			t.Errorf("%s (not debian) fits the index: %+v", d.Client, fit)
		}
		// Two 404s (InRelease, Release.gpg); a resent segment can fit
		// as one small response of its own size instead.
		if want := []string{"Packages.xz", "apt-near-18h-s2302.Release"}; !slices.Equal(fit.Files, want) || fit.Small < 1 || fit.Small > 2 {
			t.Errorf("%s: fit %+v, want %v and the small responses", d.Client, fit, want)
		}
	}
	if len(fitted) != len(debian) {
		t.Errorf("%d of the %d debian hosts fetched the index", len(fitted), len(debian))
	}
}

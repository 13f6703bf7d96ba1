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
// aptNight is the shipped real-apt run: its model, its mirror's Release,
// its truth and its downloads.
func aptNight(t *testing.T) (*Model, *catalog.Catalog, map[string]bool, []features.Download) {
	t.Helper()
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
	return m, rel, debian, ds
}

func TestIndexFit(t *testing.T) {
	m, rel, debian, ds := aptNight(t)
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

// TestIndexFitServerOffset: a mirror whose responses carry more or fewer
// header bytes than the lab's (another server, other headers) has the
// offset adaptation learns added to every response of an index fetch,
// the small ones too: the same fits as at the lab's mirror.
func TestIndexFitServerOffset(t *testing.T) {
	m, rel, _, ds := aptNight(t)
	plain := m.Classifier(Options{}).NewIndex(rel.Entries)
	for _, off := range []int64{-200, 300, 1500} {
		n := 0
		for i := range ds {
			d := ds[i]
			want, ok := plain.Fit(&d, 1)
			if !ok {
				continue
			}
			n++
			k := ServerKey{d.Server, d.ServerPort}
			shifted := m.Classifier(Options{Offsets: []ServerOffset{{Server: k, Offset: off}}}).NewIndex(rel.Entries)
			d.Bytes = uint64(int64(d.Bytes) + off*int64(len(want.Files)+want.Small))
			got, ok := shifted.Fit(&d, 1)
			if !ok || !slices.Equal(got.Files, want.Files) || got.Small != want.Small {
				t.Errorf("%s:%d with %d header bytes more per response: fit %+v (%v), want %+v", d.Client, d.ClientPort, off, got, ok, want)
			}
		}
		if n == 0 {
			t.Fatal("no download of the run fits the index")
		}
	}
}

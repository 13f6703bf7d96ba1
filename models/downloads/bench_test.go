package downloads_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/datasets/nfcsv"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/downloads"
)

// debianCatalog is the Debian 12 security archive's package index (3,016
// files), shipped in datasets/catalogs.
var debianCatalog = filepath.Join("..", "..", "datasets", "catalogs", "debian-bookworm-security-amd64.Packages.gz")

func loadDebian(b testing.TB) *catalog.Catalog {
	b.Helper()
	c, err := catalog.Load(context.Background(), debianCatalog)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkTrainDebian trains on the Debian catalog the way `fingerflow
// train --calibrate` does: overhead calibrated from train-near's 1,250 lab
// downloads, and synthetic downloads of every catalog file, about 100,000
// in all, for the verifier.
func BenchmarkTrainDebian(b *testing.B) {
	cat := loadDebian(b)
	calib := labExamples(b, "train-near")
	opts := downloads.DefaultTrainOptions()
	opts.Synthesize = int(math.Ceil(100_000 / float64(len(cat.Entries))))
	b.ReportAllocs()
	var examples, rows int
	for b.Loop() {
		m, err := downloads.Train(context.Background(), calib, cat, opts)
		if err != nil {
			b.Fatal(err)
		}
		examples += m.Summary.Examples + m.Summary.Synthetic
		rows = m.Summary.Rows
	}
	s := b.Elapsed().Seconds()
	b.ReportMetric(s/float64(b.N), "s/train")
	b.ReportMetric(float64(examples)/s, "examples/s")
	b.ReportMetric(float64(examples/b.N), "examples")
	b.ReportMetric(float64(rows), "rows")
}

// BenchmarkClassify measures Model.Classify on test-near's 300 downloads
// (250 catalog files, 50 files outside the catalog, which also go through
// the multi-file search).
func BenchmarkClassify(b *testing.B) {
	m, _ := shared(b)
	test := labExamples(b, "test-near")
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i := range test {
			if r := m.Classify(&test[i].Download); !r.Unknown() {
				n++
			}
		}
	}
	if n == 0 {
		b.Fatal("no download named")
	}
	b.ReportMetric(float64(len(test)*b.N)/b.Elapsed().Seconds(), "downloads/s")
}

// BenchmarkAdapt measures server adaptation: test-near's 300 downloads
// added to an adapter and every server's offset decided.
func BenchmarkAdapt(b *testing.B) {
	m, _ := shared(b)
	test := labExamples(b, "test-near")
	b.ReportAllocs()
	for b.Loop() {
		a := m.NewAdapter()
		for i := range test {
			a.Add(&test[i].Download)
		}
		if offs, err := a.Offsets(context.Background()); err != nil || len(offs) != 1 || offs[0].Offset != 0 {
			b.Fatalf("offsets %+v, want the lab server at 0", offs)
		}
	}
	b.ReportMetric(float64(len(test)*b.N)/b.Elapsed().Seconds(), "downloads/s")
}

// TestDebianOpenSet: with Debian's 3,016 packages as the catalog (dense:
// 4.5 million pairs of packages), downloads of the lab's files, none of
// which is a Debian package, must come out unknown, single downloads and
// keep-alive connections alike: no chance sum of packages may be passed
// off as a multi-file answer.
func TestDebianOpenSet(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	opts := downloads.DefaultTrainOptions()
	opts.Synthesize = 3
	m, err := downloads.Train(context.Background(), labExamples(t, "train-near"), loadDebian(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range []string{"test-near", "../lab-extra/dev-keepalive", "../lab-extra/dev-far"} {
		ex := runDownloads(t, run)
		named, multi := 0, 0
		for i := range ex {
			if r := m.Classify(&ex[i]); !r.Unknown() {
				named++
				if len(r.Files) > 1 {
					multi++
				}
			}
		}
		t.Logf("%s: %d of %d downloads named (%d multi-file)", run, named, len(ex), multi)
		if multi > 0 || named > len(ex)/25 {
			t.Errorf("%s: %d of %d downloads named as Debian packages (%d as several), want none as several and at most 4%%", run, named, len(ex), multi)
		}
	}
}

// runDownloads reads the downloads of a lab run's nfdump CSV (the path
// relative to datasets/lab-dev, without .nfdump.csv), labelled or not.
func runDownloads(t testing.TB, run string) []features.Download {
	t.Helper()
	ctx := context.Background()
	var ds []features.Download
	for d, err := range features.Downloads(ctx, features.DefaultConfig(), (&nfcsv.Reader{}).Flows(ctx, filepath.Join(labDev, run+".nfdump.csv"))) {
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	if len(ds) == 0 {
		t.Fatalf("%s: no downloads", run)
	}
	return ds
}

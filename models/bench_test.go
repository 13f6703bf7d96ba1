package models_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/fingerflow/fingerflow/models"
	"github.com/fingerflow/fingerflow/models/catalog"
)

// debianCatalog is the Debian 12 security archive's package index (3,016
// files), shipped in datasets/catalogs.
var debianCatalog = filepath.Join("..", "datasets", "catalogs", "debian-bookworm-security-amd64.Packages.gz")

func loadDebian(b *testing.B) *catalog.Catalog {
	b.Helper()
	c, err := catalog.Load(debianCatalog)
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
	opts := models.DefaultTrainOptions()
	opts.Synthesize = int(math.Ceil(100_000 / float64(len(cat.Entries))))
	b.ReportAllocs()
	var examples, rows int
	for b.Loop() {
		m, err := models.Train(context.Background(), calib, cat, opts)
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
	b.ReportMetric(float64(len(test)*b.N)/b.Elapsed().Seconds(), "flows/s")
}

// Package flowfiles finds and reads the shipped lab flow files for the
// models' tests and benchmarks: every flow of a directory's nfcapd files
// in file order (failing the test on any read error), and the lab runs'
// nfdump CSV exports.
package flowfiles

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/flowbench"
	"github.com/fingerflow/fingerflow/datasets/nfcapd"
)

// Each calls fn for every flow of the nfcapd files under dir (a file or a
// directory), in file order.
func Each(tb testing.TB, dir string, fn func(*datasets.Flow)) {
	tb.Helper()
	files, err := datasets.Expand(context.Background(), []string{dir})
	if err != nil {
		tb.Fatal(err)
	}
	var r nfcapd.Reader
	for _, f := range files {
		for fl, err := range r.Flows(context.Background(), f) {
			if err != nil {
				tb.Fatal(err)
			}
			fn(&fl)
		}
	}
}

// Read returns every flow of the nfcapd files under dir, in file order.
func Read(tb testing.TB, dir string) []datasets.Flow {
	tb.Helper()
	var flows []datasets.Flow
	Each(tb, dir, func(f *datasets.Flow) { flows = append(flows, *f) })
	return flows
}

// BenchDir is the flow files a model's benchmark runs over: the nfcapd
// files under $FINGERFLOW_BENCH_DIR (a day of them, for example), or else
// the lab's attack run, as seen from a package directory under models/.
func BenchDir() string {
	return flowbench.Dir(filepath.Join("..", "..", "datasets", "lab-attack", "lab-attack.v9"))
}

// LabCSVs are the lab runs' `nfdump -o csv` exports shipped under
// datasets/lab-dev and datasets/lab-extra, sorted, as seen from a package
// directory under models/; the test is skipped when there are none.
func LabCSVs(tb testing.TB) []string {
	tb.Helper()
	var files []string
	for _, dir := range []string{"lab-dev", "lab-extra"} {
		m, err := filepath.Glob(filepath.Join("..", "..", "datasets", dir, "*.nfdump.csv"))
		if err != nil {
			tb.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		tb.Skip("no lab flow records under ../../datasets")
	}
	slices.Sort(files)
	return files
}

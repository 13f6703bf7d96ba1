package flowbench_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/flowbench"
	"github.com/fingerflow/fingerflow/datasets/nfcapd"
)

// TestFlows: the flows held give back the reader's flows, in order, in
// batches of BatchSize (the last one shorter), however they are handed
// over.
func TestFlows(t *testing.T) {
	for _, run := range []string{"lab-attack/lab-attack.v9", "lab-extra/dev-ipv6.v9"} {
		t.Run(run, func(t *testing.T) {
			dir := filepath.Join("..", filepath.FromSlash(run))
			files, err := datasets.Expand(context.Background(), []string{dir})
			if err != nil {
				t.Fatal(err)
			}
			var want []datasets.Flow
			var r nfcapd.Reader
			for _, f := range files {
				for fl, err := range r.Flows(context.Background(), f) {
					if err != nil {
						t.Fatal(err)
					}
					want = append(want, fl)
				}
			}
			fs := flowbench.Load(t, dir)
			if fs.Len() != len(want) {
				t.Fatalf("%d flows held, want %d", fs.Len(), len(want))
			}
			var got, owned []datasets.Flow
			var sizes []int
			fs.Batches(func(b []datasets.Flow) {
				got = append(got, b...)
				sizes = append(sizes, len(b))
			})
			fs.BatchesInto(func() []datasets.Flow { return make([]datasets.Flow, 0, flowbench.BatchSize) },
				func(b []datasets.Flow) { owned = append(owned, b...) })
			eq := cmpopts.EquateComparable(netip.Addr{})
			if d := cmp.Diff(want, got, eq); d != "" {
				t.Errorf("Batches (-reader +held):\n%s", d)
			}
			if d := cmp.Diff(want, owned, eq); d != "" {
				t.Errorf("BatchesInto (-reader +held):\n%s", d)
			}
			for i, n := range sizes {
				if n != flowbench.BatchSize && i != len(sizes)-1 || n == 0 {
					t.Errorf("batch %d of %d: %d flows", i, len(sizes), n)
				}
			}
		})
	}
}

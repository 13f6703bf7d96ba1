package features

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/nfcsv"
)

// TestTwoExporters feeds test-near's records as two routers on the path
// would export them: every record twice, from two exporter addresses. Each
// exporter's view must give the 300 downloads with their own byte counts,
// never the sum of both.
func TestTwoExporters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join("..", "datasets", "lab-dev", "test-near.nfdump.csv")
	var flows []datasets.Flow
	for f, err := range (&nfcsv.Reader{}).Flows(ctx, path) {
		if err != nil {
			t.Fatal(err)
		}
		flows = append(flows, f)
	}
	single := map[uint16]uint64{}
	ex := NewExtractor(DefaultConfig())
	for i := range flows {
		ex.Add(&flows[i])
	}
	for _, d := range ex.Flush() {
		single[d.ClientPort] = d.Bytes
	}
	if len(single) != 300 {
		t.Fatalf("one exporter: %d downloads, want 300", len(single))
	}

	second := netip.MustParseAddr("192.0.2.7")
	ex = NewExtractor(DefaultConfig())
	for i := range flows {
		a, b := flows[i], flows[i]
		b.Exporter = second
		ex.Add(&a)
		ex.Add(&b)
	}
	perExporter := map[netip.Addr]int{}
	for _, d := range ex.Flush() {
		perExporter[d.Exporter]++
		if d.Bytes != single[d.ClientPort] {
			t.Fatalf("exporter %v, client port %d: %d bytes, one exporter saw %d", d.Exporter, d.ClientPort, d.Bytes, single[d.ClientPort])
		}
	}
	if len(perExporter) != 2 || perExporter[second] != 300 {
		t.Errorf("downloads per exporter %v, want 300 from each of two", perExporter)
	}
}

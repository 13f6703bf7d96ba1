package features

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/fingerflow/fingerflow/datasets/nfcsv"
)

// TestFrameLab builds the table of test-near's downloads and checks it
// against the lab's numbers: 300 downloads from the server's port 80, and
// the payload column is bytes less 52 bytes a packet.
func TestFrameLab(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join("..", "datasets", "lab-dev", "test-near.nfdump.csv")
	var ds []Download
	for d, err := range Downloads(ctx, DefaultConfig(), (&nfcsv.Reader{}).Flows(ctx, path)) {
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	df, err := Frame(ds, 52, func(i int) []string { return []string{"x"} })
	if err != nil {
		t.Fatal(err)
	}
	if r, c := df.Dims(); r != 300 || c != len(FrameColumns)+1 {
		t.Fatalf("frame is %d×%d, want 300×%d", r, c, len(FrameColumns)+1)
	}
	var sumBytes, sumPay, sumPk float64
	for i := range 300 {
		sumBytes += df.Col("bytes").Elem(i).Float()
		sumPay += df.Col("payload").Elem(i).Float()
		sumPk += df.Col("packets").Elem(i).Float()
		if p := df.Col("server_port").Elem(i).Float(); p != 80 {
			t.Fatalf("row %d: server port %v, want 80", i, p)
		}
	}
	if sumBytes-52*sumPk != sumPay {
		t.Errorf("payload column sums to %.0f, want bytes − 52 × packets = %.0f", sumPay, sumBytes-52*sumPk)
	}
	// The server sent 7,839,631,437 bytes in both directions together
	// (nfdump -I); the downloads' server→client share is most of it.
	if sumBytes < 7.5e9 || sumBytes > 7.84e9 {
		t.Errorf("server→client bytes %.0f, want most of nfdump's 7839631437", sumBytes)
	}
	mean := df.Col("mean_payload").Mean()
	if mean < 1400 || mean > 1448 {
		t.Errorf("mean payload per packet %.1f, want just under the 1448-byte MSS", mean)
	}
}

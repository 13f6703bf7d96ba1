package flowio

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Metadata set after the rows, before Close, is in the footer; the flows
// read back unchanged.
func TestParquetMetadata(t *testing.T) {
	var buf bytes.Buffer
	w := NewParquetWriter(&buf)
	flows := sampleFlows()
	for i := range flows {
		if err := w.Write(&flows[i]); err != nil {
			t.Fatal(err)
		}
	}
	w.SetMetadata("example.key", "first")
	w.SetMetadata("example.key", `{"counted": 3}`)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "meta.parquet")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	md, err := ParquetMetadata(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"example.key": `{"counted": 3}`, "fingerflow.schema": parquetVersion}
	if diff := cmp.Diff(want, md); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	got, err := readAll(t, ParquetReader{}, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(flows) {
		t.Errorf("%d flows read back, want %d", len(got), len(flows))
	}
	if _, err := ParquetMetadata(context.Background(), filepath.Join("testdata", "sample.csv")); err == nil {
		t.Error("no error for a CSV file")
	}
}

package reports

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/parquet-go/parquet-go"

	"github.com/fingerflow/fingerflow/datasets/catalog"
)

// TestSummaryParquetCSV: the summary reads a Parquet downloads file by
// its columns and fetches only the rows it keeps; of the same downloads
// written as CSV it reads whole rows. Both give the same summary (CSV
// keeps three decimals of the confidence).
func TestSummaryParquetCSV(t *testing.T) {
	dir := filepath.Join("testdata", "night")
	cat, err := catalog.Load(context.Background(), filepath.Join(dir, CatalogFile))
	if err != nil {
		t.Fatal(err)
	}
	pq := filepath.Join(dir, "downloads.parquet")
	fh, err := os.Open(pq)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	r := parquet.NewGenericReader[DownloadRow](fh, downloadSchema)
	csvPath := filepath.Join(t.TempDir(), "downloads.csv")
	out, err := os.Create(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewDownloadWriter(out, FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]DownloadRow, 100)
	rows := 0
	for {
		n, err := r.Read(buf)
		for i := range buf[:n] {
			if err := w.Write(&buf[i]); err != nil {
				t.Fatal(err)
			}
		}
		rows += n
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	fromParquet, err := summariseDownloads(context.Background(), pq, cat.Entries)
	if err != nil {
		t.Fatal(err)
	}
	fromCSV, err := summariseDownloads(context.Background(), csvPath, cat.Entries)
	if err != nil {
		t.Fatal(err)
	}
	if fromParquet.Total != rows || fromParquet.Named == 0 || fromParquet.Unknown == 0 || len(fromParquet.Closest) == 0 {
		t.Fatalf("summary of %d rows: %d, %d named, %d unknown, %d closest: want every row, some of each",
			rows, fromParquet.Total, fromParquet.Named, fromParquet.Unknown, len(fromParquet.Closest))
	}
	if diff := cmp.Diff(fromCSV, fromParquet, cmpopts.IgnoreFields(DownloadRow{}, "Confidence")); diff != "" {
		t.Errorf("Parquet summary (-CSV +Parquet):\n%s", diff)
	}
}

// BenchmarkLoadNight reads a run's output directory for the morning
// report: reports/testdata/night, or the directory
// $FINGERFLOW_BENCH_NIGHT names (a run of the synthetic day, for example).
func BenchmarkLoadNight(b *testing.B) {
	dir := os.Getenv("FINGERFLOW_BENCH_NIGHT")
	if dir == "" {
		dir = filepath.Join("testdata", "night")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadNight(context.Background(), dir); err != nil {
			b.Fatal(err)
		}
	}
}

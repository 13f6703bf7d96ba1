package nightdir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestDownloadsCSV: rows written are read back as they were, and a
// damaged cell of any type is an error naming its line and column.
func TestDownloadsCSV(t *testing.T) {
	start := time.Date(2027, 1, 20, 10, 59, 3, 5e8, time.UTC)
	row := DownloadRow{Start: start, End: start.Add(2 * time.Second), Client: "10.77.1.10", ClientPort: 40000, Server: "10.77.0.1", ServerPort: 80,
		Packets: 700, Bytes: 36000, RevPackets: 900, RevBytes: 1048576, Files: "cat-001.bin", NumFiles: 1, Confidence: 0.999,
		Profile: "http", Chance: 1e-6, Status: "named"}
	var b strings.Builder
	b.WriteString(strings.Join(downloadColumns[:], ",") + "\n")
	b.WriteString(strings.Join(row.record(), ",") + "\n")
	var got []DownloadRow
	if err := eachDownloadCSV(context.Background(), strings.NewReader(b.String()), func(r *DownloadRow) { got = append(got, *r) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != row {
		t.Fatalf("read back %+v, want %+v", got, row)
	}
	for _, c := range []string{"start", "end", "bytes", "confidence", "chance"} {
		rec := row.record()
		for i, name := range downloadColumns {
			if name == c {
				rec[i] = "x"
			}
		}
		text := strings.Join(downloadColumns[:], ",") + "\n" + strings.Join(rec, ",") + "\n"
		err := eachDownloadCSV(context.Background(), strings.NewReader(text), func(*DownloadRow) {})
		if err == nil || !strings.Contains(err.Error(), "line 2: "+c) {
			t.Errorf("damaged %s: %v, want an error naming line 2 and the column", c, err)
		}
	}
}

// TestStoredAndDownloadsAt: a row as Stored makes it for a format is the
// row reading the file back gives (times to the microsecond in Parquet,
// numbers as formatted in CSV), and DownloadsAt reads the rows asked for.
func TestStoredAndDownloadsAt(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2027, 1, 20, 10, 59, 3, 123456789, time.UTC)
	var rows []DownloadRow
	for i := range 5000 {
		rows = append(rows, DownloadRow{
			Start: start.Add(time.Duration(i) * 1234567 * time.Nanosecond), End: start.Add(time.Duration(i)*time.Second + 987654321),
			Client: fmt.Sprintf("10.0.%d.%d", i/250, i%250), ClientPort: int32(30000 + i), Server: "192.0.2.1", ServerPort: 80,
			Packets: int64(1000 + i), Bytes: int64(1448*1000 + 7*i), RevPackets: int64(500 + i), RevBytes: int64(26000 + i),
			Files: "unknown", Confidence: 1 / float64(3+i), Profile: "http", Extra: int64(i % 3), Chance: 1 / float64(7+i), Status: "unknown",
		})
	}
	for _, format := range []string{FormatParquet, FormatCSV} {
		path := filepath.Join(t.TempDir(), "downloads."+format)
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w, err := NewDownloadWriter(f, format)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			if err := w.Write(&rows[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		i, changed := 0, 0
		if err := EachDownload(ctx, path, func(r *DownloadRow) {
			want, err := rows[i].Stored(format)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*r, want) {
				t.Fatalf("%s row %d read back as %+v, Stored gives %+v", format, i, *r, want)
			}
			if !r.Start.Equal(rows[i].Start) {
				changed++
			}
			i++
		}); err != nil {
			t.Fatal(err)
		}
		if format == FormatParquet && changed == 0 {
			t.Errorf("%s: every time read back to the nanosecond: the test shows nothing", format)
		}
		at := []int64{0, 17, 4095, 4096, 4999}
		got, err := DownloadsAt(ctx, path, at)
		if err != nil {
			t.Fatal(err)
		}
		for k, j := range at {
			if want, _ := rows[j].Stored(format); !reflect.DeepEqual(got[k], want) {
				t.Errorf("%s: DownloadsAt row %d: %+v, want %+v", format, j, got[k], want)
			}
		}
		if _, err := DownloadsAt(ctx, path, []int64{5000}); err == nil {
			t.Errorf("%s: row 5000 of 5000 read", format)
		}
	}
}

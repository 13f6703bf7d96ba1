package nightdir

import (
	"context"
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

package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
)

// TestSampleNames: the shipped sample populations' nfcapd files are named
// for the hour their flows lie in, as nfcapd names hourly files, so that
// a night's --since/--until, which prunes files by the time in their
// names, reads them.
func TestSampleNames(t *testing.T) {
	files, err := filepath.Glob("../../datasets/population/*/nfcapd.*")
	if err != nil || len(files) < 7 {
		t.Fatalf("sample files %v, %v; want the v5, v9 and IPFIX ones of each run", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f)), func(t *testing.T) {
			stdout, stderr, code := run(t, context.Background(), "info", "--json", f)
			if code != exitOK {
				t.Fatalf("info: exit %d: %s", code, stderr)
			}
			var got []struct{ First, Last time.Time }
			if err := json.Unmarshal([]byte(stdout), &got); err != nil || len(got) != 1 {
				t.Fatalf("info --json: %v: %s", err, stdout)
			}
			named, ok := datasets.FileTime(f)
			if !ok {
				t.Fatalf("%s: no time in the name", f)
			}
			if hour := got[0].First.Truncate(time.Hour); !named.Equal(hour) || got[0].Last.After(named.Add(time.Hour)) {
				t.Errorf("%s: named %s, flows from %s to %s", f, named, got[0].First, got[0].Last)
			}
		})
	}
	// The quick start's night, in a window of its flows' day.
	v9 := "../../datasets/population/pop-near-24h-s1007.v9"
	_, stderr, code := run(t, context.Background(), "ingest", "--since", "2027-01-20", "--until", "2027-01-21",
		"--out", filepath.Join(t.TempDir(), "flows.csv"), v9)
	if code != exitOK {
		t.Errorf("ingest --since 2027-01-20 --until 2027-01-21 %s: exit %d: %s", v9, code, stderr)
	}
}

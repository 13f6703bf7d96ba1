package datasets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPruneError(t *testing.T) {
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	night := Filter{Since: day("2027-01-20"), Until: day("2027-01-21")}
	const tail = "; rotated files whose names say more than a day outside --since/--until are skipped unopened: name a file by itself to read it whatever its name says"
	var day288 []string
	for i := range 288 {
		day288 = append(day288, "/var/cache/nfdump/"+time.Date(2026, 11, 22, 19, 5*i, 0, 0, time.UTC).Format("nfcapd.200601021504"))
	}
	for _, tc := range []struct {
		name   string
		flt    Filter
		pruned []string
		want   string
	}{
		{"one file before", night, []string{"datasets/population/pop-near-24h-s1007.v9/nfcapd.202612011700"},
			"the input file was not opened: nfcapd.202612011700 is named for 2026-12-01 17:00 UTC, more than a day before --since 2027-01-20 00:00 UTC" + tail},
		{"a day of files before", night, day288,
			"none of the 288 input files was opened: they are named for 2026-11-22 19:00 to 2026-11-23 18:55 UTC (nfcapd.202611221900 to nfcapd.202611231855), more than a day before --since 2027-01-20 00:00 UTC" + tail},
		{"none pruned", Filter{Since: day("2026-11-01")}, nil, ""},
		{"after, until only", Filter{Until: day("2026-11-20").Add(6 * time.Hour)}, day288[:2],
			"none of the 2 input files was opened: they are named for 2026-11-22 19:00 to 2026-11-22 19:05 UTC (nfcapd.202611221900 to nfcapd.202611221905), more than a day after --until 2026-11-20 06:00 UTC" + tail},
		{"both sides", Filter{Since: day("2026-11-24"), Until: day("2026-11-24").Add(90 * time.Second)},
			append([]string{"a/nfcapd.20261127000030"}, day288[:3]...),
			"none of the 4 input files was opened: 3 are named for 2026-11-22 19:00 to 2026-11-22 19:10 UTC (nfcapd.202611221900 to nfcapd.202611221910), more than a day before --since 2026-11-24 00:00 UTC; " +
				"1 for 2026-11-27 00:00:30 UTC (nfcapd.20261127000030), more than a day after --until 2026-11-24 00:01:30 UTC" + tail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pruned []string
			for _, p := range tc.pruned {
				if !tc.flt.NameOutside(p) {
					t.Fatalf("%s is not outside the window", p)
				}
				pruned = append(pruned, p)
			}
			err := tc.flt.PruneError(pruned)
			if tc.want == "" {
				if err != nil {
					t.Errorf("no files pruned: %v, want no error", err)
				}
				return
			}
			if got := fmt.Sprint(err); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestPrunedInputs: a run whose files the window prunes, all of them,
// fails with PruneError's message (wrapping ErrPruned), which names the
// times of every pruned file, not the first few; a file given by name is
// read whatever its name says.
func TestPrunedInputs(t *testing.T) {
	dir := t.TempDir()
	var names []string
	for _, n := range []string{"nfcapd.202612011700", "nfcapd.202612011705", "nfcapd.202612011710", "nfcapd.202612011715", "nfcapd.202703010000"} {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, p)
	}
	night := Filter{Since: time.Date(2027, 1, 20, 0, 0, 0, 0, time.UTC), Until: time.Date(2027, 1, 21, 0, 0, 0, 0, time.UTC)}
	in, err := ExpandInputs(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	err = in.Prune(night)
	want := night.PruneError(names).Error()
	if err == nil || err.Error() != want || !errors.Is(err, ErrPruned) {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	if !strings.Contains(want, "4 are named for 2026-12-01 17:00 to 2026-12-01 17:15 UTC") || !strings.Contains(want, "1 for 2027-03-01 00:00 UTC") {
		t.Errorf("the message misses files: %s", want)
	}
	if in.Outside != 5 || len(in.Files) != 0 {
		t.Errorf("%d pruned, %d left; want 5 and none", in.Outside, len(in.Files))
	}
	in, err = ExpandInputs(context.Background(), names[:1])
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Prune(night); err != nil || len(in.Files) != 1 {
		t.Errorf("a file given by name: %v, %d files left", err, len(in.Files))
	}
}

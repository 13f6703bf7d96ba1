package features_test

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/nfcapd"
	"github.com/fingerflow/fingerflow/features"
)

// sortDownloads orders downloads by start, then client port, so sets can
// be compared.
func sortDownloads(ds []features.Download) []features.Download {
	slices.SortFunc(ds, func(a, b features.Download) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.ClientPort, b.ClientPort), a.Client.Compare(b.Client))
	})
	return ds
}

// extractDups is extract that also returns the duplicates dropped.
func extractDups(t testing.TB, flows []datasets.Flow) ([]features.Download, uint64) {
	t.Helper()
	e := features.NewExtractor(features.DefaultConfig())
	var out []features.Download
	for i := range flows {
		e.Add(&flows[i])
		out = append(out, e.Drain()...)
	}
	return append(out, e.Flush()...), e.Duplicates()
}

// TestNotMergedAcrossTime: records of one 5-tuple join only when adjacent
// in time. The same connection 50 days earlier (the lab's NetFlow v5 export
// of test-near carries such times) is a download of its own, whichever
// order the records come in; it was merged into the later one when it came
// second.
func TestNotMergedAcrossTime(t *testing.T) {
	s2c, c2s := labPair(t)
	early := shift([]datasets.Flow{s2c, c2s}, -50*24*time.Hour)
	both := []features.Download{later(want(s2c, c2s, 2), -50*24*time.Hour), want(s2c, c2s, 2)}
	for name, flows := range map[string][]datasets.Flow{
		"later first":   {s2c, c2s, early[0], early[1]},
		"earlier first": {early[0], early[1], s2c, c2s},
		"interleaved":   {s2c, early[1], c2s, early[0]},
	} {
		t.Run(name, func(t *testing.T) {
			got := sortDownloads(extract(t, flows))
			if gocmp.Diff(both, got, cmpDownload) != "" {
				t.Errorf("downloads (-want +got):\n%s", gocmp.Diff(both, got, cmpDownload))
			}
			for _, d := range got {
				if d.End.Sub(d.Start) > time.Hour {
					t.Errorf("download spans %v", d.End.Sub(d.Start))
				}
			}
		})
	}
}

// TestOrderIndependent: the downloads of a lab run do not depend on the
// order its records arrive in (within the extractor's linger), including
// a long transfer split by active timeouts that arrive out of order.
func TestOrderIndependent(t *testing.T) {
	flows := readFlows(t, &nfcapd.Reader{}, nfcapdFile(t, "test-near.v9"))
	// Append a long transfer in three pieces per direction, the second
	// piece first: it bridges the other two when it comes last.
	s2c, c2s := labPair(t)
	s2c.DstPort, c2s.SrcPort = 1, 1
	s2c.TCPFlags &^= datasets.FlagFIN
	c2s.TCPFlags &^= datasets.FlagFIN
	pieces := []datasets.Flow{s2c, c2s}
	for i := range 2 {
		pieces = append(pieces, shift([]datasets.Flow{s2c, c2s}, time.Duration(i+1)*time.Minute)...)
	}
	flows = append(flows, pieces[2], pieces[3], pieces[0], pieces[5], pieces[1], pieces[4])
	want := sortDownloads(extract(t, flows))
	r := rand.New(rand.NewPCG(7, 7))
	for i := range 5 {
		shuffled := slices.Clone(flows)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		reversed := slices.Clone(flows)
		slices.Reverse(reversed)
		for name, fs := range map[string][]datasets.Flow{"shuffled": shuffled, "reversed": reversed} {
			got := sortDownloads(extract(t, fs))
			if diff := gocmp.Diff(want, got, cmpDownload); diff != "" {
				t.Fatalf("%s %d: downloads differ (-in order +%s):\n%s", name, i, name, diff)
			}
		}
	}
	var long []features.Download
	for _, d := range want {
		if d.ClientPort == 1 {
			long = append(long, d)
		}
	}
	if len(long) != 1 || long[0].Records != 6 {
		t.Errorf("the split transfer gave %+v, want one download of 6 records", long)
	}
}

// TestDuplicateRecords: a flow record read twice (a file and its copy, an
// export collected twice) counts once, also when the copy arrives after
// its connection was finished; the copies dropped are counted.
func TestDuplicateRecords(t *testing.T) {
	flows := readFlows(t, &nfcapd.Reader{}, nfcapdFile(t, "test-near.v9"))
	want := sortDownloads(extract(t, flows))
	end := flows[0].End
	for _, f := range flows {
		if f.End.After(end) {
			end = f.End
		}
	}
	// A record 11 minutes after the run finishes its connections (the
	// linger is 10); the copy of the run comes after it.
	s2c, _ := labPair(t)
	s2c.DstPort = 2
	pushed := shift([]datasets.Flow{s2c}, end.Add(11*time.Minute).Sub(s2c.Start))
	for name, fs := range map[string][]datasets.Flow{
		"copy right after":        append(slices.Clone(flows), flows...),
		"interleaved":             interleave(flows, flows),
		"copy after the run ends": append(append(slices.Clone(flows), pushed...), flows...),
	} {
		t.Run(name, func(t *testing.T) {
			got, dups := extractDups(t, fs)
			got = sortDownloads(slices.DeleteFunc(got, func(d features.Download) bool { return d.ClientPort == 2 }))
			if diff := gocmp.Diff(want, got, cmpDownload); diff != "" {
				t.Errorf("downloads (-once +twice):\n%s", diff)
			}
			if dups != uint64(len(flows)) {
				t.Errorf("%d duplicates dropped, want %d", dups, len(flows))
			}
		})
	}
	// Records equal but for one counter are not duplicates.
	_, c2s := labPair(t)
	other := c2s
	other.Bytes++
	if _, dups := extractDups(t, []datasets.Flow{c2s, other}); dups != 0 {
		t.Errorf("%d duplicates among two different records", dups)
	}
}

func interleave(a, b []datasets.Flow) []datasets.Flow {
	var out []datasets.Flow
	for i := range a {
		out = append(out, a[i], b[i])
	}
	return out
}

func later(d features.Download, by time.Duration) features.Download {
	d.Start, d.End = d.Start.Add(by), d.End.Add(by)
	return d
}

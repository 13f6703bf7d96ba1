package features_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/labels"
	"github.com/fingerflow/fingerflow/datasets/nfcapd"
	"github.com/fingerflow/fingerflow/datasets/nfcsv"
	"github.com/fingerflow/fingerflow/features"
)

// lab is the labelled lab data shipped with the project.
const lab = "../datasets/lab-dev"

var (
	labServer = netip.MustParseAddr("10.77.0.1")
	labClient = netip.MustParseAddr("10.77.1.2")
)

// cmpDownload compares downloads field by field (netip.Addr is comparable,
// times compare with Equal).
var cmpDownload = cmpopts.EquateComparable(netip.Addr{})

// nfcapdFile is the single rotated file of a lab run's nfcapd directory.
func nfcapdFile(t testing.TB, run string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(lab, run, "nfcapd.*"))
	if err != nil || len(files) != 1 {
		t.Fatalf("%s: want one nfcapd file, have %v (%v)", run, files, err)
	}
	return files[0]
}

// readFlows loads every flow of a (small) lab file.
func readFlows(t testing.TB, r datasets.Reader, path string) []datasets.Flow {
	t.Helper()
	var fs []datasets.Flow
	for f, err := range r.Flows(context.Background(), path) {
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	return fs
}

// extract runs the default extraction over flows and returns every download.
func extract(t testing.TB, flows []datasets.Flow) []features.Download {
	t.Helper()
	var out []features.Download
	for d, err := range features.Downloads(context.Background(), features.DefaultConfig(), seq(flows)) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func seq(flows []datasets.Flow) iter.Seq2[datasets.Flow, error] {
	return func(yield func(datasets.Flow, error) bool) {
		for _, f := range flows {
			if !yield(f, nil) {
				return
			}
		}
	}
}

type counts struct{ packets, bytes uint64 }

// reference reads nfdump's own CSV rendering of test-near (`nfdump -R
// test-near.v9 -o csv`) and returns, per client port, the counts of the
// server→client and client→server records.
func reference(t testing.TB) (down, up map[uint16]counts) {
	t.Helper()
	down, up = map[uint16]counts{}, map[uint16]counts{}
	for _, f := range readFlows(t, &nfcsv.Reader{}, filepath.Join(lab, "test-near.nfdump.csv")) {
		switch {
		case f.SrcAddr == labServer && f.SrcPort == 80:
			if _, dup := down[f.DstPort]; dup {
				t.Fatalf("nfdump csv: two server→client records for client port %d", f.DstPort)
			}
			down[f.DstPort] = counts{f.Packets, f.Bytes}
		case f.DstAddr == labServer && f.DstPort == 80:
			if _, dup := up[f.SrcPort]; dup {
				t.Fatalf("nfdump csv: two client→server records for client port %d", f.SrcPort)
			}
			up[f.SrcPort] = counts{f.Packets, f.Bytes}
		}
	}
	return down, up
}

// TestDownloadsLab extracts test-near's downloads from the nfcapd files of
// every export protocol and checks them against the lab labels (one
// download per labelled connection) and nfdump's CSV (byte and packet
// counts of both directions).
func TestDownloadsLab(t *testing.T) {
	set, err := labels.Load(context.Background(), filepath.Join(lab, "test-near.labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 300 {
		t.Fatalf("test-near labels: %d, want 300", set.Len())
	}
	down, up := reference(t)
	if len(down) != 300 || len(up) != 300 {
		t.Fatalf("nfdump csv: %d server→client and %d client→server records, want 300 each", len(down), len(up))
	}
	for _, run := range []string{"test-near.v9", "test-near.v5", "test-near.ipfix"} {
		t.Run(run, func(t *testing.T) {
			ds := extract(t, readFlows(t, &nfcapd.Reader{}, nfcapdFile(t, run)))
			if len(ds) != 300 {
				t.Errorf("%d downloads, want 300 (one per labelled connection)", len(ds))
			}
			// Report the first few mismatches only: one systematic
			// fault would otherwise print 300 times.
			bad := 0
			errorf := func(format string, args ...any) {
				t.Helper()
				if bad++; bad <= 8 {
					t.Errorf(format, args...)
				}
			}
			defer func() {
				if bad > 8 {
					t.Errorf("... and %d more mismatches", bad-8)
				}
			}()
			seen := map[uint16]int{}
			for _, d := range ds {
				seen[d.ClientPort]++
				if d.Server != labServer || d.ServerPort != 80 || d.Client != labClient {
					errorf("download %v:%d → %v:%d: want server %v:80, client %v", d.Server, d.ServerPort, d.Client, d.ClientPort, labServer, labClient)
					continue
				}
				if ls := set.ByClient(d.Client, d.ClientPort); len(ls) != 1 {
					errorf("client port %d: %d labels, want 1", d.ClientPort, len(ls))
				}
				if got, want := (counts{d.Packets, d.Bytes}), down[d.ClientPort]; got != want {
					errorf("client port %d: server→client %+v, nfdump says %+v", d.ClientPort, got, want)
				}
				if !d.HasReverse {
					errorf("client port %d: reverse direction not paired", d.ClientPort)
				}
				if got, want := (counts{d.RevPackets, d.RevBytes}), up[d.ClientPort]; got != want {
					errorf("client port %d: client→server %+v, nfdump says %+v", d.ClientPort, got, want)
				}
				if d.Records != 2 {
					errorf("client port %d: %d records merged, want 2", d.ClientPort, d.Records)
				}
				if d.End.Before(d.Start) {
					errorf("client port %d: ends %v before it starts %v", d.ClientPort, d.End, d.Start)
				}
				if d.Flags&datasets.FlagFIN == 0 {
					errorf("client port %d: flags %s, want FIN", d.ClientPort, datasets.FlagString(d.Flags))
				}
			}
			for _, l := range set.Labels {
				if seen[l.ClientPort] != 1 {
					errorf("label %s (client port %d, line %d): %d downloads, want 1", l.File, l.ClientPort, l.Line, seen[l.ClientPort])
				}
			}
		})
	}
}

// labPair returns the two records of one real test-near connection (the
// first download of the run): server→client and client→server.
func labPair(t testing.TB) (s2c, c2s datasets.Flow) {
	t.Helper()
	var n int
	for _, f := range readFlows(t, &nfcapd.Reader{}, nfcapdFile(t, "test-near.v9")) {
		switch {
		case f.SrcPort == 80 && f.DstPort == 60904:
			s2c = f
			n++
		case f.SrcPort == 60904 && f.DstPort == 80:
			c2s = f
			n++
		}
	}
	if n != 2 {
		t.Fatalf("test-near.v9: %d records for client port 60904, want 2", n)
	}
	return s2c, c2s
}

// split cuts f into two records at share frac of its duration, with
// counters split in proportion, as an exporter's active timeout does. The
// first part carries no FIN (the connection had not ended yet).
func split(f datasets.Flow, frac float64) (a, b datasets.Flow) {
	a, b = f, f
	mid := f.Start.Add(time.Duration(frac * float64(f.Duration())))
	a.End, b.Start = mid, mid
	a.Packets = uint64(frac * float64(f.Packets))
	a.Bytes = uint64(frac * float64(f.Bytes))
	b.Packets, b.Bytes = f.Packets-a.Packets, f.Bytes-a.Bytes
	a.RevPackets = uint64(frac * float64(f.RevPackets))
	a.RevBytes = uint64(frac * float64(f.RevBytes))
	b.RevPackets, b.RevBytes = f.RevPackets-a.RevPackets, f.RevBytes-a.RevBytes
	a.TCPFlags &^= datasets.FlagFIN | datasets.FlagRST
	return a, b
}

// stretch makes f last d (a long transfer an exporter would split).
func stretch(f datasets.Flow, d time.Duration) datasets.Flow {
	f.End = f.Start.Add(d)
	return f
}

func shift(fs []datasets.Flow, d time.Duration) []datasets.Flow {
	out := slices.Clone(fs)
	for i := range out {
		out[i].Start = out[i].Start.Add(d)
		out[i].End = out[i].End.Add(d)
	}
	return out
}

func noFIN(fs ...datasets.Flow) []datasets.Flow {
	out := slices.Clone(fs)
	for i := range out {
		out[i].TCPFlags &^= datasets.FlagFIN
	}
	return out
}

// want is the download the records s2c and c2s make together.
func want(s2c, c2s datasets.Flow, records int) features.Download {
	return features.Download{
		Server: s2c.SrcAddr, ServerPort: s2c.SrcPort, Client: s2c.DstAddr, ClientPort: s2c.DstPort,
		Start:   earliest(s2c.Start, c2s.Start, s2c.End, c2s.End),
		End:     latest(s2c.Start, c2s.Start, s2c.End, c2s.End),
		Packets: s2c.Packets, Bytes: s2c.Bytes,
		HasReverse: true, RevPackets: c2s.Packets, RevBytes: c2s.Bytes,
		Flags: s2c.TCPFlags | c2s.TCPFlags, Records: records,
		Exporter: s2c.Exporter, Sampling: s2c.SamplingRate,
	}
}

func earliest(ts ...time.Time) time.Time {
	return slices.MinFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
}

func latest(ts ...time.Time) time.Time {
	return slices.MaxFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
}

// TestExtractorCases feeds variations of one real connection's records.
func TestExtractorCases(t *testing.T) {
	s2c, c2s := labPair(t)
	if s2c.Bytes < 1<<20 || c2s.Bytes*4 > s2c.Bytes || s2c.TCPFlags&datasets.FlagFIN == 0 {
		t.Fatalf("base connection is not a finished bulk download: %+v / %+v", s2c, c2s)
	}
	base := want(s2c, c2s, 2)

	// Long transfer split by a 60 s active timeout in both directions.
	long := stretch(s2c, 170*time.Second)
	longRev := stretch(c2s, 170*time.Second)
	l1, lrest := split(long, 60.0/170)
	l2, l3 := split(lrest, 60.0/110)
	r1, rrest := split(longRev, 60.0/170)
	r2, r3 := split(rrest, 60.0/110)

	// Behind NAT: the exporter saw the client→server direction with the
	// client's inside address; only the ports match.
	natRev := c2s
	natRev.SrcAddr = netip.MustParseAddr("192.168.7.20")

	udp := []datasets.Flow{s2c, c2s}
	for i := range udp {
		udp[i].Proto = datasets.ProtoUDP
	}
	small := s2c
	small.Bytes, small.Packets = 12_000, 10
	balanced := c2s
	balanced.Bytes, balanced.Packets = s2c.Bytes/2, s2c.Packets/2

	// softflowd's IPFIX export (offline mode) gives records whose end
	// precedes their start; test-near.ipfix is full of them.
	inverted := []datasets.Flow{s2c, c2s}
	for i := range inverted {
		inverted[i].Start, inverted[i].End = inverted[i].End, inverted[i].Start
	}

	// A bidirectional source (Argus, biflow IPFIX) gives one record.
	bi := s2c
	bi.HasReverse, bi.RevPackets, bi.RevBytes = true, c2s.Packets, c2s.Bytes
	bi.TCPFlags |= c2s.TCPFlags
	biRev := c2s // the client as source, the download as its reverse
	biRev.HasReverse, biRev.RevPackets, biRev.RevBytes = true, s2c.Packets, s2c.Bytes
	biRev.TCPFlags |= s2c.TCPFlags

	later := func(d features.Download, by time.Duration) features.Download {
		d.Start, d.End = d.Start.Add(by), d.End.Add(by)
		return d
	}
	withRecords := func(d features.Download, n int) features.Download {
		d.Records = n
		return d
	}

	tests := []struct {
		name  string
		flows []datasets.Flow
		want  []features.Download
	}{
		{"pair", []datasets.Flow{s2c, c2s}, []features.Download{base}},
		{"reverse first", []datasets.Flow{c2s, s2c}, []features.Download{base}},
		{"download split by active timeout", func() []datasets.Flow {
			a, b := split(s2c, 0.4)
			return []datasets.Flow{a, c2s, b}
		}(), []features.Download{withRecords(base, 3)}},
		{"both directions split three times", []datasets.Flow{l1, r1, l2, r2, l3, r3},
			[]features.Download{withRecords(want(long, longRev, 6), 6)}},
		{"record after FIN starts a new download", append([]datasets.Flow{s2c, c2s}, shift([]datasets.Flow{s2c, c2s}, 5*time.Second)...),
			[]features.Download{base, later(base, 5*time.Second)}},
		{"same tuple without FIN merges within the gap", append(noFIN(s2c, c2s), shift(noFIN(s2c, c2s), 5*time.Second)...),
			[]features.Download{func() features.Download {
				d := base
				d.End = d.End.Add(5 * time.Second)
				d.Packets, d.Bytes, d.RevPackets, d.RevBytes = 2*d.Packets, 2*d.Bytes, 2*d.RevPackets, 2*d.RevBytes
				d.Flags &^= datasets.FlagFIN
				d.Records = 4
				return d
			}()}},
		{"same tuple after a pause longer than the gap", append(noFIN(s2c, c2s), shift(noFIN(s2c, c2s), 3*time.Minute)...),
			func() []features.Download {
				d := base
				d.Flags &^= datasets.FlagFIN
				return []features.Download{d, later(d, 3*time.Minute)}
			}()},
		{"NAT: reverse with another client address", []datasets.Flow{s2c, natRev}, []features.Download{base}},
		{"NAT: reverse first", []datasets.Flow{natRev, s2c}, nil}, // checked below: the client address is either side's
		{"NAT: no pairing without time overlap", append([]datasets.Flow{s2c}, shift([]datasets.Flow{natRev}, time.Hour)...),
			[]features.Download{func() features.Download {
				d := base
				d.HasReverse, d.RevPackets, d.RevBytes, d.Records = false, 0, 0, 1
				d.Start, d.End, d.Flags = s2c.Start, s2c.End, s2c.TCPFlags
				return d
			}(), {
				// Alone, the 93 kB request direction is itself a bulk
				// transfer, from the client's inside address.
				Server: natRev.SrcAddr, ServerPort: natRev.SrcPort, Client: natRev.DstAddr, ClientPort: natRev.DstPort,
				Start: natRev.Start.Add(time.Hour), End: natRev.End.Add(time.Hour),
				Packets: natRev.Packets, Bytes: natRev.Bytes, Flags: natRev.TCPFlags, Records: 1,
				Exporter: natRev.Exporter, Sampling: natRev.SamplingRate,
			}}},
		{"UDP ignored", udp, nil},
		{"small flow ignored", []datasets.Flow{small}, nil},
		{"balanced flow ignored", []datasets.Flow{s2c, balanced}, nil},
		{"end before start", inverted, []features.Download{base}},
		{"biflow record", []datasets.Flow{bi}, []features.Download{withRecords(base, 1)}},
		{"biflow record from the client", []datasets.Flow{biRev}, []features.Download{withRecords(base, 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := extract(t, tt.flows)
			if strings.HasPrefix(tt.name, "NAT: reverse first") {
				// Which record's client address the download keeps
				// depends on which was seen first; the counts must not.
				if len(got) != 1 {
					t.Fatalf("%d downloads, want 1: %+v", len(got), got)
				}
				g := got[0]
				if g.Client != s2c.DstAddr && g.Client != natRev.SrcAddr {
					t.Errorf("client %v, want %v or %v", g.Client, s2c.DstAddr, natRev.SrcAddr)
				}
				g.Client = base.Client
				if diff := cmp.Diff(base, g, cmpDownload); diff != "" {
					t.Errorf("download (-want +got):\n%s", diff)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got, cmpDownload, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("downloads (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDownloadsReaderError: the first error of the flow stream ends the
// iteration; downloads assembled from the flows before it come first, and
// no flow after it is read.
func TestDownloadsReaderError(t *testing.T) {
	flows := readFlows(t, &nfcapd.Reader{}, nfcapdFile(t, "test-near.v9"))[:20] // ten connections
	errBad := errors.New("bad block")
	pulled := 0
	src := func(yield func(datasets.Flow, error) bool) {
		for i, f := range flows {
			if i == 10 {
				if !yield(datasets.Flow{}, errBad) {
					return
				}
			}
			pulled++
			if !yield(f, nil) {
				return
			}
		}
	}
	var got []features.Download
	var errs []error
	for d, err := range features.Downloads(context.Background(), features.DefaultConfig(), src) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(errs) > 0 {
			t.Errorf("download %+v after the error", d)
		}
		got = append(got, d)
	}
	if len(errs) != 1 || !errors.Is(errs[0], errBad) {
		t.Fatalf("errors %v, want one: %v", errs, errBad)
	}
	if pulled != 10 {
		t.Errorf("read %d flows, want 10 (none after the error)", pulled)
	}
	if diff := cmp.Diff(extract(t, flows[:10]), got, cmpDownload); diff != "" {
		t.Errorf("downloads before the error (-want +got):\n%s", diff)
	}
	if len(got) != 5 {
		t.Errorf("%d downloads, want 5", len(got))
	}
}

// TestDownloadsTruncatedFile reads a real nfcapd file cut short. Cut in
// its appendix (after the one data block), every flow arrives before the
// error, so all 300 downloads, still open when the error comes, must be
// flushed ahead of it; cut in the data block, the error comes first.
func TestDownloadsTruncatedFile(t *testing.T) {
	src := nfcapdFile(t, "test-near.v9")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	nf, err := nfcapd.Open(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	appendix := int(nf.Header().AppendixOffset)
	nf.Close()
	if appendix <= 0 || appendix >= len(data) {
		t.Fatalf("appendix offset %d in a %d-byte file", appendix, len(data))
	}
	for _, tt := range []struct {
		name string
		cut  int
		want int
	}{
		{"in the appendix", appendix + 20, 300},
		{"in the data block", appendix * 2 / 3, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "nfcapd.202701111200")
			if err := os.WriteFile(path, data[:tt.cut], 0o644); err != nil {
				t.Fatal(err)
			}
			n := 0
			var last error
			for _, err := range features.Downloads(context.Background(), features.DefaultConfig(), (&nfcapd.Reader{}).Flows(context.Background(), path)) {
				if last != nil {
					t.Fatalf("iteration went on after %v", last)
				}
				if err != nil {
					last = err
					continue
				}
				n++
			}
			if last == nil || !strings.Contains(last.Error(), path) {
				t.Errorf("error %v, want one naming %s", last, path)
			}
			if !errors.Is(last, io.ErrUnexpectedEOF) {
				t.Errorf("error %v, want io.ErrUnexpectedEOF", last)
			}
			if n != tt.want {
				t.Errorf("%d downloads before the error, want %d", n, tt.want)
			}
		})
	}
}

// TestDownloadsStops: a consumer that stops early, and a cancelled context.
func TestDownloadsStops(t *testing.T) {
	flows := readFlows(t, &nfcapd.Reader{}, nfcapdFile(t, "test-near.v9"))
	t.Run("break", func(t *testing.T) {
		n := 0
		for range features.Downloads(context.Background(), features.DefaultConfig(), seq(flows)) {
			n++
			break
		}
		if n != 1 {
			t.Errorf("%d downloads, want 1", n)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		// Eight copies of the run, an hour apart: more flows than one
		// cancellation check interval.
		var many []datasets.Flow
		for i := range 8 {
			many = append(many, shift(flows, time.Duration(i)*time.Hour)...)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var last error
		n := 0
		for _, err := range features.Downloads(ctx, features.DefaultConfig(), seq(many)) {
			if err != nil {
				last = err
				continue
			}
			n++
		}
		if !errors.Is(last, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", last)
		}
		if n >= 8*300 {
			t.Errorf("%d downloads: the cancelled run read everything", n)
		}
	})
}

// BenchmarkExtract measures download extraction on test-near's records,
// held in memory so that decoding is not measured. The clients-N cases
// interleave N copies of the run from N client addresses, a microsecond
// apart (N times as many connections open at once, as on a busy network).
func BenchmarkExtract(b *testing.B) {
	flows := readFlows(b, &nfcapd.Reader{}, nfcapdFile(b, "test-near.v9"))
	for _, clients := range []int{1, 4, 16} {
		var in []datasets.Flow
		for _, f := range flows {
			for c := range clients {
				g := f
				g.Start = g.Start.Add(time.Duration(c) * time.Microsecond)
				g.End = g.End.Add(time.Duration(c) * time.Microsecond)
				addr := netip.AddrFrom4([4]byte{10, 78, byte(c >> 8), byte(c)})
				if g.SrcAddr == labClient {
					g.SrcAddr = addr
				} else {
					g.DstAddr = addr
				}
				in = append(in, g)
			}
		}
		b.Run(fmt.Sprintf("clients-%d", clients), func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				e := features.NewExtractor(features.DefaultConfig())
				for i := range in {
					e.Add(&in[i])
					n += len(e.Drain())
				}
				n += len(e.Flush())
			}
			if n != 300*clients*b.N {
				b.Fatalf("%d downloads in %d runs, want %d each", n, b.N, 300*clients)
			}
			b.ReportMetric(float64(len(in))*float64(b.N)/b.Elapsed().Seconds(), "flows/s")
		})
	}
}

// TestPayloadIPv6: header sizes are given for IPv4; an IPv6 transfer is
// charged 20 bytes more per packet in both directions.
func TestPayloadIPv6(t *testing.T) {
	v4 := features.Download{Server: netip.MustParseAddr("10.0.0.1"), Packets: 10, Bytes: 15000, RevPackets: 4, RevBytes: 300}
	v6 := v4
	v6.Server = netip.MustParseAddr("fd77::1")
	mapped := v4
	mapped.Server = netip.MustParseAddr("::ffff:10.0.0.1")
	for _, c := range []struct {
		d        features.Download
		pay, rev int64
	}{
		{v4, 15000 - 10*52, 300 - 4*52},
		{v6, 15000 - 10*72, 300 - 4*72},
		{mapped, 15000 - 10*52, 300 - 4*52}, // IPv4-mapped addresses are IPv4 traffic
	} {
		if got := c.d.Payload(52); got != c.pay {
			t.Errorf("%v: payload %d, want %d", c.d.Server, got, c.pay)
		}
		if got := c.d.RevPayload(52); got != c.rev {
			t.Errorf("%v: reverse payload %d, want %d", c.d.Server, got, c.rev)
		}
	}
}

package nfcapd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/nfcsv"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var addrs = cmpopts.EquateComparable(netip.Addr{})

func readAll(t testing.TB, path string) ([]datasets.Flow, error) {
	t.Helper()
	var out []datasets.Flow
	for f, err := range (&Reader{}).Flows(context.Background(), path) {
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
	return out, nil
}

// csvView reduces a flow to what `nfdump -o csv` prints: times to the
// second (nfdump 1.7.1 prints whole seconds), no sampling rate.
func csvView(f datasets.Flow) datasets.Flow {
	f.Start = f.Start.Truncate(time.Second)
	f.End = f.End.Truncate(time.Second)
	f.SamplingRate = 0
	return f
}

// TestMatchesNfdump compares every record with nfdump's own CSV output of
// the same file, read with the nfcsv reader.
func TestMatchesNfdump(t *testing.T) {
	for _, tc := range []struct{ file, csv string }{
		{"v9.nfcapd", "v9.csv"},
		{"v9-lzo.nfcapd", "v9.csv"},
		{"v9-lz4.nfcapd", "v9.csv"},
		{"v9-bz2.nfcapd", "v9.csv"},
		{"v9-zstd.nfcapd", "v9.csv"},
		{"ipfix.nfcapd", "ipfix.csv"},
		{"v5.nfcapd", "v5.csv"},
		{"v6.nfcapd", "v6.csv"},
		{"sampled.nfcapd", "sampled.csv"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := readAll(t, filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var want []datasets.Flow
			for f, err := range (&nfcsv.Reader{}).Flows(context.Background(), filepath.Join("testdata", tc.csv)) {
				if err != nil {
					t.Fatal(err)
				}
				f.End = f.End.Truncate(time.Second) // nfcsv refines End with td
				want = append(want, f)
			}
			if len(got) != len(want) {
				t.Fatalf("%d flows, nfdump printed %d", len(got), len(want))
			}
			var bytes, pkts, wantBytes, wantPkts uint64
			for i := range got {
				bytes += got[i].Bytes
				pkts += got[i].Packets
				wantBytes += want[i].Bytes
				wantPkts += want[i].Packets
				g := csvView(got[i])
				if !g.Exporter.IsValid() {
					g.Exporter = netip.Addr{}
				}
				if diff := cmp.Diff(want[i], g, addrs); diff != "" {
					t.Fatalf("flow %d differs from nfdump's (-want +got):\n%s", i, diff)
				}
			}
			if bytes != wantBytes || pkts != wantPkts {
				t.Errorf("totals %d bytes %d packets, nfdump %d %d", bytes, pkts, wantBytes, wantPkts)
			}
		})
	}
}

// nfdumpInfo parses the output of `nfdump -I`.
func nfdumpInfo(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// TestAppendixMatchesNfdump compares the ident and stat record with what
// `nfdump -I` printed.
func TestAppendixMatchesNfdump(t *testing.T) {
	for _, name := range []string{"v9", "ipfix", "v5", "v6", "sampled"} {
		t.Run(name, func(t *testing.T) {
			info := nfdumpInfo(t, filepath.Join("testdata", name+".info"))
			nf, err := Open(context.Background(), filepath.Join("testdata", name+".nfcapd"))
			if err != nil {
				t.Fatal(err)
			}
			defer nf.Close()
			st, ok := nf.Stat()
			if !ok {
				t.Fatal("no stat record")
			}
			n := func(k string) uint64 {
				u, err := strconv.ParseUint(info[k], 10, 64)
				if err != nil {
					t.Fatalf("%s: %v", k, err)
				}
				return u
			}
			want := map[string]uint64{
				"Flows": st.Flows, "Bytes": st.Bytes, "Packets": st.Packets,
				"Flows_tcp": st.FlowsTCP, "Flows_udp": st.FlowsUDP, "Flows_icmp": st.FlowsICMP, "Flows_other": st.FlowsOther,
				"Bytes_tcp": st.BytesTCP, "Bytes_other": st.BytesOther, "Packets_udp": st.PacketsUDP,
				"First": uint64(st.First.Unix()), "Last": uint64(st.Last.Unix()),
				"msec_first": uint64(st.First.Nanosecond() / 1e6), "msec_last": uint64(st.Last.Nanosecond() / 1e6),
				"Sequence failures": st.SequenceFailures,
			}
			for k, got := range want {
				if w := n(k); got != w {
					t.Errorf("%s = %d, nfdump -I says %d", k, got, w)
				}
			}
			if nf.Ident() != info["Ident"] {
				t.Errorf("ident %q, nfdump -I says %q", nf.Ident(), info["Ident"])
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	reg := datasets.NewRegistry(&Reader{})
	for _, tc := range []struct {
		file        string
		compression string
		ident       string
		exporters   []netip.Addr
		rates       []uint32
		flows       uint64
		bytes       uint64
	}{
		{"v9.nfcapd", "none", "none", []netip.Addr{netip.MustParseAddr("127.0.0.1")}, []uint32{0}, 200, 2577868045},
		{"v9-lzo.nfcapd", "lzo", "none", []netip.Addr{netip.MustParseAddr("127.0.0.1")}, []uint32{0}, 200, 2577868045},
		{"v9-zstd.nfcapd", "zstd", "none", []netip.Addr{netip.MustParseAddr("127.0.0.1")}, []uint32{0}, 200, 2577868045},
		{"sampled.nfcapd", "none", "sampled", []netip.Addr{netip.MustParseAddr("127.0.0.1")}, []uint32{10}, 200, 25778680450},
		{"v6.nfcapd", "none", "v6lab", nil, []uint32{0}, 22, 908455},
	} {
		t.Run(tc.file, func(t *testing.T) {
			info, err := reg.Inspect(context.Background(), filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != "nfcapd" || info.Compression != tc.compression || info.Ident != tc.ident ||
				info.Version != "layout 2, written by nfdump 1.7.1" || info.Flows != tc.flows || info.Bytes != tc.bytes {
				t.Errorf("got format %q version %q compression %q ident %q flows %d bytes %d",
					info.Format, info.Version, info.Compression, info.Ident, info.Flows, info.Bytes)
			}
			if diff := cmp.Diff(tc.exporters, info.Exporters, addrs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("exporters (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.rates, info.SamplingRates); diff != "" {
				t.Errorf("sampling rates (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSampler(t *testing.T) {
	nf, err := Open(context.Background(), "testdata/sampled.nfcapd")
	if err != nil {
		t.Fatal(err)
	}
	defer nf.Close()
	var fl datasets.Flow
	n := 0
	for {
		err := nf.Next(&fl)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if fl.SamplingRate != 10 {
			t.Fatalf("flow %d: sampling rate %d, want 10 (nfcapd -s 10)", n, fl.SamplingRate)
		}
	}
	// nfdump -E: "Sampler: Static default Sampler: algorithm: 0, packet interval: 1, packet space: 9"
	want := []Exporter{{
		SysID: 1, Addr: netip.MustParseAddr("127.0.0.1"), Version: 9, ID: 1,
		Packets: 10, Flows: 200,
		Samplers: []Sampler{{ID: SamplerDefault, PacketInterval: 1, SpaceInterval: 9}},
	}}
	if diff := cmp.Diff(want, nf.Exporters(), addrs); diff != "" {
		t.Errorf("exporters (-want +got):\n%s", diff)
	}
}

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		file string
		want bool
	}{
		{"v9.nfcapd", true}, {"v9-lzo.nfcapd", true}, {"layout1.nfcapd", true},
		{"v9.csv", false}, {"v6.pcap", false},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if got := (&Reader{}).Sniff(b[:min(len(b), datasets.SniffLen)]); got != tc.want {
			t.Errorf("%s: Sniff = %v, want %v", tc.file, got, tc.want)
		}
	}
}

func TestLayout1(t *testing.T) {
	_, err := readAll(t, "testdata/layout1.nfcapd")
	if !errors.Is(err, datasets.ErrUnsupported) ||
		!strings.Contains(err.Error(), "nfdump 1.6 file (layout 1): convert with nfdump 1.7: nfdump -r FILE -w NEW") ||
		!strings.HasPrefix(err.Error(), "testdata/layout1.nfcapd: ") {
		t.Errorf("error %v", err)
	}
}

// TestCorrupt damages real files and expects a clear error naming the
// file and block offset, and the flows before the damage.
func TestCorrupt(t *testing.T) {
	v9, err := os.ReadFile("testdata/v9.nfcapd")
	if err != nil {
		t.Fatal(err)
	}
	lzo, err := os.ReadFile("testdata/v9-lzo.nfcapd")
	if err != nil {
		t.Fatal(err)
	}
	// v9.nfcapd: header (40 bytes), one data block at 40 whose records
	// start with an exporter record (32 bytes) and then 104-byte flows.
	mod := func(b []byte, f func(b []byte)) []byte {
		c := bytes.Clone(b)
		f(c)
		return c
	}
	put32 := func(off int, v uint32) func([]byte) {
		return func(b []byte) { binary.LittleEndian.PutUint32(b[off:], v) }
	}
	put16 := func(off int, v uint16) func([]byte) {
		return func(b []byte) { binary.LittleEndian.PutUint16(b[off:], v) }
	}
	const rec1 = 40 + 12 + 32 // first flow record
	for _, tc := range []struct {
		name  string
		data  []byte
		flows int
		want  error
		msg   string
	}{
		{"empty", nil, 0, datasets.ErrEmpty, "datafile"},
		{"short header", v9[:20], 0, io.ErrUnexpectedEOF, "offset 0: file header"},
		{"bad magic", mod(v9, put16(0, 0x1234)), 0, datasets.ErrCorrupt, "bad magic"},
		{"layout 3", mod(v9, put16(2, 3)), 0, datasets.ErrUnsupported, "layout 3"},
		{"truncated in block", v9[:rec1+104*5+50], 0, io.ErrUnexpectedEOF, "offset 40: block of"}, // a block is read whole
		{"truncated appendix", v9[:len(v9)-10], 200, io.ErrUnexpectedEOF, "offset 20884: block of"},
		{"huge block", mod(v9, put32(44, 1<<30)), 0, datasets.ErrCorrupt, "offset 40: block of 1073741824 bytes"},
		{"bad block type", mod(v9, put16(48, 9)), 0, datasets.ErrCorrupt, "offset 40: block type 9"},
		{"too many records", mod(v9, put32(40, 1<<30)), 0, datasets.ErrCorrupt, "offset 40: 1073741824 records"},
		{"zero record size", mod(v9, put16(rec1+2, 0)), 0, datasets.ErrCorrupt, "offset 40: record 1: record type 11 of 0 bytes"},
		{"record past block", mod(v9, put16(rec1+2, 0xffff)), 0, datasets.ErrCorrupt, "offset 40: record 1: record type 11 of 65535 bytes"},
		{"element past record", mod(v9, put16(rec1+12+2, 200)), 0, datasets.ErrCorrupt, "record 1: element 0 (type 2) of 200 bytes"},
		{"short generic element", mod(v9, put16(rec1+12+12+2, 20)), 0, datasets.ErrCorrupt, "element 1 (type 1) of 20 bytes, want 52"},
		{"too many elements", mod(v9, put16(rec1+4, 60)), 0, datasets.ErrCorrupt, "record 1: element"},
		{"short exporter record", mod(v9, put16(40+12+2, 8)), 0, datasets.ErrCorrupt, "record 0: exporter record of 8 bytes"},
		{"unclosed file", mod(v9[:20884], func(b []byte) { clear(b[18:20]); clear(b[24:40]) }), 200, nil, ""},
		{"unclosed file, truncated", mod(v9[:20000], func(b []byte) { clear(b[18:20]); clear(b[24:40]) }), 0, io.ErrUnexpectedEOF, "offset 40: block of"},
		{"appendix offset", mod(v9, put32(24, 1<<31)), 200, io.ErrUnexpectedEOF, "appendix beyond the end"},
		{"lzo garbage", mod(lzo, func(b []byte) {
			for i := 60; i < 400; i++ {
				b[i] = byte(i * 7)
			}
		}), 0, datasets.ErrCorrupt, "offset 40: lzo block: lzo:"},
		{"lzo truncated", lzo[:1000], 0, io.ErrUnexpectedEOF, "offset 40: block of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "datafile")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			flows, err := readAll(t, path)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if err == nil {
				if len(flows) != tc.flows {
					t.Errorf("%d flows, want %d", len(flows), tc.flows)
				}
				return
			}
			if !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not name the file and say %q", err, tc.msg)
			}
			if len(flows) != tc.flows {
				t.Errorf("%d flows before the error, want %d", len(flows), tc.flows)
			}
		})
	}
}

// TestNextAllocs checks that decoding a record allocates nothing.
func TestNextAllocs(t *testing.T) {
	for _, name := range []string{"v9", "v9-lzo", "v6", "sampled"} {
		nf, err := Open(context.Background(), filepath.Join("testdata", name+".nfcapd"))
		if err != nil {
			t.Fatal(err)
		}
		var fl datasets.Flow
		if err := nf.Next(&fl); err != nil { // loads the block
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(10, func() {
			if err := nf.Next(&fl); err != nil {
				t.Fatal(err)
			}
		})
		nf.Close()
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per record", name, allocs)
		}
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	nf, err := Open(ctx, "testdata/v9.nfcapd")
	if err != nil {
		t.Fatal(err)
	}
	defer nf.Close()
	cancel()
	var fl datasets.Flow
	if err := nf.Next(&fl); !errors.Is(err, context.Canceled) {
		t.Errorf("Next after cancel: %v, want context.Canceled", err)
	}
	// Stopping early closes the file (no reader goroutine to leak).
	n := 0
	for _, err := range (&Reader{}).Flows(context.Background(), "testdata/v9.nfcapd") {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
}

func FuzzFile(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.nfcapd")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		(&Reader{}).Sniff(data)
		nf, err := newFile(context.Background(), "fuzz", bytes.NewReader(data), int64(len(data)), nil)
		if err != nil {
			return
		}
		defer nf.Close()
		var fl datasets.Flow
		for {
			if err := nf.Next(&fl); err != nil {
				if err != io.EOF && !strings.HasPrefix(err.Error(), "fuzz: ") {
					t.Fatalf("error does not name the file: %v", err)
				}
				return
			}
		}
	})
}

func FuzzLZO(f *testing.F) {
	lzo, err := os.ReadFile("testdata/v9-lzo.nfcapd")
	if err != nil {
		f.Fatal(err)
	}
	size := binary.LittleEndian.Uint32(lzo[44:])
	f.Add(lzo[52 : 52+size])
	f.Add([]byte{0x11, 0, 0})
	f.Fuzz(func(t *testing.T, src []byte) {
		out, err := lzo1xDecompress(nil, src, 1<<16)
		if err == nil && len(out) > 1<<16 {
			t.Fatalf("output of %d bytes beyond the limit", len(out))
		}
	})
}

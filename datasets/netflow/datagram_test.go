package netflow

import (
	"encoding/binary"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fingerflow/fingerflow/datasets"
)

// exportPayloads returns the source and UDP payload of every frame of a
// fixture capture.
func exportPayloads(t testing.TB, name string) ([]netip.Addr, [][]byte) {
	t.Helper()
	lt, fs := frames(t, filepath.Join("testdata", name))
	var srcs []netip.Addr
	var ps [][]byte
	for _, fr := range fs {
		src, p := udpPayload(t, lt, fr)
		srcs = append(srcs, src)
		ps = append(ps, slices.Clone(p))
	}
	return srcs, ps
}

// Decoding a capture's datagrams one by one gives the flows the capture
// reader gives, and the header fields a collector follows sequences with.
func TestDatagramDecoder(t *testing.T) {
	for _, fx := range fixtures {
		if strings.HasSuffix(fx.file, ".pcapng") {
			continue
		}
		t.Run(fx.file, func(t *testing.T) {
			want, err := readAll(t, filepath.Join("testdata", fx.file))
			if err != nil {
				t.Fatal(err)
			}
			srcs, ps := exportPayloads(t, fx.file)
			dd := NewDatagramDecoder()
			var got []datasets.Flow
			var flows int
			for i, p := range ps {
				// a v4-mapped source is the exporter's IPv4 address
				src := srcs[i]
				if src.Is4() {
					src = netip.AddrFrom16(src.As16())
				}
				d := dd.Decode(src, p, func(f *datasets.Flow) bool {
					got = append(got, *f)
					return true
				})
				if d.Malformed || d.Version != fx.version {
					t.Fatalf("datagram %d: %+v", i, d)
				}
				flows += d.Flows
				switch d.Version {
				case 5:
					if d.Sequence != binary.BigEndian.Uint32(p[16:20]) || d.Advance != uint32(binary.BigEndian.Uint16(p[2:4])) || !d.AdvanceKnown {
						t.Errorf("datagram %d: %+v", i, d)
					}
				case 9:
					if d.Sequence != binary.BigEndian.Uint32(p[12:16]) || d.Domain != binary.BigEndian.Uint32(p[16:20]) || d.Advance != 1 {
						t.Errorf("datagram %d: %+v", i, d)
					}
				case 10:
					if d.Sequence != binary.BigEndian.Uint32(p[8:12]) || d.Domain != binary.BigEndian.Uint32(p[12:16]) || !d.AdvanceKnown {
						t.Errorf("datagram %d: %+v", i, d)
					}
				}
			}
			if flows != len(got) {
				t.Errorf("Flows add up to %d, emitted %d", flows, len(got))
			}
			if diff := cmp.Diff(render(want), render(got)); diff != "" {
				t.Errorf("(-capture reader +datagram decoder):\n%s", diff)
			}
			if want := min(int(fx.version)-1, 1); dd.Exporters() != want { // v1 needs no state
				t.Errorf("%d exporters with state, want %d", dd.Exporters(), want)
			}
		})
	}
}

// IPFIX sequence numbers count data records, options records included.
func TestDatagramIPFIXAdvance(t *testing.T) {
	_, ps := exportPayloads(t, "ipfix-sampled.pcap")
	dd := NewDatagramDecoder()
	src := netip.MustParseAddr("192.0.2.1")
	var next uint32
	for i, p := range ps {
		d := dd.Decode(src, p, func(*datasets.Flow) bool { return true })
		if i > 0 && d.Sequence != next {
			t.Errorf("datagram %d: sequence %d, the previous one announced %d", i, d.Sequence, next)
		}
		next = d.Sequence + d.Advance
		if d.Advance < uint32(d.Flows) {
			t.Errorf("datagram %d: advance %d below its %d flows", i, d.Advance, d.Flows)
		}
	}
}

// Data before its template: counted, advance unknown for IPFIX.
func TestDatagramNoTemplate(t *testing.T) {
	for _, name := range []string{"v9.pcap", "ipfix.pcap"} {
		t.Run(name, func(t *testing.T) {
			_, ps := exportPayloads(t, name)
			var first []byte
			for _, p := range ps {
				if hasTemplateSet(p) && len(dataOnly(t, p)) > 20 {
					first = p
					break
				}
			}
			dd := NewDatagramDecoder()
			src := netip.MustParseAddr("192.0.2.1")
			d := dd.Decode(src, dataOnly(t, first), func(*datasets.Flow) bool { return true })
			if d.Malformed || d.NoTemplateSets == 0 || d.NoTemplateBytes == 0 || d.Flows != 0 {
				t.Errorf("data before template: %+v", d)
			}
			if d.Version == 10 && d.AdvanceKnown {
				t.Errorf("IPFIX advance known without the template: %+v", d)
			}
			d = dd.Decode(src, first, func(*datasets.Flow) bool { return true })
			if d.Malformed || d.NoTemplateSets != 0 || d.Flows == 0 || !d.AdvanceKnown {
				t.Errorf("with template: %+v", d)
			}
		})
	}
}

func TestDatagramMalformed(t *testing.T) {
	_, v9 := exportPayloads(t, "v9.pcap")
	for _, tc := range []struct {
		name    string
		p       []byte
		version uint16
	}{
		{"empty", nil, 0},
		{"one byte", []byte{9}, 0},
		{"dns", []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}, 0},
		{"v5 header only", []byte{0, 5, 0, 1, 0, 0, 0, 0}, 5},
		{"v9 cut", v9[0][:30], 9},
		{"v9 cut in a data set", v9[0][:len(v9[0])/2], 9},
		{"ipfix length lies", []byte{0, 10, 0, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 4}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dd := NewDatagramDecoder()
			d := dd.Decode(netip.MustParseAddr("192.0.2.1"), tc.p, func(*datasets.Flow) bool {
				t.Fatal("flow from a malformed datagram")
				return false
			})
			if !d.Malformed || d.Version != tc.version {
				t.Errorf("%+v, want malformed version %d", d, tc.version)
			}
		})
	}
}

func FuzzDatagram(f *testing.F) {
	for _, fx := range fixtures {
		if strings.HasSuffix(fx.file, ".pcapng") {
			continue
		}
		_, ps := exportPayloads(f, fx.file)
		for _, p := range ps {
			f.Add(p)
		}
	}
	dd := NewDatagramDecoder()
	src := netip.MustParseAddr("192.0.2.1")
	f.Fuzz(func(t *testing.T, p []byte) {
		n := 0
		d := dd.Decode(src, p, func(*datasets.Flow) bool { n++; return true })
		if n != d.Flows || (d.Malformed && n != 0) || n > len(p) {
			t.Fatalf("%d flows emitted, %+v, %d bytes", n, d, len(p))
		}
	})
}

// ICMP type and code (v9 field 32, IPFIX icmpTypeCodeIPv6 139) go in the
// destination port, as nfdump puts them: softflowd exports ICMP flows
// with zero ports and the type in these fields.
func TestICMPTypeCode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version uint16
		field   uint16
		proto   byte
		want    uint16
	}{
		{"v9 icmp", 9, 32, 1, 3<<8 | 3},
		{"ipfix icmp6", 10, 139, 58, 133 << 8},
		{"v9 udp ignores it", 9, 32, 17, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := binary.BigEndian
			hdr := 20
			if tc.version == 10 {
				hdr = 16
			}
			p := make([]byte, hdr)
			be.PutUint16(p, tc.version)
			// template 256: protocol (1), dst port (2), type/code (2)
			tmpl := []byte{0, 0, 0, 20, 1, 0, 0, 3, 0, 4, 0, 1, 0, 11, 0, 2, 0, byte(tc.field), 0, 2}
			if tc.version == 10 {
				tmpl[1] = 2
			}
			data := []byte{1, 0, 0, 9, tc.proto, 0, 0, byte(tc.want >> 8), byte(tc.want)}
			if tc.want == 0 {
				data[7] = 7 // a type/code the UDP flow must not take
			}
			p = append(append(p, tmpl...), data...)
			if tc.version == 9 {
				be.PutUint16(p[2:], 2)
			} else {
				be.PutUint16(p[2:], uint16(len(p)))
			}
			var got []datasets.Flow
			d := NewDatagramDecoder().Decode(netip.MustParseAddr("192.0.2.1"), p, func(f *datasets.Flow) bool {
				got = append(got, *f)
				return true
			})
			if d.Malformed || len(got) != 1 || got[0].DstPort != tc.want || got[0].Proto != tc.proto {
				t.Fatalf("%+v: %+v", d, got)
			}
		})
	}
}

// A v9 header that counts fewer records than the datagram has sets (as
// softflowd 1.1.0 sends when sampling) loses no set.
func TestV9CountBelowSets(t *testing.T) {
	for _, name := range []string{"v9.pcap", "v9-sampled.pcap"} {
		t.Run(name, func(t *testing.T) {
			want, err := readAll(t, filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			_, ps := exportPayloads(t, name)
			src := netip.MustParseAddr("127.0.0.1")
			var frames [][]byte
			for _, p := range ps {
				p = slices.Clone(p)
				binary.BigEndian.PutUint16(p[2:4], 1)
				frames = append(frames, rawIPv4(src, p))
			}
			for _, decode := range []string{"capture", "datagram"} {
				var got []datasets.Flow
				if decode == "capture" {
					got, err = readAll(t, writePcap(t, "count.pcap", 101, frames))
					if err != nil {
						t.Fatal(err)
					}
				} else {
					dd := NewDatagramDecoder()
					for _, p := range ps {
						p = slices.Clone(p)
						binary.BigEndian.PutUint16(p[2:4], 1)
						dd.Decode(src, p, func(f *datasets.Flow) bool { got = append(got, *f); return true })
					}
				}
				for i := range got {
					got[i].Exporter = want[0].Exporter
				}
				if diff := cmp.Diff(render(want), render(got)); diff != "" {
					t.Errorf("%s (-want +got):\n%s", decode, diff)
				}
			}
		})
	}
}

package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/fingerflow/fingerflow/datasets"
)

// fixtures are real captures of the readers built on this package, one
// per link type they were made with.
func fixtures(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, dir := range []string{"../pcapflow/testdata", "../netflow/testdata"} {
		for _, ext := range []string{"*.pcap", "*.pcapng"} {
			m, err := filepath.Glob(filepath.Join(dir, ext))
			if err != nil || len(m) == 0 {
				t.Fatalf("%s: no %s captures (%v)", dir, ext, err)
			}
			out = append(out, m...)
		}
	}
	return out
}

// readAll reads a capture's packets, copying their data.
func readAll(t testing.TB, data []byte) ([]Packet, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var out []Packet
	for {
		p, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		p.Data = bytes.Clone(p.Data)
		out = append(out, p)
	}
}

func TestFixtures(t *testing.T) {
	for _, path := range fixtures(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			kind := Sniff(data)
			if want := map[bool]Kind{true: Pcapng, false: Pcap}[strings.HasSuffix(path, ".pcapng")]; kind != want {
				t.Fatalf("Sniff = %v, want %v", kind, want)
			}
			ps, err := readAll(t, data)
			if err != nil || len(ps) == 0 {
				t.Fatalf("%d packets, %v", len(ps), err)
			}
			ip := 0
			for _, p := range ps {
				if !Supported(p.LinkType) {
					t.Fatalf("link type %v not supported", p.LinkType)
				}
				if f, skip := DecodeLink(p.LinkType, p.Data); skip == SkipNone {
					ip++
					if v := int(f.IP[0] >> 4); v != f.Version {
						t.Fatalf("IP version %d, link layer said %d", v, f.Version)
					}
				}
			}
			if ip == 0 {
				t.Error("no frame carried IP")
			}
		})
	}
}

// frame is an IPv4 header (20 bytes, no payload) from 10.0.0.1 to
// 10.0.0.2.
var frame = []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}

// TestLoopbackByteOrder: DLT_NULL carries the address family in the
// capturing host's byte order, DLT_LOOP big-endian.
func TestLoopbackByteOrder(t *testing.T) {
	le := binary.LittleEndian.AppendUint32(nil, 2)
	be := binary.BigEndian.AppendUint32(nil, 2)
	v6le := binary.LittleEndian.AppendUint32(nil, 30) // Darwin's AF_INET6
	for _, c := range []struct {
		name string
		lt   layers.LinkType
		hdr  []byte
		want Skip
	}{
		{"null little-endian", layers.LinkTypeNull, le, SkipNone},
		{"null big-endian", layers.LinkTypeNull, be, SkipNone},
		{"loop big-endian", layers.LinkTypeLoop, be, SkipNone},
		{"loop little-endian is another family", layers.LinkTypeLoop, le, SkipNotIP},
		{"null IPv6 family, IPv4 packet", layers.LinkTypeNull, v6le, SkipNone},
		{"null unknown family", layers.LinkTypeNull, binary.LittleEndian.AppendUint32(nil, 7), SkipNotIP},
		{"null cut short", layers.LinkTypeNull, le[:3], SkipShort},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := append(bytes.Clone(c.hdr), frame...)
			if len(c.hdr) < 4 {
				data = c.hdr
			}
			f, skip := DecodeLink(c.lt, data)
			if skip != c.want {
				t.Fatalf("skip %v, want %v", skip, c.want)
			}
			if skip == SkipNone && (f.LinkLen != 4 || !bytes.Equal(f.IP, frame)) {
				t.Errorf("frame %+v", f)
			}
		})
	}
}

func TestVLANTags(t *testing.T) {
	eth := func(types ...uint16) []byte {
		b := make([]byte, 12)
		for i, ty := range types {
			b = binary.BigEndian.AppendUint16(b, ty)
			if i < len(types)-1 {
				b = binary.BigEndian.AppendUint16(b, uint16(100+i)) // the next tag's ID
			}
		}
		return append(b, frame...)
	}
	for _, c := range []struct {
		name    string
		data    []byte
		vlan    uint32
		linkLen int
		want    Skip
	}{
		{"untagged", eth(etherIPv4), 0, 14, SkipNone},
		{"802.1Q", eth(ether8021Q, etherIPv4), 100, 18, SkipNone},
		{"QinQ", eth(ether8021A, ether8021Q, etherIPv4), 100<<12 | 101, 22, SkipNone},
		{"ARP", eth(0x0806), 0, 0, SkipNotIP},
		{"tag cut short", eth(ether8021Q, etherIPv4)[:16], 0, 0, SkipShort},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, skip := DecodeLink(layers.LinkTypeEthernet, c.data)
			if skip != c.want || (skip == SkipNone && (f.VLAN != c.vlan || f.LinkLen != c.linkLen || f.Version != 4)) {
				t.Errorf("got %+v, %v; want VLAN %d, link %d bytes, %v", f, skip, c.vlan, c.linkLen, c.want)
			}
		})
	}
	if _, skip := DecodeLink(layers.LinkTypeFDDI, frame); skip != SkipUnknown {
		t.Errorf("FDDI: %v, want SkipUnknown", skip)
	}
}

// TestReaderErrors: damaged captures give errors that say where.
func TestReaderErrors(t *testing.T) {
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(int64(1800000000+i), 0), CaptureLength: len(frame), Length: len(frame)}
		if err := w.WritePacket(ci, frame); err != nil {
			t.Fatal(err)
		}
	}
	full := buf.Bytes()
	third := 24 + 2*(16+len(frame))
	for _, c := range []struct {
		name    string
		data    []byte
		packets int
		want    string
		is      error
	}{
		{"empty", nil, 0, "offset 0: empty file", datasets.ErrEmpty},
		{"header cut", full[:10], 0, "offset 0: file header: unexpected EOF", io.ErrUnexpectedEOF},
		{"not a capture", []byte("hello, world, this is text"), 0, "offset 0: file header", datasets.ErrCorrupt},
		{"record cut", full[:third+5], 2, "offset 96: packet 3: unexpected EOF", io.ErrUnexpectedEOF},
		{"whole", full, 3, "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			ps, err := readAll(t, c.data)
			if len(ps) != c.packets {
				t.Errorf("%d packets, want %d", len(ps), c.packets)
			}
			if c.is == nil {
				if err != nil {
					t.Fatal(err)
				}
				for i, p := range ps {
					if p.Timestamp.Unix() != int64(1800000000+i) || !bytes.Equal(p.Data, frame) || p.LinkType != layers.LinkTypeRaw {
						t.Errorf("packet %d: %+v", i, p)
					}
				}
				return
			}
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q wrapping %v", err, c.want, c.is)
			}
		})
	}
}

// FuzzReader feeds arbitrary bytes to the reader, seeded with the real
// captures: it never panics, packets never claim more bytes than the
// stream holds, and DecodeLink never reads past a frame.
func FuzzReader(f *testing.F) {
	for _, path := range fixtures(f) {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 4096)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, datasets.ErrEmpty) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, datasets.ErrCorrupt) {
				t.Fatalf("header error %v wraps none of the sentinels", err)
			}
			return
		}
		for {
			off := r.Offset()
			p, err := r.Next()
			if err != nil {
				return
			}
			if off > int64(len(data)) || len(p.Data) > len(data) {
				t.Fatalf("packet at offset %d of %d bytes in a %d-byte stream", off, len(p.Data), len(data))
			}
			if fr, skip := DecodeLink(p.LinkType, p.Data); skip == SkipNone && fr.LinkLen+len(fr.IP) != len(p.Data) {
				t.Fatalf("frame %+v does not add up to %d bytes", fr, len(p.Data))
			}
		}
	})
}

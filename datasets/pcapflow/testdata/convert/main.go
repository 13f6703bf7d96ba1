// Command convert rewrites a real capture into a variant that no installed
// tool writes, for the pcapflow fixtures (see ../gen.sh):
//
//	convert IN.pcap OUT.pcapng   same packets, pcapng (pcapgo.NgWriter)
//	convert IN.pcap vlan.pcap    Ethernet → IPv4 frames tagged 802.1Q VLAN 42,
//	                             IPv6 frames QinQ (802.1ad 100, then 802.1Q 7)
//	convert IN.pcap raw.pcap     Linux cooked v2 → raw IP (link header removed)
//	convert IN.pcap null.pcap    Linux cooked v2 → BSD loopback (4-byte family)
package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: convert IN.pcap OUT")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "convert:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	w, err := os.Create(out)
	if err != nil {
		return err
	}
	defer w.Close()

	base := filepath.Base(out)
	var write func(ci gopacket.CaptureInfo, data []byte) error
	switch {
	case strings.HasSuffix(base, ".pcapng"):
		ng, err := pcapgo.NewNgWriter(w, r.LinkType())
		if err != nil {
			return err
		}
		defer ng.Flush()
		write = ng.WritePacket
	case base == "vlan.pcap":
		if r.LinkType() != layers.LinkTypeEthernet {
			return fmt.Errorf("%s: link type %v, want Ethernet", in, r.LinkType())
		}
		pw := pcapgo.NewWriter(w)
		if err := pw.WriteFileHeader(r.Snaplen(), layers.LinkTypeEthernet); err != nil {
			return err
		}
		write = func(ci gopacket.CaptureInfo, data []byte) error {
			if len(data) < 14 {
				return pw.WritePacket(ci, data)
			}
			var tags []byte
			switch binary.BigEndian.Uint16(data[12:14]) {
			case 0x0800:
				tags = []byte{0x81, 0x00, 0x00, 42}
			case 0x86dd:
				tags = []byte{0x88, 0xa8, 0x00, 100, 0x81, 0x00, 0x00, 7}
			}
			pkt := append(append(append([]byte{}, data[:12]...), tags...), data[12:]...)
			ci.CaptureLength = len(pkt)
			ci.Length += len(tags)
			return pw.WritePacket(ci, pkt)
		}
	case base == "raw.pcap" || base == "null.pcap":
		if r.LinkType() != layers.LinkTypeLinuxSLL2 {
			return fmt.Errorf("%s: link type %v, want Linux SLL2", in, r.LinkType())
		}
		pw := pcapgo.NewWriter(w)
		lt, extra := layers.LinkTypeRaw, 0
		if base == "null.pcap" {
			lt, extra = layers.LinkTypeNull, 4
		}
		if err := pw.WriteFileHeader(r.Snaplen(), lt); err != nil {
			return err
		}
		write = func(ci gopacket.CaptureInfo, data []byte) error {
			const sll2 = 20
			if len(data) < sll2 {
				return nil
			}
			var family uint32
			switch binary.BigEndian.Uint16(data[0:2]) {
			case 0x0800:
				family = 2 // AF_INET
			case 0x86dd:
				family = 24 // AF_INET6 as NetBSD/OpenBSD write it
			default:
				return nil
			}
			pkt := data[sll2:]
			if extra > 0 {
				pkt = binary.LittleEndian.AppendUint32(nil, family)
				pkt = append(pkt, data[sll2:]...)
			}
			ci.CaptureLength = len(pkt)
			ci.Length = ci.Length - sll2 + extra
			return pw.WritePacket(ci, pkt)
		}
	default:
		return fmt.Errorf("%s: unknown output kind", out)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
		if err := write(ci, data); err != nil {
			return err
		}
	}
}

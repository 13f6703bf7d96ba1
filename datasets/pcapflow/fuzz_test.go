package pcapflow

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// FuzzFlows feeds arbitrary bytes to the reader as a capture file: it must
// never panic, and every flow must be internally consistent.
func FuzzFlows(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.pcap*")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range append(seeds, samplePcap) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 4096)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.pcap")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, bidir := range []bool{false, true} {
			for fl, err := range New(Config{Bidirectional: bidir}).Flows(context.Background(), path) {
				if err != nil {
					break
				}
				if fl.Packets == 0 || fl.End.Before(fl.Start) || fl.MinTTL > fl.MaxTTL ||
					fl.Bytes > fl.Packets*(1<<16+40) || !fl.SrcAddr.IsValid() {
					t.Fatalf("inconsistent flow %+v", fl)
				}
			}
		}
		var st stats
		_ = scan(context.Background(), path, &st, nil)
	})
}

// FuzzDecode feeds single frames to the header decoder, seeded with real
// frames of each link type from testdata: it must never panic or read past
// the captured bytes, and a decoded IP packet has valid addresses.
func FuzzDecode(f *testing.F) {
	for _, p := range []string{"testdata/eth.pcap", "testdata/vlan.pcap", "testdata/sll.pcap",
		"testdata/sll2.pcap", "testdata/raw.pcap", "testdata/null.pcap"} {
		fh, err := os.Open(p)
		if err != nil {
			f.Fatal(err)
		}
		r, err := pcapgo.NewReader(fh)
		if err != nil {
			f.Fatal(err)
		}
		for range 20 {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				break
			}
			f.Add(uint16(r.LinkType()), data, ci.Length)
		}
		fh.Close()
	}
	f.Fuzz(func(t *testing.T, lt uint16, data []byte, wire int) {
		var p packet
		if decode(layers.LinkType(lt), data, wire, &p) && (!p.src.IsValid() || !p.dst.IsValid()) {
			t.Fatalf("decoded packet without addresses: %+v", p)
		}
	})
}

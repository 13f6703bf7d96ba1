// Command synthpcap writes a synthetic packet capture with many distinct
// flows for the nfcapd read benchmark: one TCP or UDP packet per flow, from
// a fixed population of client addresses to random servers, spread evenly
// over a day. Feed it to nfpcapd to get a day of nfcapd files:
//
//	go run ./datasets/nfcapd/internal/synthpcap -n 10000000 -o /tmp/synth.pcap
//	nfpcapd -r /tmp/synth.pcap -w /tmp/nfday -t 3600 -y
//
// The output is the same for the same flags.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
)

func main() {
	n := flag.Int("n", 10_000_000, "number of flows (one packet each)")
	hosts := flag.Int("hosts", 50_000, "distinct source addresses")
	out := flag.String("o", "synth.pcap", "output file")
	seed := flag.Uint64("seed", 1, "random seed")
	start := flag.Int64("start", 1795305600, "capture start, Unix seconds (2026-11-22 00:00 UTC)")
	flag.Parse()
	if err := run(*out, *n, *hosts, *seed, *start); err != nil {
		fmt.Fprintln(os.Stderr, "synthpcap:", err)
		os.Exit(1)
	}
}

func run(path string, n, hosts int, seed uint64, start int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	le := binary.LittleEndian
	be := binary.BigEndian
	var gh [24]byte
	le.PutUint32(gh[0:], 0xa1b2c3d4)
	le.PutUint16(gh[4:], 2)
	le.PutUint16(gh[6:], 4)
	le.PutUint32(gh[16:], 128) // snaplen
	le.PutUint32(gh[20:], 1)   // Ethernet
	w.Write(gh[:])

	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	const day = 86400 * 1_000_000 // microseconds
	var pkt [16 + 14 + 20 + 20]byte
	for i := 0; i < n; i++ {
		ts := int64(i) * day / int64(n)
		tcp := rng.IntN(4) != 0
		l4 := 8
		proto := byte(17)
		if tcp {
			l4, proto = 20, 6
		}
		payload := 40 + rng.IntN(1400)
		ipLen := 20 + l4 + payload
		capLen := 14 + 20 + l4
		p := pkt[:16+capLen]
		clear(p)
		le.PutUint32(p[0:], uint32(start+ts/1_000_000))
		le.PutUint32(p[4:], uint32(ts%1_000_000))
		le.PutUint32(p[8:], uint32(capLen))
		le.PutUint32(p[12:], uint32(14+ipLen))
		e := p[16:]
		copy(e[0:6], []byte{2, 0, 0, 0, 0, 2})
		copy(e[6:12], []byte{2, 0, 0, 0, 0, 1})
		be.PutUint16(e[12:], 0x0800)
		ip := e[14:]
		ip[0] = 0x45
		be.PutUint16(ip[2:], uint16(ipLen))
		be.PutUint16(ip[4:], uint16(i))
		ip[8] = 64
		ip[9] = proto
		src := 0x0a000000 + uint32(rng.IntN(hosts)) // 10.0.0.0/8 clients
		dst := 0xc6120000 + uint32(rng.IntN(1<<16)) // 198.18.0.0/15 servers
		be.PutUint32(ip[12:], src)
		be.PutUint32(ip[16:], dst)
		var sum uint32
		for j := 0; j < 20; j += 2 {
			sum += uint32(be.Uint16(ip[j:]))
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		be.PutUint16(ip[10:], ^uint16(sum))
		l := ip[20:]
		be.PutUint16(l[0:], uint16(1024+rng.IntN(64000))) // source port: distinct flows
		be.PutUint16(l[2:], []uint16{80, 443, 53, 123}[rng.IntN(4)])
		if tcp {
			be.PutUint32(l[4:], rng.Uint32())
			l[12] = 5 << 4
			l[13] = 0x18 // PSH ACK
			be.PutUint16(l[14:], 65535)
		} else {
			be.PutUint16(l[4:], uint16(8+payload))
		}
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

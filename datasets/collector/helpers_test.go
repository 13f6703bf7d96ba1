package collector

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/flowio"
)

// exportCaptures are captures of real export packets: softflowd reading
// datasets/lab-dev/sample.pcap and exporting to nfcapd
// (datasets/netflow/testdata/gen.sh).
var exportCaptures = []string{"v1.pcap", "v5.pcap", "v9.pcap", "ipfix.pcap", "v9-sampled.pcap", "ipfix-sampled.pcap"}

// realDatagrams returns the UDP payloads of one of exportCaptures.
func realDatagrams(t testing.TB, name string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "netflow", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		frame, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var etherType uint16
		switch r.LinkType() {
		case 1: // Ethernet
			etherType, frame = binary.BigEndian.Uint16(frame[12:14]), frame[14:]
		case 276: // Linux cooked v2
			etherType, frame = binary.BigEndian.Uint16(frame[0:2]), frame[20:]
		default:
			t.Fatalf("%s: link type %d", name, r.LinkType())
		}
		switch etherType {
		case 0x0800:
			frame = frame[int(frame[0]&0x0f)*4:]
		case 0x86dd:
			frame = frame[40:]
		default:
			t.Fatalf("%s: ethertype %#x", name, etherType)
		}
		out = append(out, frame[8:binary.BigEndian.Uint16(frame[4:6])])
	}
	if len(out) == 0 {
		t.Fatalf("%s: no datagrams", name)
	}
	return out
}

// fakeClock is a clock the test sets.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// start runs a collector until the test ends (or stop is called) and
// returns it with a function that stops it and returns Run's error.
func start(t testing.TB, cfg Config) (*Collector, func() error) {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
	t.Cleanup(func() { stop() })
	return c, stop
}

// sender is a UDP socket that sends to a collector from addr.
func sender(t testing.TB, from string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(from)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t testing.TB, s *net.UDPConn, to netip.AddrPort, ps ...[]byte) {
	t.Helper()
	for _, p := range ps {
		if _, err := s.WriteToUDPAddrPort(p, to); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor polls cond until it holds, failing the test after a while.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// total sums the counters of every exporter.
func total(ecs []ExporterCounters) Counters {
	var c Counters
	for _, ec := range ecs {
		c.Add(&ec.Counters)
	}
	return c
}

// readDir reads every flow of the files a directory walk finds under dir,
// as fingerflow's commands would, and returns them with the file list.
func readDir(t testing.TB, dir string) ([]string, []datasets.Flow) {
	t.Helper()
	files, err := datasets.Expand(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	reg := datasets.NewRegistry(flowio.ParquetReader{})
	var flows []datasets.Flow
	_, err = datasets.ReadFiles(context.Background(), reg, files, datasets.Filter{}, func(f *datasets.Flow) error {
		flows = append(flows, *f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, flows
}

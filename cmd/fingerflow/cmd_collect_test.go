package main

import (
	"context"
	"encoding/binary"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/collector"
)

func TestCollectUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no dir", []string{"collect", "--listen", "127.0.0.1:0"}, "--dir"},
		{"rotate not a duration", []string{"collect", "-d", dir, "--rotate", "5"}, "rotate"},
		{"rotate not dividing a day", []string{"collect", "-d", dir, "--rotate", "7m"}, "divide 24h"},
		{"listen host name", []string{"collect", "-d", dir, "--listen", "localhost:2055"}, "not an IP address"},
		{"listen no port", []string{"collect", "-d", dir, "--listen", "127.0.0.1"}, "HOST:PORT"},
		{"socket buffer", []string{"collect", "-d", dir, "--listen", "127.0.0.1:0", "--socket-buffer", "lots"}, "socket-buffer"},
		{"arguments", []string{"collect", "-d", dir, "extra"}, "no arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := run(t, context.Background(), tc.args...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, tc.want)
			}
		})
	}
}

// A port already taken is an error of the system (exit 1), not of usage.
func TestCollectPortInUse(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, stderr, code := run(t, context.Background(), "collect", "-d", t.TempDir(), "--listen", c.LocalAddr().String())
	if code != exitError {
		t.Errorf("exit %d, stderr %q; want %d", code, stderr, exitError)
	}
}

// TestCollectUnwritableDir: an output directory that cannot be used is an
// error at start (exit 1, naming it), not at the first datagram. The
// context is cancelled from the start: a collect that listened instead
// would stop as interrupted (exit 130).
func TestCollectUnwritableDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "flows")
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, stderr, code := run(t, ctx, "collect", "-d", dir, "--listen", "127.0.0.1:0")
	if want := "fingerflow: " + dir + ": not a directory\n"; code != exitError || stderr != want {
		t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitError, want)
	}
}

// v5Datagram is a NetFlow v5 export packet with one flow record.
func v5Datagram() []byte {
	p := make([]byte, 24+48)
	binary.BigEndian.PutUint16(p[0:], 5)
	binary.BigEndian.PutUint16(p[2:], 1)
	binary.BigEndian.PutUint32(p[4:], 60_000)        // sysUptime
	binary.BigEndian.PutUint32(p[8:], 1_799_669_211) // unix secs
	r := p[24:]
	copy(r[0:4], []byte{10, 77, 0, 1})
	copy(r[4:8], []byte{10, 77, 1, 2})
	binary.BigEndian.PutUint32(r[16:], 3)    // packets
	binary.BigEndian.PutUint32(r[20:], 1500) // bytes
	binary.BigEndian.PutUint32(r[24:], 59_000)
	binary.BigEndian.PutUint32(r[28:], 59_500)
	binary.BigEndian.PutUint16(r[32:], 80)
	binary.BigEndian.PutUint16(r[34:], 40000)
	r[38] = 6
	return p
}

// An interrupted collector completes its open file, which every command
// reads, and exits with status 130.
func TestCollectInterrupt(t *testing.T) {
	probe, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := probe.LocalAddr().(*net.UDPAddr).Port
	probe.Close()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		stderr string
		code   int
	}
	done := make(chan result, 1)
	go func() {
		_, stderr, code := run(t, ctx, "collect", "-d", dir, "--listen", "127.0.0.1:"+strconv.Itoa(port), "--rotate", "1h")
		done <- result{stderr, code}
	}()
	conn, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// send until the open file appears (the socket may not be bound yet)
	deadline := time.Now().Add(20 * time.Second)
	for !hasHiddenFile(dir) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no temporary file; collect: %+v", <-done)
		}
		conn.Write(v5Datagram())
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	res := <-done
	if res.code != exitInterrupted || !strings.Contains(res.stderr, "collect: file written") {
		t.Fatalf("exit %d, stderr:\n%s", res.code, res.stderr)
	}
	files, err := datasets.Expand(context.Background(), []string{dir})
	if err != nil || len(files) != 1 || !strings.HasPrefix(filepath.Base(files[0]), "flows.") {
		t.Fatalf("files %v, %v", files, err)
	}
	format, flows := readBack(t, files[0])
	if format != "fingerflow-parquet" || len(flows) == 0 || flows[0].DstPort != 40000 || flows[0].Bytes != 1500 {
		t.Errorf("read back as %s: %+v", format, flows)
	}
}

func hasHiddenFile(dir string) bool {
	found := false
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "."+collector.FilePrefix) {
			found = true
		}
		return nil
	})
	return found
}

package pcapflow

import (
	"context"
	"os"
	"path/filepath"
	"testing"
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

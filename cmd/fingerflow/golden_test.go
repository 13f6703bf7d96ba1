package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// elapsed matches the run times in summary lines, which vary from run to
// run.
var elapsed = regexp.MustCompile(`in [0-9.]+(s|ms|µs)`)

// checkGolden compares got with testdata/golden/name, or rewrites it with
// -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/fingerflow -run %s -update)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// TestGoldenClassify pins what classify answers with the shipped model on
// shipped runs: plain HTTP, a mirror it adapts to, keep-alive
// connections, HTTPS and a packet capture, CSV byte for byte and Parquet
// by its digest.
func TestGoldenClassify(t *testing.T) {
	extra := filepath.Join(lab, "..", "lab-extra")
	model := filepath.Join(lab, "lab.ffm")
	for _, c := range []struct {
		name string
		args []string
	}{
		{"test-near.v9", []string{filepath.Join(lab, "test-near.v9")}},
		{"dev-mirror.v9", []string{filepath.Join(extra, "dev-mirror.v9")}},
		{"dev-keepalive.v9", []string{filepath.Join(extra, "dev-keepalive.v9")}},
		{"dev-https.ipfix", []string{filepath.Join(extra, "dev-https.ipfix")}},
		{"dev-ipv6.nfdump.csv", []string{filepath.Join(extra, "dev-ipv6.nfdump.csv")}},
		{"sample.pcap", []string{filepath.Join(lab, "sample.pcap")}},
		{"dev-far.v9-unadapted", []string{"--adapt=false", filepath.Join(extra, "dev-far.v9")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := run(t, context.Background(), append([]string{"classify", "--model", model}, c.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			checkGolden(t, "classify-"+c.name+".csv", stdout)
			checkGolden(t, "classify-"+c.name+".stderr", elapsed.ReplaceAllString(stderr, "in TIME"))
		})
	}
	t.Run("parquet", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "downloads.parquet")
		if _, stderr, code := run(t, context.Background(), "classify", "--model", model, "--out", out, filepath.Join(lab, "test-near.v9")); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, "classify-test-near.v9.parquet.sha256", fmt.Sprintf("%x %d\n", sha256.Sum256(data), len(data)))
	})
}

// TestGoldenEvaluate pins evaluate's printed tables: per run, over all,
// per run summary, threshold sweep, confusions and per file.
func TestGoldenEvaluate(t *testing.T) {
	extra := filepath.Join(lab, "..", "lab-extra")
	stdout, stderr, code := run(t, context.Background(), "evaluate", "-q", "--model", filepath.Join(lab, "lab.ffm"),
		"--sweep", "--per-file",
		"--flows", filepath.Join(lab, "test-near.v9"), "--labels", filepath.Join(lab, "test-near.labels.csv"),
		"--flows", filepath.Join(extra, "dev-mirror.v9"), "--labels", filepath.Join(extra, "dev-mirror.labels.csv"),
		"--flows", filepath.Join(extra, "dev-keepalive.v9"), "--labels", filepath.Join(extra, "dev-keepalive.labels.csv"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	checkGolden(t, "evaluate.txt", stdout)
}

// TestGoldenInfo pins info's description of captures of every link type
// the capture layer decodes, NetFlow export captures and flow files.
func TestGoldenInfo(t *testing.T) {
	pcaps := filepath.Join("..", "..", "datasets", "pcapflow", "testdata")
	exports := filepath.Join("..", "..", "datasets", "netflow", "testdata")
	var args []string
	for _, f := range []string{"eth.pcap", "null.pcap", "raw.pcap", "sll.pcap", "sll2.pcap", "vlan.pcap", "vlan.pcapng"} {
		args = append(args, filepath.Join(pcaps, f))
	}
	for _, f := range []string{"v1.pcap", "v5.pcap", "v9.pcap", "v9-sampled.pcap", "ipfix.pcap", "ipfix.pcapng", "ipfix-sampled.pcap"} {
		args = append(args, filepath.Join(exports, f))
	}
	args = append(args, filepath.Join(lab, "sample.pcap"), filepath.Join(lab, "test-near.v9"), filepath.Join(lab, "test-near.argus"))
	stdout, stderr, code := run(t, context.Background(), append([]string{"info"}, args...)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	checkGolden(t, "info.txt", stdout)
}

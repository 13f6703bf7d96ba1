package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// lab is the shipped sample data.
const lab = "../../datasets/lab-dev"

// run executes fingerflow in-process and returns its output and the exit
// status main would give.
func run(t *testing.T, ctx context.Context, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCommand(&globalOptions{stdout: &out, stderr: &errb})
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(ctx)
	// exitCode writes the final message where main would: stderr.
	f, ferr := os.CreateTemp(t.TempDir(), "stderr")
	if ferr != nil {
		t.Fatal(ferr)
	}
	defer f.Close()
	code = exitCode(err, f)
	final, ferr := os.ReadFile(f.Name())
	if ferr != nil {
		t.Fatal(ferr)
	}
	return out.String(), errb.String() + string(final), code
}

type infoTotals struct {
	Path    string `json:"path"`
	Format  string `json:"format"`
	Flows   uint64 `json:"flows"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// TestInfoLab checks counts against `nfdump -R DIR -I` on the same files.
func TestInfoLab(t *testing.T) {
	nfcapd := func(run string) string { return filepath.Join(lab, run, "nfcapd.202611221900") }
	out, stderr, code := run(t, context.Background(), "info", "--json",
		filepath.Join(lab, "test-near.v5"), filepath.Join(lab, "test-near.v9"),
		filepath.Join(lab, "test-near.ipfix"), filepath.Join(lab, "train-https.v9"),
		filepath.Join(lab, "test-near.nfdump.csv"))
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	var got []infoTotals
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	want := []infoTotals{
		{nfcapd("test-near.v5"), "nfcapd", 600, 5698435, 7839631437},
		{nfcapd("test-near.v9"), "nfcapd", 600, 5698435, 7839631437},
		{nfcapd("test-near.ipfix"), "nfcapd", 600, 5698435, 7839631437},
		{nfcapd("train-https.v9"), "nfcapd", 1000, 10343509, 13087979136},
		{filepath.Join(lab, "test-near.nfdump.csv"), "nfdump-csv", 600, 5698435, 7839631437},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("info --json (-want +got):\n%s", diff)
	}
}

func TestInfoText(t *testing.T) {
	out, stderr, code := run(t, context.Background(), "info", filepath.Join(lab, "test-near.v9"))
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		"Format:      nfcapd\n",
		"Flows:       600\n",
		"Packets:     5698435\n",
		"Bytes:       7839631437 (7.3 GiB)\n",
		"First:       2027-01-11T12:06:51.313Z\n",
		"Last:        2027-01-11T12:07:12.771Z\n",
		"Exporters:   127.0.0.1\n",
		"Protocols:   TCP 600 (100.0%)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// badInputs makes files that no reader accepts whole.
func badInputs(t *testing.T, dir string) map[string]string {
	t.Helper()
	good, err := os.ReadFile(filepath.Join(lab, "test-near.v9", "nfcapd.202611221900"))
	if err != nil {
		t.Fatal(err)
	}
	random := make([]byte, 8192)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	files := map[string][]byte{
		"empty":     nil,
		"random":    random,
		"truncated": good[:len(good)/2],
	}
	paths := map[string]string{}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	return paths
}

func TestInfoBadInputs(t *testing.T) {
	bad := badInputs(t, t.TempDir())
	goodFile := filepath.Join(lab, "test-near.v9", "nfcapd.202611221900")
	for _, tc := range []struct {
		name string
		path string
		want string // in the one stderr line
	}{
		{"empty", bad["empty"], "empty file"},
		{"random", bad["random"], "unknown flow file format"},
		{"truncated nfcapd", bad["truncated"], "unexpected EOF"},
		{"missing", filepath.Join(t.TempDir(), "nope"), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := run(t, context.Background(), "info", tc.path, goodFile)
			if code != exitPartial {
				t.Errorf("exit %d, want %d", code, exitPartial)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 2 || !strings.Contains(lines[0], tc.path) || !strings.Contains(lines[0], tc.want) ||
				lines[1] != "fingerflow: 1 of 2 input files skipped" {
				t.Errorf("stderr: want one line naming %s and saying %q, then the summary; got:\n%s", tc.path, tc.want, stderr)
			}
			if !strings.Contains(out, goodFile+"\n") || !strings.Contains(out, "Flows:       600\n") {
				t.Errorf("good file not described:\n%s", out)
			}
		})
	}
}

// TestInfoDirectory: one bad file among good ones in a directory.
func TestInfoDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, run := range []string{"test-near.v5", "test-near.v9"} {
		b, err := os.ReadFile(filepath.Join(lab, run, "nfcapd.202611221900"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, run), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "garbage"), []byte("not a flow file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := run(t, context.Background(), "info", "--json", dir)
	if code != exitPartial {
		t.Errorf("exit %d, want %d", code, exitPartial)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], filepath.Join(dir, "garbage")) || !strings.HasSuffix(lines[1], "1 of 3 input files skipped") {
		t.Errorf("stderr should be one line naming the bad file and the summary:\n%s", stderr)
	}
	var got []infoTotals
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	want := []infoTotals{
		{filepath.Join(dir, "test-near.v5"), "nfcapd", 600, 5698435, 7839631437},
		{filepath.Join(dir, "test-near.v9"), "nfcapd", 600, 5698435, 7839631437},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestInfoPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: file permissions do not apply, so an unreadable file cannot be made")
	}
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte("x"), 0o000); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := run(t, context.Background(), "info", p)
	if code != exitPartial || !strings.Contains(stderr, p) || !strings.Contains(stderr, "permission denied") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestInfoUsage(t *testing.T) {
	if _, _, code := run(t, context.Background(), "info"); code != exitUsage {
		t.Errorf("no arguments: exit %d", code)
	}
	if _, _, code := run(t, context.Background(), "info", "--bogus", "x"); code != exitUsage {
		t.Errorf("bad flag: exit %d, want %d", code, exitUsage)
	}
}

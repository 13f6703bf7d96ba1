package main

import (
	"context"
	"encoding/csv"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/datasets/labels"
)

// answer is what the tests read back from one classify output row.
type answer struct {
	Client     string `parquet:"client"`
	ClientPort int32  `parquet:"client_port"`
	ServerPort int32  `parquet:"server_port"`
	Bytes      int64  `parquet:"bytes"`
	Files      string `parquet:"files"`
}

// readCSVAnswers parses classify's CSV output by its header's column names.
func readCSVAnswers(t *testing.T, out string) []answer {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	if len(recs) == 0 {
		t.Fatal("no CSV header")
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	for _, name := range []string{"client", "client_port", "server_port", "bytes", "files"} {
		if _, ok := col[name]; !ok {
			t.Fatalf("CSV header %v lacks %q", recs[0], name)
		}
	}
	var as []answer
	for i, r := range recs[1:] {
		port, err1 := strconv.Atoi(r[col["client_port"]])
		sport, err2 := strconv.Atoi(r[col["server_port"]])
		bytes, err3 := strconv.ParseInt(r[col["bytes"]], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("row %d: %v", i+2, r)
		}
		as = append(as, answer{r[col["client"]], int32(port), int32(sport), bytes, r[col["files"]]})
	}
	return as
}

// classifyCSV runs classify to stdout and returns its rows.
func classifyCSV(t *testing.T, model string, paths ...string) []answer {
	t.Helper()
	out, stderr, code := run(t, context.Background(), append([]string{"classify", "--model", model}, paths...)...)
	if code != exitOK {
		t.Fatalf("classify %v: exit %d, stderr:\n%s", paths, code, stderr)
	}
	return readCSVAnswers(t, out)
}

// byPort maps client port to answer; the lab has one client address.
func byPort(t *testing.T, as []answer) map[int32]string {
	t.Helper()
	m := map[int32]string{}
	for _, a := range as {
		if _, dup := m[a.ClientPort]; dup {
			t.Errorf("client port %d answered twice", a.ClientPort)
		}
		m[a.ClientPort] = a.Files
	}
	return m
}

// checkAnswers checks classify's answers on test-near against its labels:
// one row per labelled download, every answer a catalog file or
// "unknown", and at least 90% of the catalog downloads named correctly.
func checkAnswers(t *testing.T, as []answer) {
	t.Helper()
	set, err := labels.Load(context.Background(), filepath.Join(lab, "test-near.labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(context.Background(), filepath.Join(lab, "cat.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 300 {
		t.Errorf("%d rows, want 300", len(as))
	}
	known, right := 0, 0
	for _, a := range as {
		if a.Client != "10.77.1.2" || a.ServerPort != 80 {
			t.Errorf("row %+v: want client 10.77.1.2, server port 80", a)
		}
		for f := range strings.SplitSeq(a.Files, "+") {
			if _, ok := cat.Lookup(f); !ok && a.Files != "unknown" {
				t.Errorf("client port %d: %q is neither a catalog file nor unknown", a.ClientPort, a.Files)
			}
		}
		ls := set.ByClient(labClient, uint16(a.ClientPort))
		if len(ls) != 1 {
			t.Errorf("client port %d: %d labels, want 1", a.ClientPort, len(ls))
			continue
		}
		if ls[0].Known {
			known++
			if a.Files == ls[0].File {
				right++
			}
		}
	}
	if known != 250 {
		t.Errorf("%d rows of catalog downloads, want 250", known)
	}
	if right*10 < known*9 {
		t.Errorf("%d of %d catalog downloads named correctly, want at least 90%%", right, known)
	}
}

// labClient is the lab client's address as the flows show it.
var labClient = netip.MustParseAddr("10.77.1.2")

func TestClassifyCSV(t *testing.T) {
	model := labModel(t)
	checkAnswers(t, classifyCSV(t, model, filepath.Join(lab, "test-near.v9")))

	// --out FILE.csv writes the same rows.
	path := filepath.Join(t.TempDir(), "downloads.csv")
	_, stderr, code := run(t, context.Background(), "classify", "--model", model, "--out", path, filepath.Join(lab, "test-near.v9"))
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "classify: 300 downloads") {
		t.Errorf("stderr lacks the summary:\n%s", stderr)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkAnswers(t, readCSVAnswers(t, string(data)))
	noLeftovers(t, filepath.Dir(path), "downloads.csv")
}

func TestClassifyParquet(t *testing.T) {
	model := labModel(t)
	path := filepath.Join(t.TempDir(), "downloads.parquet")
	_, stderr, code := run(t, context.Background(), "classify", "--model", model, "--out", path, filepath.Join(lab, "test-near.v9"))
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	rows, err := parquet.ReadFile[answer](path)
	if err != nil {
		t.Fatal(err)
	}
	checkAnswers(t, rows)
	// The Parquet rows are the CSV rows.
	if diff := cmp.Diff(classifyCSV(t, model, filepath.Join(lab, "test-near.v9")), rows); diff != "" {
		t.Errorf("Parquet rows differ from CSV rows (-csv +parquet):\n%s", diff)
	}
	noLeftovers(t, filepath.Dir(path), "downloads.parquet")
	// Readable like any other output, not private like a temporary file.
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("%s: mode %v (%v), want -rw-r--r--", path, st.Mode(), err)
	}
}

// TestClassifyFormatsAgree: NetFlow v5, v9, IPFIX, nfdump CSV and Argus
// records of the same downloads must give the same answer for every
// download (a product requirement), over IPv4 and IPv6 (NetFlow v5 cannot
// carry IPv6 addresses).
func TestClassifyFormatsAgree(t *testing.T) {
	model := labModel(t)
	extra := filepath.Join(lab, "..", "lab-extra")
	for _, c := range []struct {
		dir, run  string
		downloads int
		formats   []string
	}{
		{lab, "test-near", 300, []string{"v5", "ipfix", "nfdump.csv", "argus"}},
		{extra, "dev-ipv6", 180, []string{"ipfix", "nfdump.csv", "argus"}},
	} {
		want := byPort(t, classifyCSV(t, model, filepath.Join(c.dir, c.run+".v9")))
		if len(want) != c.downloads {
			t.Fatalf("%s.v9: %d downloads, want %d", c.run, len(want), c.downloads)
		}
		for _, f := range c.formats {
			src := c.run + "." + f
			t.Run(src, func(t *testing.T) {
				got := byPort(t, classifyCSV(t, model, filepath.Join(c.dir, src)))
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("answers by client port (-v9 +%s):\n%s", src, diff)
				}
			})
		}
	}
}

// TestClassifyPcap: the six downloads of sample.pcap, read as packets, get
// the answers their NetFlow v9 records get.
func TestClassifyPcap(t *testing.T) {
	model := labModel(t)
	set, err := labels.Load(context.Background(), filepath.Join(lab, "sample.labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	v9 := byPort(t, classifyCSV(t, model, filepath.Join(lab, "test-near.v9")))
	pcap := classifyCSV(t, model, filepath.Join(lab, "sample.pcap"))
	want := map[int32]string{}
	for _, l := range set.Labels {
		want[int32(l.ClientPort)] = v9[int32(l.ClientPort)]
	}
	if len(want) != 6 {
		t.Fatalf("sample labels: %d downloads, want 6", len(want))
	}
	if diff := cmp.Diff(want, byPort(t, pcap)); diff != "" {
		t.Errorf("answers by client port (-v9 +pcap):\n%s", diff)
	}
	// The answers must be worth comparing: the catalog downloads named.
	for _, l := range set.Labels {
		if l.Known && want[int32(l.ClientPort)] != l.File {
			t.Errorf("client port %d: answered %q, label says %s", l.ClientPort, want[int32(l.ClientPort)], l.File)
		}
	}
}

// TestClassifyBadInputs: unusable models and bad arguments end the run with
// a message and the matching exit status; a corrupt flow file among good
// ones is skipped (exit status 3) and the good ones are still classified.
func TestClassifyBadInputs(t *testing.T) {
	model := labModel(t)
	dir := t.TempDir()
	notModel := filepath.Join(dir, "model.ffm")
	if err := os.WriteFile(notModel, []byte("file,size\ncat-000.bin,8587060\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	flows := filepath.Join(lab, "test-near.v9")
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"model file that is not a model", []string{"--model", notModel, flows}, exitError,
			[]string{notModel, "not a usable fingerflow model file"}},
		{"model file that is a flow file", []string{"--model", filepath.Join(flows, "nfcapd.202611221900"), flows}, exitError,
			[]string{"nfcapd.202611221900", "not a usable fingerflow model file"}},
		{"no --model", []string{flows}, exitUsage, []string{"--model"}},
		{"no flows", []string{"--model", model}, exitUsage, []string{"PATH"}},
		{"output neither CSV nor Parquet", []string{"--model", model, "--out", filepath.Join(dir, "out.txt"), flows}, exitUsage,
			[]string{"out.txt"}},
		{"threshold above 1", []string{"--model", model, "--threshold", "1.5", flows}, exitUsage, []string{"--threshold"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := run(t, context.Background(), append([]string{"classify"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}

	t.Run("corrupt file among good ones", func(t *testing.T) {
		in := t.TempDir()
		good, err := os.ReadFile(filepath.Join(flows, "nfcapd.202611221900"))
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{
			"nfcapd.202611221900": good,
			"nfcapd.202611221905": good[:100], // cut in the file header
			"nfcapd.202611221910": []byte("not flows at all\n"),
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(in, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out, stderr, code := run(t, context.Background(), "classify", "--model", model, in)
		if code != exitPartial {
			t.Errorf("exit %d, want %d; stderr:\n%s", code, exitPartial, stderr)
		}
		for _, name := range []string{"nfcapd.202611221905", "nfcapd.202611221910"} {
			if !strings.Contains(stderr, "skipped "+filepath.Join(in, name)) {
				t.Errorf("stderr does not report %s skipped:\n%s", name, stderr)
			}
		}
		// classify reads its input twice (adaptation, then answers) but
		// reports each bad file once.
		for _, name := range []string{"nfcapd.202611221905", "nfcapd.202611221910"} {
			if n := strings.Count(stderr, filepath.Join(in, name)); n != 1 {
				t.Errorf("%s reported %d times, want once:\n%s", name, n, stderr)
			}
		}
		if !strings.Contains(stderr, "2 of 3 input files skipped") {
			t.Errorf("stderr lacks the skipped count:\n%s", stderr)
		}
		checkAnswers(t, readCSVAnswers(t, out))
	})
}

// TestClassifyAdapts: dev-mirror's server sends 63 header bytes more than
// the lab server the model was trained on. classify learns that from the
// input, says so, and names the catalog downloads; --adapt=false does not.
func TestClassifyAdapts(t *testing.T) {
	model := labModel(t)
	flows := filepath.Join(lab, "..", "lab-extra", "dev-mirror.v9")
	set, err := labels.Load(context.Background(), filepath.Join(lab, "..", "lab-extra", "dev-mirror.labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	named := func(args ...string) (int, string) {
		out, stderr, code := run(t, context.Background(), append([]string{"classify", "--model", model}, args...)...)
		if code != exitOK {
			t.Fatalf("classify %v: exit %d, stderr:\n%s", args, code, stderr)
		}
		n := 0
		for _, a := range readCSVAnswers(t, out) {
			if ls := set.ByClient(netip.MustParseAddr(a.Client), uint16(a.ClientPort)); len(ls) == 1 && ls[0].Known && ls[0].File == a.Files {
				n++
			}
		}
		return n, stderr
	}
	adapted, stderr := named(flows)
	if !strings.Contains(stderr, "server 10.77.0.1:80 sends +63 bytes per download") {
		t.Errorf("stderr does not report the server's offset:\n%s", stderr)
	}
	plain, stderr2 := named("--adapt=false", flows)
	if strings.Contains(stderr2, "sends") {
		t.Errorf("--adapt=false reported an offset:\n%s", stderr2)
	}
	t.Logf("catalog downloads named: %d adapted, %d as trained", adapted, plain)
	if adapted < 140 || plain > 40 {
		t.Errorf("%d of 150 catalog downloads named adapted (want ≥ 140), %d as trained (want ≤ 40)", adapted, plain)
	}
	// The lab's own server needs no offset.
	if _, stderr := named(filepath.Join(lab, "test-near.v9")); strings.Contains(stderr, "sends") {
		t.Errorf("an offset reported for the lab server:\n%s", stderr)
	}
	// Without a usable temporary directory the downloads cannot wait for
	// adaptation: classify says so and answers with the model as trained.
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	if n, stderr := named(flows); n != plain || !strings.Contains(stderr, "classifying with the model as trained") {
		t.Errorf("no temporary directory: %d named (want %d, as with --adapt=false), stderr:\n%s", n, plain, stderr)
	}
}

// TestClassifyAssumedTLS: a model calibrated on HTTP only carries assumed
// TLS profiles for port 443. classify fits dev-https's server to one of
// them (and finds its handshake's size) and names its downloads; without
// adaptation nothing fits them, so they stay unknown and classify says
// that no calibrated profile covers the port. The shipped model,
// calibrated on HTTPS too, needs neither.
func TestClassifyAssumedTLS(t *testing.T) {
	httpOnly := labModel(t)
	flows := filepath.Join(lab, "..", "lab-extra", "dev-https.v9")
	set, err := labels.Load(context.Background(), filepath.Join(lab, "..", "lab-extra", "dev-https.labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	classify := func(args ...string) (named, answered int, stderr string) {
		out, stderr, code := run(t, context.Background(), append([]string{"classify"}, args...)...)
		if code != exitOK {
			t.Fatalf("classify %v: exit %d, stderr:\n%s", args, code, stderr)
		}
		for _, a := range readCSVAnswers(t, out) {
			if a.Files != "unknown" {
				answered++
			}
			if ls := set.ByClient(netip.MustParseAddr(a.Client), uint16(a.ClientPort)); len(ls) == 1 && ls[0].Known && ls[0].File == a.Files {
				named++
			}
		}
		return named, answered, stderr
	}
	const note = "300 downloads went to server ports no calibrated profile covers (443: 300)"
	named, _, stderr := classify("--model", httpOnly, flows)
	if !strings.Contains(stderr, "server 10.77.0.1:443 fits assumed profile https-tls12-16383, +1262 bytes") || strings.Contains(stderr, note) {
		t.Errorf("HTTP-only model: stderr does not report the fitted profile (or reports the port uncovered):\n%s", stderr)
	}
	if named < 212 {
		t.Errorf("HTTP-only model, adapted: %d of 250 catalog downloads named, want at least 85%%", named)
	}
	_, answered, stderr := classify("--model", httpOnly, "--adapt=false", flows)
	if answered != 0 || !strings.Contains(stderr, note) {
		t.Errorf("HTTP-only model, unadapted: %d downloads answered (want 0), stderr:\n%s", answered, stderr)
	}
	out, _, code := run(t, context.Background(), "evaluate", "--model", httpOnly, "--adapt=false", "--flows", flows,
		"--labels", filepath.Join(lab, "..", "lab-extra", "dev-https.labels.csv"))
	if code != exitOK || !strings.Contains(out, "dev-https.v9: "+note) {
		t.Errorf("evaluate: exit %d, output lacks the note:\n%s", code, out)
	}
	if named, _, stderr := classify("--model", filepath.Join(lab, "lab.ffm"), flows); strings.Contains(stderr, "assumed") || strings.Contains(stderr, "no calibrated profile") || named < 235 {
		t.Errorf("shipped model: %d named, stderr:\n%s", named, stderr)
	}
}

// TestClassifyAllSkipped: when no input can be read, classify writes no
// output at all (neither --out nor a CSV header on stdout), as ingest
// refuses to, and exits 3.
func TestClassifyAllSkipped(t *testing.T) {
	bad := badInputs(t, t.TempDir())
	out := filepath.Join(t.TempDir(), "d.csv")
	for _, args := range [][]string{
		{"classify", "--model", filepath.Join(lab, "lab.ffm"), bad["empty"], bad["random"], "--out", out},
		{"classify", "--model", filepath.Join(lab, "lab.ffm"), bad["empty"], bad["random"]},
	} {
		stdout, stderr, code := run(t, context.Background(), args...)
		if code != exitPartial || stdout != "" || !strings.Contains(stderr, "not written: 2 of 2 input files skipped") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
	noLeftovers(t, filepath.Dir(out))
}

package features

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/argus"
	"github.com/fingerflow/fingerflow/datasets/flowio"
	"github.com/fingerflow/fingerflow/datasets/nfcapd"
	"github.com/fingerflow/fingerflow/datasets/nfcsv"
)

// pandasPython is Debian's interpreter, where python3-pandas installs.
const pandasPython = "/usr/bin/python3"

func needPandas(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("pandas cross-check skipped under -short")
	}
	if out, err := exec.Command(pandasPython, "-c", "import pandas").CombinedOutput(); err != nil {
		t.Skipf("pandas cross-check needs Debian's python3-pandas (%s -c 'import pandas': %v %s)", pandasPython, err, out)
	}
}

// readFlows reads a flow file or directory of nfcapd files through the
// project's readers.
func readFlows(t *testing.T, r datasets.Reader, path string) []datasets.Flow {
	t.Helper()
	paths := []string{path}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		ms, err := filepath.Glob(filepath.Join(path, "nfcapd.*"))
		if err != nil {
			t.Fatal(err)
		}
		paths = ms
	}
	var out []datasets.Flow
	for _, p := range paths {
		for f, err := range r.Flows(context.Background(), p) {
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no flows", path)
	}
	return out
}

// pandasRow is one row of hostrates.py's output.
type pandasRow struct {
	counts map[string]uint64
	vals   map[string]float64
}

func runPandas(t *testing.T, flows []datasets.Flow, internal []netip.Prefix) (map[string]pandasRow, [][2]float64) {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "flows.csv")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	w := flowio.NewCSVWriter(f)
	for i := range flows {
		if err := w.Write(&flows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	hosts, site := filepath.Join(dir, "hosts.csv"), filepath.Join(dir, "site.csv")
	args := []string{filepath.Join("testdata", "hostrates.py"), in, hosts, site}
	for _, p := range internal {
		args = append(args, p.String())
	}
	if out, err := exec.Command(pandasPython, args...).CombinedOutput(); err != nil {
		t.Fatalf("hostrates.py: %v\n%s", err, out)
	}
	rows := map[string]pandasRow{}
	for _, rec := range readCSV(t, hosts) {
		r := pandasRow{counts: map[string]uint64{}, vals: map[string]float64{}}
		for k, v := range rec {
			switch k {
			case "host":
			case "bytes_out", "bytes_in", "packets_out", "packets_in", "flows_out", "flows_in", "span_s":
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					t.Fatalf("hosts.csv: %s %q: %v", k, v, err)
				}
				r.counts[k] = n
			default:
				x, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("hosts.csv: %s %q: %v", k, v, err)
				}
				r.vals[k] = x
			}
		}
		rows[rec["host"]] = r
	}
	var series [][2]float64
	for _, rec := range readCSV(t, site) {
		b, err1 := strconv.ParseFloat(rec["bytes"], 64)
		p, err2 := strconv.ParseFloat(rec["packets"], 64)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("site.csv: %v", err)
		}
		series = append(series, [2]float64{b, p})
	}
	return rows, series
}

func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []map[string]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		m := map[string]string{}
		for i, c := range head {
			m[c] = rec[i]
		}
		out = append(out, m)
	}
}

// TestHostsAgainstPandas feeds real flow records (lab and population runs
// read by the project's readers) and six synthetic hours to HostAggregator
// and to hostrates.py (pandas) and requires the same per-host totals and
// spans, the same means (to rounding), P95 within the sketch's relative
// accuracy of pandas' value, and the site's whole series and P95 to
// rounding.
func TestHostsAgainstPandas(t *testing.T) {
	needPandas(t)
	// The lab's clients without its server (10.77.0.1, fd77::1): the
	// server's side of each flow is external.
	clients := []netip.Prefix{
		netip.MustParsePrefix("10.77.1.0/24"), netip.MustParsePrefix("10.77.6.0/24"),
		netip.MustParsePrefix("fd77:1::/64"),
	}
	for _, tc := range []struct {
		name   string
		reader datasets.Reader
		path   string
	}{
		{"test-near nfdump csv", &nfcsv.Reader{}, "../datasets/lab-dev/test-near.nfdump.csv"},
		{"dev-far nfdump csv", &nfcsv.Reader{}, "../datasets/lab-extra/dev-far.nfdump.csv"},
		{"dev-ipv6 nfdump csv", &nfcsv.Reader{}, "../datasets/lab-extra/dev-ipv6.nfdump.csv"},
		{"test-near argus biflows", &argus.Reader{}, "../datasets/lab-dev/test-near.argus"},
		{"population 40 hosts argus", &argus.Reader{}, "testdata/pop-near-40h-s1001.argus"},
		{"population 120 hosts v9", &nfcapd.Reader{}, "testdata/pop-near-120h-s1002.v9"},
	} {
		flows := readFlows(t, tc.reader, tc.path)
		crossCheck(t, tc.name, flows, clients)
	}
	// The lab runs last a minute or two: nothing is folded before the end.
	// Six synthetic hours of 200 hosts fold minute after minute.
	var flows []datasets.Flow
	for f := range synthFlows(200, 20000, 6*time.Hour, 11) {
		flows = append(flows, *f)
	}
	crossCheck(t, "synthetic 6 hours", flows, []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")})
}

// crossCheck runs flows through HostAggregator and hostrates.py, with the
// default internal networks and with clients alone internal.
func crossCheck(t *testing.T, name string, flows []datasets.Flow, clients []netip.Prefix) {
	for _, nets := range []struct {
		name string
		nets []netip.Prefix
	}{{"default internal", DefaultInternal()}, {"clients internal", clients}} {
		t.Run(name+"/"+nets.name, func(t *testing.T) {
			cfg := DefaultHostConfig()
			cfg.Internal = nets.nets
			a, err := NewHostAggregator(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i := range flows {
				a.Add(&flows[i])
			}
			want, wantSite := runPandas(t, flows, nets.nets)
			checkAgainstPandas(t, a, cfg.RelativeAccuracy, want, wantSite)
			if n := a.Site().LateRecords; n > 0 {
				t.Errorf("%d late records: the sketches' bound does not hold for them", n)
			}
		})
	}
}

func checkAgainstPandas(t *testing.T, a *HostAggregator, alpha float64, want map[string]pandasRow, wantSite [][2]float64) {
	t.Helper()
	hosts := a.Hosts()
	if len(hosts) != len(want)-1 {
		t.Errorf("%d hosts, pandas has %d", len(hosts), len(want)-1)
	}
	var worst [2]float64 // largest relative P95 difference: bytes, packets
	for _, h := range hosts {
		w, ok := want[h.Addr.String()]
		if !ok {
			t.Errorf("%s: not in pandas' output", h.Addr)
			continue
		}
		got := map[string]uint64{
			"bytes_out": h.BytesOut, "bytes_in": h.BytesIn, "packets_out": h.PacketsOut,
			"packets_in": h.PacketsIn, "flows_out": h.FlowsOut, "flows_in": h.FlowsIn,
			"span_s": uint64(h.Rates.Seconds),
		}
		for k, v := range got {
			if w.counts[k] != v {
				t.Errorf("%s: %s = %d, pandas %d", h.Addr, k, v, w.counts[k])
			}
		}
		for i, c := range []struct {
			col       string
			mean, p95 float64
		}{{"bytes", h.Rates.BytesMean, h.Rates.BytesP95}, {"packets", h.Rates.PacketsMean, h.Rates.PacketsP95}} {
			if !near(c.mean, w.vals[c.col+"_mean"], 1e-12) {
				t.Errorf("%s: %s mean %v, pandas %v", h.Addr, c.col, c.mean, w.vals[c.col+"_mean"])
			}
			// Host pages hold float32 (a relative error of about 1e-7)
			// before the sketch's alpha applies.
			p := w.vals[c.col+"_p95"]
			if !near(c.p95, p, alpha+1e-6) {
				t.Errorf("%s: %s P95 %v, pandas %v (lower %v, higher %v)", h.Addr, c.col, c.p95, p,
					w.vals[c.col+"_p95_lower"], w.vals[c.col+"_p95_higher"])
			}
			if p > 0 {
				worst[i] = max(worst[i], math.Abs(c.p95-p)/p)
			}
		}
	}
	s := a.Site()
	ws := want["site"]
	if s.Bytes != ws.counts["bytes_out"] || s.Packets != ws.counts["packets_out"] || s.Flows != ws.counts["flows_out"] ||
		uint64(s.Rates.Seconds) != ws.counts["span_s"] {
		t.Errorf("site: %d bytes, %d packets, %d flows, %d s; pandas %d, %d, %d, %d", s.Bytes, s.Packets, s.Flows, s.Rates.Seconds,
			ws.counts["bytes_out"], ws.counts["packets_out"], ws.counts["flows_out"], ws.counts["span_s"])
	}
	for _, c := range []struct {
		name string
		got  float64
	}{{"bytes_mean", s.Rates.BytesMean}, {"bytes_p95", s.Rates.BytesP95}, {"packets_mean", s.Rates.PacketsMean}, {"packets_p95", s.Rates.PacketsP95}} {
		if !near(c.got, ws.vals[c.name], 1e-12) {
			t.Errorf("site %s %v, pandas %v", c.name, c.got, ws.vals[c.name])
		}
	}
	if len(s.BytesPerSecond) != len(wantSite) {
		t.Fatalf("site series of %d s, pandas %d", len(s.BytesPerSecond), len(wantSite))
	}
	bad := 0
	for k, w := range wantSite {
		if !near(s.BytesPerSecond[k], w[0], 1e-12) || !near(s.PacketsPerSecond[k], w[1], 1e-12) {
			if bad++; bad <= 5 {
				t.Errorf("site second %d: %v bytes, %v packets; pandas %v, %v", k, s.BytesPerSecond[k], s.PacketsPerSecond[k], w[0], w[1])
			}
		}
	}
	t.Logf("%d hosts, %d flows, %d site seconds: totals and spans exact; largest P95 difference %.3f%% (bytes), %.3f%% (packets); site P95 %.6g B/s",
		len(hosts), s.Flows, len(wantSite), 100*worst[0], 100*worst[1], s.Rates.BytesP95)
}

// near reports whether got is within rel of want (relative), or both are
// tiny.
func near(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)+1e-9
}

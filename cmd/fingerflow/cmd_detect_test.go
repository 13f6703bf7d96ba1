package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// detectOut is what the tests read of detect --json.
type detectOut struct {
	Floods struct {
		Alarms []struct {
			Signature string    `json:"signature"`
			Target    string    `json:"target"`
			Port      *uint16   `json:"port"`
			Start     time.Time `json:"start"`
			End       time.Time `json:"end"`
			Packets   float64   `json:"packets"`
			PeakRate  float64   `json:"peak_rate"`
			MeanRate  float64   `json:"mean_rate"`
			Sources   []struct {
				Addr string `json:"addr"`
			} `json:"sources"`
			Spoofing struct {
				Distinct int  `json:"distinct"`
				Spoofed  bool `json:"spoofed"`
			} `json:"spoofing"`
			Ports []uint16 `json:"ports"`
		} `json:"alarms"`
	} `json:"floods"`
	Scans struct {
		Alarms []struct {
			Kind     string    `json:"kind"`
			Source   string    `json:"source"`
			Target   string    `json:"target"`
			Start    time.Time `json:"start"`
			End      time.Time `json:"end"`
			Contacts int       `json:"first_contacts"`
			Ports    []struct {
				Port uint16 `json:"port"`
			} `json:"ports"`
		} `json:"alarms"`
	} `json:"scans"`
	Unexpected struct {
		Skipped string `json:"skipped"`
		Alarms  []struct {
			Service string  `json:"service"`
			Measure string  `json:"measure"`
			Score   float64 `json:"score"`
		} `json:"alarms"`
	} `json:"unexpected"`
	Services []struct {
		Host  string `json:"host"`
		Ports []struct {
			Service string `json:"service"`
		} `json:"ports"`
	} `json:"services"`
}

func detectJSON(t *testing.T, args ...string) detectOut {
	t.Helper()
	stdout, stderr, code := run(t, context.Background(), append([]string{"detect", "--json"}, args...)...)
	if code != exitOK {
		t.Fatalf("detect %v: exit %d: %s", args, code, stderr)
	}
	var out detectOut
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("detect %v: %v", args, err)
	}
	return out
}

// attackRow is one attack of the lab run, from attacks.csv.
type attackRow struct {
	kind, target, ports string
	sources             []string
	// v9 and capture are the attack's window on the v9 records' clock
	// and on the capture's (v5, Argus).
	v9, capture [2]time.Time
}

func readAttacks(t *testing.T) []attackRow {
	t.Helper()
	f, err := os.Open(filepath.Join(attack, "attacks.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	tm := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04:05.000", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	var out []attackRow
	for _, r := range recs[1:] {
		out = append(out, attackRow{
			kind: r[col["kind"]], target: r[col["target"]], ports: r[col["ports"]],
			sources: strings.Split(r[col["sources"]], ";"),
			v9:      [2]time.Time{tm(r[col["start"]]), tm(r[col["end"]])},
			capture: [2]time.Time{tm(r[col["capture_start"]]), tm(r[col["capture_end"]])},
		})
	}
	return out
}

// overlaps reports whether [a0, a1] meets the window w widened by slack
// (IPFIX's records are shifted from v9's by about 0.6 s).
func overlaps(a0, a1 time.Time, w [2]time.Time, slack time.Duration) bool {
	return !a1.Before(w[0].Add(-slack)) && !a0.After(w[1].Add(slack))
}

// TestDetectAttackRun: every attack of the lab's attack run is found, in
// each export format, with its target, its window and its source (for the
// spoofed flood: that the sources are spoofed).
func TestDetectAttackRun(t *testing.T) {
	attacks := readAttacks(t)
	if len(attacks) != 9 {
		t.Fatalf("%d attacks in attacks.csv, want 9", len(attacks))
	}
	for _, format := range []string{"v5", "v9", "ipfix", "argus"} {
		t.Run(format, func(t *testing.T) {
			out := detectJSON(t, filepath.Join(attack, "lab-attack."+format))
			for _, f := range out.Floods.Alarms {
				if f.MeanRate > f.PeakRate || f.MeanRate <= 0 {
					t.Errorf("%s to %s: mean %.0f/s, peak %.0f/s: a mean above the peak", f.Signature, f.Target, f.MeanRate, f.PeakRate)
				}
			}
			for _, a := range attacks {
				window := a.v9
				if format == "v5" || format == "argus" {
					window = a.capture
				}
				found := ""
				switch a.kind {
				case "syn-flood", "syn-flood-spoofed", "rst-flood", "fin-flood", "udp-flood", "icmp-flood", "martian-sources":
					sig := strings.TrimSuffix(a.kind, "-spoofed")
					if a.kind == "martian-sources" {
						sig = "bogon-source"
					}
					for _, al := range out.Floods.Alarms {
						if al.Signature != sig || al.Target != a.target || !overlaps(al.Start, al.End, window, 2*time.Second) {
							continue
						}
						if al.Port != nil && fmt.Sprint(*al.Port) != a.ports {
							continue
						}
						var srcs []string
						for _, s := range al.Sources {
							srcs = append(srcs, s.Addr)
						}
						switch {
						case a.sources[0] == "random":
							if !al.Spoofing.Spoofed || al.Spoofing.Distinct < 500 {
								continue
							}
						case a.kind == "martian-sources":
							slices.Sort(srcs)
							want := slices.Sorted(slices.Values(a.sources))
							if !slices.Equal(srcs, want) {
								continue
							}
						default:
							if len(srcs) == 0 || srcs[0] != a.sources[0] || al.Spoofing.Spoofed {
								continue
							}
						}
						if sig == "udp-flood" && (len(al.Ports) == 0 || fmt.Sprint(al.Ports[0]) != a.ports) {
							continue
						}
						found = fmt.Sprintf("%s to %s from %v, %.0f packets, sources %v", al.Signature, al.Target, al.Start.Format("15:04:05.000"), al.Packets, srcs[:min(len(srcs), 3)])
					}
				case "vertical-scan", "horizontal-scan":
					for _, al := range out.Scans.Alarms {
						if al.Kind != a.kind || al.Source != a.sources[0] || !overlaps(al.Start, al.End, window, 2*time.Second) {
							continue
						}
						if a.kind == "vertical-scan" && (al.Target != a.target || al.Contacts < 1000) {
							continue
						}
						if a.kind == "horizontal-scan" && (al.Contacts < 200 || len(al.Ports) == 0 || fmt.Sprint(al.Ports[0].Port) != a.ports) {
							continue
						}
						found = fmt.Sprintf("%s by %s from %v, %d first contacts", al.Kind, al.Source, al.Start.Format("15:04:05.000"), al.Contacts)
					}
				default:
					t.Fatalf("attack kind %q unknown to the test", a.kind)
				}
				if found == "" {
					t.Errorf("%s: %s of %s from %v not found", format, a.kind, a.target, a.sources)
				} else {
					t.Logf("%s: %s", a.kind, found)
				}
			}
		})
	}
}

// TestDetectNoAlarmOnDownloads: the lab's download runs raise no alarm,
// and neither do they against a baseline of the others.
func TestDetectNoAlarmOnDownloads(t *testing.T) {
	var runs []string
	for _, g := range []string{"lab-dev/*.v9", "lab-extra/*.v9", "population/*.v9"} {
		m, err := filepath.Glob(filepath.Join("..", "..", "datasets", g))
		if err != nil || len(m) == 0 {
			t.Fatalf("%s: %v", g, err)
		}
		runs = append(runs, m...)
	}
	for _, r := range runs {
		out := detectJSON(t, r)
		if n := len(out.Floods.Alarms) + len(out.Scans.Alarms); n > 0 {
			t.Errorf("%s: %d alarms: %+v %+v", r, n, out.Floods.Alarms, out.Scans.Alarms)
		}
		if len(out.Services) == 0 {
			t.Errorf("%s: no service in the profile", r)
		}
	}
}

// TestDetectHistory records the lab's download runs as fourteen nights,
// then scores the attack run, unexpected on its flooded services, and two
// download runs, not unexpected.
func TestDetectHistory(t *testing.T) {
	db := filepath.Join(t.TempDir(), "lab.db")
	nights, _ := filepath.Glob(filepath.Join("..", "..", "datasets", "lab-extra", "*.v9"))
	nights = append(nights, filepath.Join(lab, "train-near.v9"), filepath.Join(lab, "train-https.v9"))
	for i, n := range nights {
		if _, stderr, code := run(t, context.Background(), "detect", "-q", "--db", db, "--record", "--night", fmt.Sprintf("2027-01-11.%02d", i+1), n); code != exitOK {
			t.Fatalf("record %s: exit %d: %s", n, code, stderr)
		}
	}
	// Recording a night again leaves it as it was.
	_, stderr, code := run(t, context.Background(), "detect", "--db", db, "--record", "--night", "2027-01-11.01", nights[1])
	if code != exitOK || !strings.Contains(stderr, "already in") {
		t.Errorf("recording a night twice: exit %d, %s", code, stderr)
	}
	out := detectJSON(t, "--db", db, filepath.Join(attack, "lab-attack.v9"))
	got := map[string]bool{}
	for _, a := range out.Unexpected.Alarms {
		got[a.Service+" "+a.Measure] = true
	}
	for _, want := range []string{"10.77.0.1 80/tcp flows", "10.77.0.1 443/tcp flows", "10.77.0.1 53/udp packets", "10.77.0.1 icmp packets"} {
		if !got[want] {
			t.Errorf("attack run: %s not unexpected (%s)", want, out.Unexpected.Skipped)
		}
	}
	for _, r := range []string{filepath.Join(lab, "test-near.v9"), "../../datasets/population/pop-near-24h-s1007.v9"} {
		out := detectJSON(t, "--db", db, "--night", "2027-01-12", r)
		if out.Unexpected.Skipped != "" || len(out.Unexpected.Alarms) > 0 {
			t.Errorf("%s: %+v", r, out.Unexpected)
		}
	}
	// Too few nights is said, not an error.
	out = detectJSON(t, "--db", db, "--night", "2027-01-11.02", filepath.Join(lab, "test-near.v9"))
	if !strings.Contains(out.Unexpected.Skipped, "baseline too short: 1 earlier night,") {
		t.Errorf("short baseline: %q", out.Unexpected.Skipped)
	}
}

var detectSummary = regexp.MustCompile(`in [0-9.]+s`)

// TestGoldenDetect pins detect's text on the attack run.
func TestGoldenDetect(t *testing.T) {
	stdout, stderr, code := run(t, context.Background(), "detect", filepath.Join(attack, "lab-attack.v9"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	checkGolden(t, "detect-lab-attack.v9.txt", stdout)
	checkGolden(t, "detect-lab-attack.v9.txt.stderr", detectSummary.ReplaceAllString(stderr, "in TIME"))
}

func TestDetectUsage(t *testing.T) {
	for _, args := range [][]string{
		{"detect", "--threshold", "syn=1/2", lab},
		{"detect", "--threshold", "syn-flood=0/2", lab},
		{"detect", "--threshold", "syn-flood=10", lab},
		{"detect", "--theta1", "0.9", lab},
		{"detect", "--alpha", "0", lab},
		{"detect", "--record", lab},
		{"detect", "--night", "x", lab},
		{"detect", "--not-bogon", "nonsense", lab},
		{"detect", "--db", "x.db", "--interval", "1ms", lab},
		{"detect"},
	} {
		if _, stderr, code := run(t, context.Background(), args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, exitUsage, stderr)
		}
	}
	if _, stderr, code := run(t, context.Background(), "detect", "--db", filepath.Join(t.TempDir(), "none.db"), lab); code != exitError || !strings.Contains(stderr, "none.db") {
		t.Errorf("missing database: exit %d: %s", code, stderr)
	}
}

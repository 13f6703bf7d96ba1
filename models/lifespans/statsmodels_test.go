package lifespans

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/models/internal/flowfiles"
)

const python = "/usr/bin/python3"

// crossCheckDirs are the repository's runs the lifespans are checked on:
// the attack run (TCP, UDP and ICMP; thousands of one-packet flows without
// FIN), a host population and lab downloads over HTTP and HTTPS.
var crossCheckDirs = []string{
	"lab-attack/lab-attack.v9",
	"population/pop-near-24h-s1007.v9",
	"lab-dev/test-near.v9",
	"lab-extra/dev-https.v9",
	"lab-extra/dev-far.v9",
}

// jsonFloat reads numbers and the strings "NaN", "+Inf", "-Inf".
type jsonFloat float64

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := strconv.ParseFloat(s, 64)
		*f = jsonFloat(v)
		return err
	}
	var v float64
	err := json.Unmarshal(b, &v)
	*f = jsonFloat(v)
	return err
}

type smGroup struct {
	Times    []jsonFloat  `json:"times"`
	NRisk    []jsonFloat  `json:"n_risk"`
	NEvents  []jsonFloat  `json:"n_events"`
	Surv     []jsonFloat  `json:"surv"`
	SE       []jsonFloat  `json:"se"`
	Median   jsonFloat    `json:"median"`
	MedianCI [2]jsonFloat `json:"median_ci"`
	Flows    int64        `json:"flows"`
	Ended    int64        `json:"ended"`
}

type smGrouping struct {
	Groups  map[string]smGroup `json:"groups"`
	LogRank *struct {
		Stat, P jsonFloat
		DF      int
	} `json:"logrank"`
}

func relDiff(a, b float64) float64 {
	switch {
	case math.IsNaN(a) && math.IsNaN(b), a == b:
		return 0
	case math.IsNaN(a) || math.IsNaN(b):
		return math.Inf(1)
	}
	return math.Abs(a-b) / math.Max(math.Abs(b), 1e-300)
}

// TestStatsmodels reads the runs with fingerflow's reader and, apart,
// nfdump's text of the same files with Python, which applies the censoring
// and grouping rule on its own and fits statsmodels' SurvfuncRight and
// survdiff: every group's curve, median, interval and every log-rank test
// must agree to 1e-9. A 0.5 s active timeout censors the downloads that
// lasted longer, as a live exporter with that timeout would have cut them.
func TestStatsmodels(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-check against statsmodels skipped in -short mode")
	}
	if _, err := os.Stat(python); err != nil {
		t.Skipf("cross-check against statsmodels skipped: %s not found (Debian: apt-get install python3-statsmodels)", python)
	}
	if _, err := exec.LookPath("nfdump"); err != nil {
		t.Skip("cross-check against statsmodels skipped: nfdump not installed (apt-get install nfdump)")
	}
	cfg := Config{ActiveTimeout: 500 * time.Millisecond, Ports: 5}
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{filepath.Join("testdata", "lifespans.py"), "0.5", "0", "5"}
	for _, d := range crossCheckDirs {
		dir := filepath.Join("..", "..", "datasets", d)
		flowfiles.Each(t, dir, l.Add)
		out, err := exec.Command("nfdump", "-R", dir, "-o", "csv").Output()
		if err != nil {
			t.Fatalf("nfdump -R %s: %v", dir, err)
		}
		csv := filepath.Join(t.TempDir(), filepath.Base(d)+".csv")
		if err := os.WriteFile(csv, out, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, csv)
	}
	cmd := exec.Command(python, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 3 {
		t.Skipf("cross-check against statsmodels skipped: %s", stderr.String())
	}
	if err != nil {
		t.Fatalf("lifespans.py: %v\n%s", err, stderr.String())
	}
	var ref map[string]smGrouping
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatal(err)
	}
	res, err := l.Result()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d flows, %d censored", res.Flows, res.Censored)
	const tol = 1e-9
	for _, g := range res.Groupings {
		want, ok := ref[g.Name]
		if !ok {
			t.Fatalf("no statsmodels grouping %q", g.Name)
		}
		if len(want.Groups) != len(g.Groups) {
			t.Fatalf("%s: %d groups, statsmodels %d", g.Name, len(g.Groups), len(want.Groups))
		}
		for _, gr := range g.Groups {
			w, ok := want.Groups[gr.Name]
			if !ok {
				t.Fatalf("%s: no statsmodels group %q", g.Name, gr.Name)
			}
			if gr.Flows != w.Flows || gr.Ended != w.Ended {
				t.Errorf("%s %s: %d flows, %d ended; statsmodels %d, %d", g.Name, gr.Name, gr.Flows, gr.Ended, w.Flows, w.Ended)
			}
			steps := gr.Curve.EventSteps()
			if len(steps) != len(w.Times) {
				t.Fatalf("%s %s: %d event times, statsmodels %d", g.Name, gr.Name, len(steps), len(w.Times))
			}
			for i, s := range steps {
				if relDiff(s.Time, float64(w.Times[i])) > tol || float64(s.AtRisk) != float64(w.NRisk[i]) || float64(s.Events) != float64(w.NEvents[i]) {
					t.Fatalf("%s %s: step %d %+v, statsmodels time %v at risk %v events %v", g.Name, gr.Name, i, s, w.Times[i], w.NRisk[i], w.NEvents[i])
				}
				if d := relDiff(s.Survival, float64(w.Surv[i])); d > tol {
					t.Errorf("%s %s: survival at %g: %g, statsmodels %g", g.Name, gr.Name, s.Time, s.Survival, w.Surv[i])
				}
				if d := relDiff(s.StdErr, float64(w.SE[i])); d > tol {
					t.Errorf("%s %s: std. error at %g: %g, statsmodels %g", g.Name, gr.Name, s.Time, s.StdErr, w.SE[i])
				}
			}
			if relDiff(gr.Median, float64(w.Median)) > tol || relDiff(gr.MedianLower, float64(w.MedianCI[0])) > tol || relDiff(gr.MedianUpper, float64(w.MedianCI[1])) > tol {
				t.Errorf("%s %s: median %g [%g, %g], statsmodels %g [%g, %g]", g.Name, gr.Name,
					gr.Median, gr.MedianLower, gr.MedianUpper, w.Median, w.MedianCI[0], w.MedianCI[1])
			}
			t.Logf("%s %s: %d flows, %d ended, median %g s [%g, %g]", g.Name, gr.Name, gr.Flows, gr.Ended, gr.Median, gr.MedianLower, gr.MedianUpper)
		}
		if want.LogRank == nil || g.LogRank == nil {
			t.Fatalf("%s: log-rank %v, statsmodels %v (%v)", g.Name, g.LogRank, want.LogRank, g.TestErr)
		}
		if relDiff(g.LogRank.Statistic(), float64(want.LogRank.Stat)) > tol || g.LogRank.DF() != want.LogRank.DF ||
			math.Abs(g.LogRank.PValue()-float64(want.LogRank.P)) > 1e-12 {
			t.Errorf("%s: log-rank %g on %d df, p %g; statsmodels %g on %d, p %g", g.Name,
				g.LogRank.Statistic(), g.LogRank.DF(), g.LogRank.PValue(), want.LogRank.Stat, want.LogRank.DF, want.LogRank.P)
		}
		t.Logf("%s: log-rank %.6g on %d df, p %.3g", g.Name, g.LogRank.Statistic(), g.LogRank.DF(), g.LogRank.PValue())
	}
}

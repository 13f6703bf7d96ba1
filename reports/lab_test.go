package reports

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/datasets/labels"
	"github.com/fingerflow/fingerflow/datasets/nfcsv"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/downloads"
)

// labDir holds the shipped lab data sets.
var labDir = filepath.Join("..", "datasets")

// loadRun reads DIR/RUN.nfdump.csv, assembles its downloads and joins them
// with DIR/RUN.labels.csv, the way fingerflow train and evaluate do.
func loadRun(t testing.TB, dir, run string) []downloads.Example {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(labDir, dir, run+".nfdump.csv")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s: %v", path, err)
	}
	var ds []features.Download
	for d, err := range features.Downloads(ctx, features.DefaultConfig(), (&nfcsv.Reader{}).Flows(ctx, path)) {
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	set, err := labels.Load(context.Background(), filepath.Join(labDir, dir, run+".labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := downloads.Join(ds, set)
	if len(ex) == 0 {
		t.Fatalf("%s: no labelled downloads", path)
	}
	return ex
}

// labEval is a small model trained on lab-dev train-near and its
// evaluation, shared by the tests (training takes a few seconds).
type labEval struct {
	model  *downloads.Model
	test   []downloads.Example // lab-dev test-near
	runs   []RunResult         // test-near, and dev-keepalive when lab-extra is present
	points []RetransmissionPoint
}

var (
	labOnce sync.Once
	lab     labEval
	labErr  error
)

func labResults(t testing.TB) *labEval {
	t.Helper()
	labOnce.Do(func() {
		cat, err := catalog.Load(context.Background(), filepath.Join(labDir, "lab-dev", "cat.csv"))
		if err != nil {
			labErr = err
			return
		}
		train := loadRun(t, "lab-dev", "train-near")
		opts := downloads.DefaultTrainOptions()
		opts.Verifier.Trees = 3
		m, err := downloads.Train(context.Background(), train, cat, opts)
		if err != nil {
			labErr = err
			return
		}
		lab.model = m
		sizes := map[string]float64{}
		for _, e := range cat.Entries {
			sizes[e.Name] = float64(e.Size)
		}
		for _, run := range [][2]string{{"lab-dev", "test-near"}, {"lab-extra", "dev-keepalive"}} {
			path := filepath.Join(labDir, run[0], run[1]+".nfdump.csv")
			if _, err := os.Stat(path); err != nil {
				continue // lab-extra may be absent
			}
			ex := loadRun(t, run[0], run[1])
			if run[1] == "test-near" {
				lab.test = ex
			}
			rs, err := evaluateBoth(m, ex)
			if err != nil {
				labErr = err
				return
			}
			lab.runs = append(lab.runs, RunResult{Name: run[1], Reports: rs})
			// Overhead of every answered single-file download, measured
			// against the file named.
			for i := range ex {
				if len(ex[i].Files) != 1 {
					continue
				}
				res := m.Classify(&ex[i].Download)
				if len(res.Files) != 1 {
					continue
				}
				lab.points = append(lab.points, RetransmissionPoint{
					Run:     run[1],
					Extra:   float64(res.Extra) / sizes[res.Files[0]],
					Correct: res.Files[0] == ex[i].Files[0],
				})
			}
		}
	})
	if labErr != nil {
		t.Fatal(labErr)
	}
	return &lab
}

func evaluateBoth(m *downloads.Model, ex []downloads.Example) ([]*downloads.Report, error) {
	r, err := downloads.Evaluate(context.Background(), "fingerflow", m, ex)
	if err != nil {
		return nil, err
	}
	rs := []*downloads.Report{r}
	if m.Baseline != nil {
		b, err := downloads.Evaluate(context.Background(), "bytes-only tree (published method)", m.Baseline, ex)
		if err != nil {
			return nil, err
		}
		rs = append(rs, b)
	}
	return rs, nil
}

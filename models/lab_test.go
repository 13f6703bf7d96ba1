package models

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/fingerflow/fingerflow/datasets/nfcsv"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/catalog"
	"github.com/fingerflow/fingerflow/models/labels"
)

// labDir is where the lab data sets live.
var labDir = filepath.Join("..", "datasets")

// loadRun reads RUN.nfdump.csv and RUN.labels.csv from dir and joins them.
func loadRun(t testing.TB, dir, run string) []Example {
	t.Helper()
	path := filepath.Join(labDir, dir, run+".nfdump.csv")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s: %v", path, err)
	}
	var ds []features.Download
	for d, err := range features.Downloads(context.Background(), features.DefaultConfig(), (&nfcsv.Reader{}).Flows(context.Background(), path)) {
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	set, err := labels.Load(filepath.Join(labDir, dir, run+".labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := Join(ds, set)
	return ex
}

func labCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load(filepath.Join(labDir, "lab-dev", "cat.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLabExplore(t *testing.T) {
	cat := labCatalog(t)
	var train []Example
	train = append(train, loadRun(t, "lab-dev", "train-near")...)
	train = append(train, loadRun(t, "lab-dev", "train-https")...)
	m, err := Train(context.Background(), train, cat, DefaultTrainOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Profiles {
		t.Logf("profile %s ports %v hdr %d mss %d base %.0f rec %d/%d resp %.0f req %.0f exact %d", p.Name, p.Ports, p.Hdr, p.MSS, p.Base, p.RecOverhead, p.RecSize, p.RespOverhead, p.ReqPayload, len(p.Exact))
	}
	bl, err := TrainBaseline(train, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range [][2]string{{"lab-dev", "test-near"}, {"lab-extra", "dev-far"}, {"lab-extra", "dev-keepalive"}, {"lab-extra", "dev-vpn"}, {"lab-extra", "dev-https"}} {
		ex := loadRun(t, run[0], run[1])
		r := Evaluate("model", m, ex)
		m.Params.MaxFiles = 1
		r1 := Evaluate("single", m, ex)
		m.Params.MaxFiles = 5
		t.Logf("%s single-only: %.3f reject %.3f", run[1], r1.Accuracy(), r1.Rejection())
		b := Evaluate("baseline", bl, ex)
		t.Logf("%s: model %.3f (%d/%d) reject %.3f (%d/%d) multi %.3f (%d/%d) | baseline %.3f", run[1], r.Accuracy(), r.KnownCorrect, r.Known, r.Rejection(), r.UnknownCorrect, r.Unknown, r.Recovery(), r.MultiFound, r.MultiFiles, b.Accuracy())
	}
}

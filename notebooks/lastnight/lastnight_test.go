package lastnight

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fingerflow/fingerflow/models/clusters"
	"github.com/fingerflow/fingerflow/notebooks/nbview"
	"github.com/fingerflow/fingerflow/reports"
)

// data is the repository's datasets directory.
var data = filepath.Join("..", "..", "datasets")

// TestAnalyse makes the shipped night, reads it back and checks the
// figures notebooks/README.md quotes, and that the tables and charts the
// notebook shows can be made from the run directory.
func TestAnalyse(t *testing.T) {
	if _, err := os.Stat(filepath.Join(data, Flows)); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	res, err := Analyse(context.Background(), data, dir)
	if err != nil {
		t.Fatal(err)
	}
	figs := res.Figures()
	if err := nbview.Verify(figs); err != nil {
		t.Error(err)
	}
	if len(figs) != 15 {
		t.Errorf("%d figures, want 15", len(figs))
	}
	n := res.Night
	if len(n.Missing) > 0 {
		t.Errorf("the run directory lacks %v", n.Missing)
	}
	if f := InventoryFrame(n.Hosts); f.Err != nil || f.Nrow() != 25 {
		t.Errorf("inventory frame: %d rows (%v)", f.Nrow(), f.Err)
	}
	if f := EvidenceFrame(res.Host.Verdict); f.Err != nil || f.Nrow() != len(res.Host.Verdict.Evidence) || f.Nrow() == 0 {
		t.Errorf("evidence frame: %d rows for %d items (%v)", f.Nrow(), len(res.Host.Verdict.Evidence), f.Err)
	}
	if f := UpdatesFrame(res.Host.Verdict); f.Err != nil || f.Nrow() != 2 {
		t.Errorf("updates frame: %d rows (%v)", f.Nrow(), f.Err)
	}
	if f := HistoryFrame(res.History); f.Err != nil || f.Nrow() != 1 || f.Col("OS").Elem(0).String() != "windows" {
		t.Errorf("history frame: %v", f)
	}
	// 10.77.1.30 made three connections, one of which carried the two
	// updates its verdict lists.
	if f, err := DownloadsFrame(context.Background(), n, ShownHost); err != nil || f.Nrow() != 3 {
		t.Errorf("%s's downloads: %d rows (%v)", ShownHost, f.Nrow(), err)
	} else if got := strings.Join(f.Col("Files").Records(), " "); !strings.Contains(got, "cat-021.bin+cat-027.bin") {
		t.Errorf("%s's downloads named %s, want cat-021.bin+cat-027.bin among them", ShownHost, got)
	}
	if f, err := DownloadsFrame(context.Background(), n, ""); err != nil || f.Nrow() != 133 {
		t.Errorf("the night's downloads: %d rows (%v), want 133", f.Nrow(), err)
	}
	if f := ClustersFrame(n); f.Err != nil || f.Nrow() != 2 {
		t.Errorf("clusters frame: %v", f)
	}
	cols := clusters.HostColumnNames()
	f, err := HostTableFrame(n, cols)
	if err != nil || f.Nrow() != 25 || f.Ncol() != len(cols)+1 {
		t.Errorf("host table frame: %d×%d (%v)", f.Nrow(), f.Ncol(), err)
	}
	p, labels, err := Projection(n)
	if err != nil {
		t.Fatal(err)
	}
	// The lab's server is a cluster of its own; every client is in the
	// other.
	server := 0
	for _, l := range labels {
		if l == 1 {
			server++
		}
	}
	if len(p.Points) != 25 || server != 1 {
		t.Errorf("%d points, %d hosts in cluster 1; want 25 and the server alone", len(p.Points), server)
	}
	var b bytes.Buffer
	if err := reports.ClusterChart(&b, "png", p, labels, n.Clusters); err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(&b); err != nil {
		t.Errorf("cluster chart: %v", err)
	}

	// Making the night again replaces it in the history instead of adding
	// a second one.
	again, err := Analyse(context.Background(), data, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Runs) != 1 || len(again.History) != 1 {
		t.Errorf("%d nights, %d of the host, after making the night twice; want 1 and 1", len(again.Runs), len(again.History))
	}
}

// TestReadErrors: a host the inventory does not list, and a directory that
// is no run directory, are errors naming them.
func TestReadErrors(t *testing.T) {
	if _, err := os.Stat(filepath.Join(data, Flows)); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	night, db := filepath.Join(dir, "night"), filepath.Join(dir, "fingerflow.db")
	if err := Make(context.Background(), data, night, db); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(context.Background(), night, db, "10.99.0.1"); err == nil || !strings.Contains(err.Error(), "10.99.0.1") {
		t.Errorf("error %v, want one naming 10.99.0.1", err)
	}
	if _, err := Read(context.Background(), dir, db, ShownHost); err == nil {
		t.Error("no error for a directory without run.json")
	}
	if _, err := Read(context.Background(), night, filepath.Join(dir, "none.db"), ShownHost); err == nil {
		t.Error("no error for a missing history database")
	}
}

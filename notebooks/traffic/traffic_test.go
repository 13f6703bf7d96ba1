package traffic

import (
	"bytes"
	"context"
	"image/png"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/fingerflow/fingerflow/models/lifespans"
	"github.com/fingerflow/fingerflow/notebooks/nbview"
	"github.com/fingerflow/fingerflow/reports"
)

// data is the repository's datasets directory.
var data = filepath.Join("..", "..", "datasets")

// TestAnalyse reads the shipped population and lab runs and checks the
// figures notebooks/README.md quotes, and that the tables and charts the
// notebook shows can be made from the result.
func TestAnalyse(t *testing.T) {
	if _, err := os.Stat(filepath.Join(data, Population)); err != nil {
		t.Skip(err)
	}
	res, err := Analyse(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	figs := res.Figures()
	if err := nbview.Verify(figs); err != nil {
		t.Error(err)
	}
	if len(figs) != 17 {
		t.Errorf("%d figures, want 17", len(figs))
	}
	s := res.Site.Stats
	if f := SecondsFrame(s); f.Nrow() != int(s.Rates.Seconds) || f.Err != nil {
		t.Errorf("seconds frame: %d rows for %d seconds (%v)", f.Nrow(), s.Rates.Seconds, f.Err)
	}
	if len(res.Site.Talkers.Tops) != len(TalkerStats) {
		t.Fatalf("%d statistics, want %d", len(res.Site.Talkers.Tops), len(TalkerStats))
	}
	for _, top := range res.Site.Talkers.Tops {
		f := TopFrame(res.Site.Talkers, top)
		if f.Err != nil || f.Nrow() != min(10, top.Distinct) {
			t.Errorf("%s: %d rows of %d distinct (%v)", top.Stat, f.Nrow(), top.Distinct, f.Err)
		}
	}
	if f := SourcesFrame(res.Site.Talkers); f.Err != nil || f.Nrow() != 10 {
		t.Errorf("sources frame: %d rows (%v)", f.Nrow(), f.Err)
	}
	// Every flow of the lab runs and the population ended (FIN or RST):
	// nothing is censored, so every group has a median.
	for _, r := range []lifespans.Result{res.Services, res.Kinds} {
		if r.Censored != 0 {
			t.Errorf("%d of %d flows censored", r.Censored, r.Flows)
		}
		for _, g := range r.Groupings {
			if f := GroupsFrame(g); f.Err != nil || f.Nrow() != len(g.Groups) {
				t.Errorf("%s: %d rows for %d groups (%v)", g.Name, f.Nrow(), len(g.Groups), f.Err)
			}
			var b bytes.Buffer
			if err := reports.LifespanChart(&b, "png", g, r.Config.Alpha); err != nil {
				t.Errorf("%s chart: %v", g.Name, err)
			} else if _, err := png.Decode(&b); err != nil {
				t.Errorf("%s chart: %v", g.Name, err)
			}
		}
	}
	if res.Services.Flows != 4100 || res.Kinds.Flows != 266 {
		t.Errorf("%d lab flows and %d population flows, want 4100 and 266", res.Services.Flows, res.Kinds.Flows)
	}
}

// TestReadError: a file that is not a flow file is an error naming it.
func TestReadError(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(bad, []byte("not flows\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadSite(context.Background(), []string{bad}, 10)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("notes.txt")) {
		t.Errorf("error %v, want one naming notes.txt", err)
	}
}

// TestHostKinds reads the shipped population's truth.
func TestHostKinds(t *testing.T) {
	kind, err := HostKinds(filepath.Join(data, PopulationHosts))
	if err != nil {
		t.Skip(err)
	}
	for _, c := range []struct {
		addr, want string
		ok         bool
	}{
		{"10.77.1.10", "debian", true},
		{"10.77.1.11", "none", true},
		{"10.77.0.1", "", false}, // the server is no population host
	} {
		got, ok := kind(netipMust(t, c.addr))
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %q, %v; want %q, %v", c.addr, got, ok, c.want, c.ok)
		}
	}
	if _, err := HostKinds(filepath.Join(data, Population, "..", "README.md")); err == nil {
		t.Error("no error for a file without ip and os columns")
	}
}

func netipMust(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

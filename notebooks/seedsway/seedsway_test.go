package seedsway

import (
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const population = "../../datasets/population/pop-near-24h-s1007"

// TestNightly runs nightly.py on the shipped population and checks that it
// finds the same hosts fingerflow's inventory lists (24 clients and the
// lab server) and names some of their OSes.
func TestNightly(t *testing.T) {
	for _, tool := range []string{"nfdump", "/usr/bin/python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian nfdump, python3-pandas, python3-sklearn)", tool)
		}
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import pandas, sklearn").Run(); err != nil {
		t.Skip("python3-pandas or python3-sklearn not installed")
	}
	out := t.TempDir()
	cmd := exec.Command("/usr/bin/python3", "nightly.py", "--flows", population+".v9", "--catalog", population+".catalog.csv",
		"--train-flows", "../../datasets/lab-dev/train-near.nfdump.csv", "--train-labels", "../../datasets/lab-dev/train-near.labels.csv", "--out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nightly.py: %v\n%s", err, b)
	}
	f, err := os.Open(filepath.Join(out, "inventory.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	withOS := 0
	for _, r := range recs[1:] {
		if r[1] != "unknown" {
			withOS++
		}
	}
	if len(recs)-1 != 25 || withOS < 10 {
		t.Errorf("%d hosts, %d with an OS: want 25 hosts and most clients named", len(recs)-1, withOS)
	}
	for _, name := range []string{"hosts.csv", "clusters.csv"} {
		if st, err := os.Stat(filepath.Join(out, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
}

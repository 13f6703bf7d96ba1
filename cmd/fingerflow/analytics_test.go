package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/fingerflow/fingerflow/datasets/history"
)

// TestRunWritesAnalytics: the nightly run writes stats.json and
// alarms.json, and stores the night's rates in the history database.
func TestRunWritesAnalytics(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	model := filepath.Join(lab, "lab.ffm")
	cat := "../../datasets/population/pop-near-24h-s1007.catalog.csv"
	for _, c := range []struct {
		name, input   string
		floods, scans int
		topSource     string
		groupings     int
	}{
		{"pop", "../../datasets/population/pop-near-24h-s1007.v9", 0, 0, "10.77.0.1", 2},
		// The second night groups lifespans by the first night's clusters.
		{"attack", filepath.Join(attack, "lab-attack.v9"), 8, 2, "10.77.0.1", 3},
	} {
		out := filepath.Join(dir, c.name)
		if _, stderr, code := run(t, ctx, "run", "-q", "--no-report", "--model", model, "--catalog", cat, "--out", out, c.input); code != exitOK {
			t.Fatalf("%s: exit %d: %s", c.name, code, stderr)
		}
		var stats struct {
			Top []struct {
				Key string `json:"key"`
			} `json:"top_srcip_bytes"`
			Tests []struct {
				By string `json:"by"`
			} `json:"lifespan_tests"`
		}
		var alarms struct {
			Floods   []struct{} `json:"floods"`
			Scans    []struct{} `json:"scans"`
			Services []struct {
				Host string `json:"host"`
			} `json:"services"`
		}
		for name, v := range map[string]any{"stats.json": &stats, "alarms.json": &alarms} {
			b, err := os.ReadFile(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatalf("%s %s: %v", c.name, name, err)
			}
		}
		if len(stats.Top) == 0 || stats.Top[0].Key != c.topSource || len(stats.Tests) != c.groupings {
			t.Errorf("%s: stats.json %+v", c.name, stats)
		}
		if len(alarms.Floods) != c.floods || len(alarms.Scans) != c.scans || len(alarms.Services) == 0 {
			t.Errorf("%s: %d floods, %d scans, %d services; want %d, %d and some", c.name, len(alarms.Floods), len(alarms.Scans), len(alarms.Services), c.floods, c.scans)
		}
	}
	db, err := history.OpenExisting(ctx, filepath.Join(dir, "fingerflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	vs, err := db.Metrics(ctx, "unexpected.flows_per_60s.mean", 0)
	if err != nil || len(vs) == 0 {
		t.Errorf("no rates stored: %v", err)
	}
}

package notebooks

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.clean.ipynb from Clean")

// committed lists the notebooks of this directory.
func committed(t *testing.T) []string {
	t.Helper()
	nbs, err := filepath.Glob("*.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	if len(nbs) < 3 {
		t.Fatalf("notebooks %v, want overhead, limits and traffic at least", nbs)
	}
	return nbs
}

// TestCommittedClean: the committed notebooks carry no outputs, execution
// counts or timings (go run ./notebooks/nbclean notebooks/*.ipynb strips
// them) and name the Go kernel.
func TestCommittedClean(t *testing.T) {
	for _, nb := range committed(t) {
		t.Run(nb, func(t *testing.T) {
			data, err := os.ReadFile(nb)
			if err != nil {
				t.Fatal(err)
			}
			clean, err := Clean(data)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(clean, data) {
				t.Errorf("%s carries outputs or run state: go run ./notebooks/nbclean notebooks/*.ipynb (diff -committed +clean):\n%s",
					nb, cmp.Diff(string(data), string(clean)))
			}
			var meta struct {
				Metadata struct {
					Kernelspec struct{ Name string } `json:"kernelspec"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(data, &meta); err != nil {
				t.Fatal(err)
			}
			if meta.Metadata.Kernelspec.Name != "gonb" {
				t.Errorf("kernel %q, want gonb", meta.Metadata.Kernelspec.Name)
			}
		})
	}
}

// TestKernelPinned: every notebook's set-up cell points GoNB's module at
// this checkout and pins GoNB's display package to the version
// install-kernel.sh installs.
func TestKernelPinned(t *testing.T) {
	script, err := os.ReadFile("install-kernel.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^GONB_VERSION=(v[0-9.]+)$`).FindSubmatch(script)
	if m == nil {
		t.Fatal("install-kernel.sh sets no GONB_VERSION")
	}
	want := "-require=github.com/janpfeifer/gonb@" + string(m[1])
	for _, nb := range committed(t) {
		data, err := os.ReadFile(nb)
		if err != nil {
			t.Fatal(err)
		}
		cells, err := Cells(data)
		if err != nil {
			t.Fatalf("%s: %v", nb, err)
		}
		var setup string
		for _, c := range cells {
			if c.Type == "code" {
				setup = c.Source
				break
			}
		}
		for _, w := range []string{"!*go mod edit", `-replace=github.com/fingerflow/fingerflow="${GONB_DIR}/.."`, want} {
			if !strings.Contains(setup, w) {
				t.Errorf("%s: the first code cell lacks %q:\n%s", nb, w, setup)
			}
		}
	}
}

// TestClean cleans a notebook GoNB executed (testdata/*.ipynb, made with
// jupyter nbconvert --execute) and compares with the golden
// testdata/*.clean.ipynb; cleaning that again changes nothing.
func TestClean(t *testing.T) {
	ins, err := filepath.Glob(filepath.Join("testdata", "*.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, in := range ins {
		if strings.HasSuffix(in, ".clean.ipynb") {
			continue
		}
		n++
		t.Run(filepath.Base(in), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Clean(data)
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(in, ".ipynb") + ".clean.ipynb"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Clean (-want +got):\n%s", diff)
			}
			if bytes.Equal(got, data) {
				t.Error("the executed notebook came out unchanged: it has outputs to strip")
			}
			again, err := Clean(got)
			if err != nil || !bytes.Equal(again, got) {
				t.Errorf("cleaning a clean notebook changed it (%v)", err)
			}
		})
	}
	if n == 0 {
		t.Fatal("no executed notebook under testdata")
	}
	for _, bad := range []string{`{"nbformat": 3, "worksheets": []}`, `{"nbformat": 4}`, `[1, 2]`, `{"nbformat": 4, "cells": [1]}`} {
		if _, err := Clean([]byte(bad)); err == nil {
			t.Errorf("Clean(%s): no error", bad)
		}
	}
}

// TestExecute runs every notebook with Jupyter's nbconvert on the GoNB
// kernel, as a user opening it would: a cell that fails (a step returning
// an error, a quoted figure that no longer holds) fails the test. It skips
// under -short and when Jupyter or the kernel is missing, unless
// FINGERFLOW_NOTEBOOKS=require (CI), when their absence fails it.
func TestExecute(t *testing.T) {
	if testing.Short() {
		t.Skip("executing the notebooks takes a minute or two")
	}
	required := os.Getenv("FINGERFLOW_NOTEBOOKS") == "require"
	missing := func(format string, args ...any) {
		t.Helper()
		if required {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (notebooks/install-kernel.sh; Debian jupyter-nbconvert)", args...)
	}
	jupyter, err := exec.LookPath("jupyter")
	if err != nil {
		missing("jupyter not installed")
	}
	if !kernelInstalled(jupyter) {
		missing("no gonb kernel among Jupyter's kernels")
	}
	for _, nb := range committed(t) {
		t.Run(nb, func(t *testing.T) {
			out := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			// --allow-errors: the executed notebook is written even when a
			// cell fails, with the cell's stderr, for the failure message.
			cmd := exec.CommandContext(ctx, jupyter, "nbconvert", "--to", "notebook", "--execute", "--allow-errors",
				"--ExecutePreprocessor.timeout=600", "--output-dir", out, nb)
			// What the kernel and the notebooks put in the temporary
			// directory goes with the test's.
			cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("jupyter nbconvert --execute %s: %v\n%s", nb, err, lastLines(b, 40))
			}
			data, err := os.ReadFile(filepath.Join(out, nb))
			if err != nil {
				t.Fatal(err)
			}
			kinds, failed, err := outputs(data)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range failed {
				t.Errorf("%s: a cell failed:\n%s", nb, f)
			}
			// Tables are HTML, charts PNG.
			if kinds["text/html"] < 2 || kinds["image/png"] < 2 {
				t.Errorf("%s: outputs %v: want tables and charts", nb, kinds)
			}
		})
	}
}

// kernelInstalled reports whether a gonb kernel spec lies in one of
// Jupyter's data directories.
func kernelInstalled(jupyter string) bool {
	b, err := exec.Command(jupyter, "--paths", "--json").Output()
	if err != nil {
		return false
	}
	var paths struct {
		Data []string `json:"data"`
	}
	if json.Unmarshal(b, &paths) != nil {
		return false
	}
	for _, d := range paths.Data {
		if _, err := os.Stat(filepath.Join(d, "kernels", "gonb", "kernel.json")); err == nil {
			return true
		}
	}
	return false
}

// outputs counts an executed notebook's displays by MIME type, and
// returns for every cell that failed its source, what it wrote to stderr
// and its error.
func outputs(data []byte) (kinds map[string]int, failed []string, err error) {
	var nb struct {
		Cells []struct {
			Source  json.RawMessage `json:"source"`
			Outputs []struct {
				Type   string                     `json:"output_type"`
				Name   string                     `json:"name"`
				Text   json.RawMessage            `json:"text"`
				Data   map[string]json.RawMessage `json:"data"`
				EValue string                     `json:"evalue"`
			} `json:"outputs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(data, &nb); err != nil {
		return nil, nil, err
	}
	cells, err := Cells(data)
	if err != nil {
		return nil, nil, err
	}
	kinds = map[string]int{}
	for i, c := range nb.Cells {
		var stderr, evalue strings.Builder
		bad := false
		for _, o := range c.Outputs {
			for mime := range o.Data {
				kinds[mime]++
			}
			switch {
			case o.Type == "error":
				bad = true
				evalue.WriteString(o.EValue)
			case o.Type == "stream" && o.Name == "stderr":
				stderr.WriteString(multiline(o.Text))
			}
		}
		if bad {
			failed = append(failed, fmt.Sprintf("%s\n---\n%s%s", cells[i].Source, stderr.String(), evalue.String()))
		}
	}
	return kinds, failed, nil
}

// multiline reads nbformat's text: one string or a list of lines.
func multiline(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err != nil {
		return string(raw)
	}
	return strings.Join(lines, "")
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

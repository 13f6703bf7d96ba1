package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestClean rewrites a copy of an executed notebook in place as its
// golden clean form, leaves a clean one untouched, and names a file that
// is no notebook in its error.
func TestClean(t *testing.T) {
	executed, err := os.ReadFile(filepath.Join("..", "testdata", "executed.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "testdata", "executed.clean.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "n.ipynb")
	if err := os.WriteFile(path, executed, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := clean(path); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("cleaned notebook differs from testdata/executed.clean.ipynb:\n%s", got)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v (%v), want 0640 kept", st.Mode(), err)
	}
	before, _ := os.Stat(path)
	if err := clean(path); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(path); !after.ModTime().Equal(before.ModTime()) {
		t.Error("a clean notebook was rewritten")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files left in the directory, want the notebook only", len(entries))
	}

	bad := filepath.Join(dir, "notes.ipynb")
	if err := os.WriteFile(bad, []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := clean(bad); err == nil || !bytes.Contains([]byte(err.Error()), []byte("notes.ipynb")) {
		t.Errorf("error %v, want one naming notes.ipynb", err)
	}
}

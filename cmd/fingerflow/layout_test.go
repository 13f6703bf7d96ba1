package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// layers are the top-level folders in pipeline order: a package may import
// its own layer and those before it, never one after.
var layers = [...]string{"datasets", "features", "models", "reports", "cmd", "notebooks"}

func layerOf(dir string) int {
	top, _, _ := strings.Cut(filepath.ToSlash(dir), "/")
	for i, l := range layers {
		if l == top {
			return i
		}
	}
	return -1
}

// TestNoUpwardImports: datasets ← features ← models ← reports ← cmd.
func TestNoUpwardImports(t *testing.T) {
	root := filepath.Join("..", "..")
	const module = "github.com/fingerflow/fingerflow/"
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		from := layerOf(rel)
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(p, module) {
				continue
			}
			if to := layerOf(strings.TrimPrefix(p, module)); to > from {
				t.Errorf("%s imports %s: %s may not import %s", path, p, layers[max(from, 0)], layers[to])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

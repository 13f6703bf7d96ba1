// Command nbclean strips the outputs, execution counts and timings from
// notebooks, in place, so that their diffs show only what was edited:
//
//	go run ./notebooks/nbclean notebooks/*.ipynb
//
// A notebook that is already clean is left untouched.
package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/fingerflow/fingerflow/notebooks"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: nbclean NOTEBOOK.ipynb...")
		os.Exit(2)
	}
	status := 0
	for _, path := range os.Args[1:] {
		if err := clean(path); err != nil {
			fmt.Fprintln(os.Stderr, "nbclean:", err)
			status = 1
		}
	}
	os.Exit(status)
}

func clean(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := notebooks.Clean(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if bytes.Equal(out, data) {
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".nbclean"
	if err := os.WriteFile(tmp, out, st.Mode().Perm()); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	fmt.Println("cleaned", path)
	return nil
}

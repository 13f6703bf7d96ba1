package main

import (
	"os"

	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// createAtomic starts the output file dest (see nightdir.AtomicFile).
// Commands call it before they read or train anything, so an output
// directory that does not exist or cannot be written is reported at once.
func createAtomic(dest string) (*nightdir.AtomicFile, error) { return nightdir.CreateAtomic(dest) }

// checkNotInput refuses an output that is also one of the inputs: the same
// file, also through a link or as a file of a directory argument. Writing
// it would replace an input before, or while, it is read. An empty out
// (stdout) is never an input.
func checkNotInput(out string, inputs []string) error {
	if out == "" {
		return nil
	}
	ost, err := os.Stat(out)
	if err != nil {
		return nil // not there yet: nothing to overwrite
	}
	for _, in := range inputs {
		if ist, err := os.Stat(in); err == nil && os.SameFile(ost, ist) {
			if in == out {
				return usagef("--out %s is also an input: write the output elsewhere", out)
			}
			return usagef("--out %s is also an input (as %s): write the output elsewhere", out, in)
		}
	}
	return nil
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// atomicFile is an output file written next to its destination under a
// hidden temporary name and renamed over it only when complete, so a
// failed or interrupted run never leaves a partial file behind.
type atomicFile struct {
	*os.File
	dest string
	done bool
}

func createAtomic(dest string) (*atomicFile, error) {
	dir, base := filepath.Split(dest)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dest, err)
	}
	return &atomicFile{File: f, dest: dest}, nil
}

// commit makes the file durable and readable like any other output, and
// puts it in place.
func (a *atomicFile) commit() error {
	for _, step := range []func() error{a.Sync, func() error { return a.Chmod(0o644) }, a.Close} {
		if err := step(); err != nil {
			return fmt.Errorf("%s: %w", a.dest, err)
		}
	}
	if err := os.Rename(a.Name(), a.dest); err != nil {
		return err
	}
	a.done = true
	return nil
}

// abort removes the file unless it was committed; deferring it is safe.
func (a *atomicFile) abort() {
	if !a.done {
		a.Close()
		os.Remove(a.Name())
	}
}

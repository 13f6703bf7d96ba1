package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// atomicFile is an output file written next to its destination under a
// hidden temporary name and renamed over it only when complete, so a
// failed or interrupted run never leaves a partial file behind. Its errors
// name the destination, the path the user gave, never the temporary name.
type atomicFile struct {
	f    *os.File
	dest string
	done bool
}

// createAtomic starts the output file dest. Commands call it before they
// read or train anything, so an output directory that does not exist or
// cannot be written is reported at once.
func createAtomic(dest string) (*atomicFile, error) {
	dir, base := filepath.Split(dest)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, destError(dest, err)
	}
	return &atomicFile{f: f, dest: dest}, nil
}

// destError names dest in an error about the file written for it.
func destError(dest string, err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return &fs.PathError{Op: pe.Op, Path: dest, Err: pe.Err}
	case errors.As(err, &le):
		return &fs.PathError{Op: le.Op, Path: dest, Err: le.Err}
	}
	return fmt.Errorf("%s: %w", dest, err)
}

func (a *atomicFile) Write(p []byte) (int, error) {
	n, err := a.f.Write(p)
	if err != nil {
		err = destError(a.dest, err)
	}
	return n, err
}

// size is how many bytes were written so far.
func (a *atomicFile) size() (int64, error) {
	st, err := a.f.Stat()
	if err != nil {
		return 0, destError(a.dest, err)
	}
	return st.Size(), nil
}

// commit makes the file durable and readable like any other output, and
// puts it in place.
func (a *atomicFile) commit() error {
	for _, step := range []func() error{a.f.Sync, func() error { return a.f.Chmod(0o644) }, a.f.Close} {
		if err := step(); err != nil {
			return destError(a.dest, err)
		}
	}
	if err := os.Rename(a.f.Name(), a.dest); err != nil {
		return destError(a.dest, err)
	}
	a.done = true
	return nil
}

// abort removes the file unless it was committed; deferring it is safe.
// It runs on a run's failure path, whose error is the one reported: a
// temporary file that cannot be removed is the lesser problem, so its
// error is not.
func (a *atomicFile) abort() {
	if !a.done {
		a.f.Close()
		os.Remove(a.f.Name())
	}
}

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

// outputSet writes a run's files into a directory under temporary names
// and puts them all in place at the end, so an interrupted run leaves the
// previous night's files as they were.
type outputSet struct {
	dir   string
	files []*atomicFile
}

func newOutputSet(dir string) *outputSet { return &outputSet{dir: dir} }

func (o *outputSet) create(name string) (*atomicFile, error) {
	f, err := createAtomic(filepath.Join(o.dir, name))
	if err != nil {
		return nil, err
	}
	o.files = append(o.files, f)
	return f, nil
}

func (o *outputSet) write(name string, fill func(io.Writer) error) error {
	f, err := o.create(name)
	if err != nil {
		return err
	}
	return fill(f)
}

func (o *outputSet) commit() error {
	for _, f := range o.files {
		if err := f.commit(); err != nil {
			return err
		}
	}
	return nil
}

func (o *outputSet) abort() {
	for _, f := range o.files {
		f.abort()
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/fingerflow/fingerflow/datasets/history"
)

// defaultHistoryDB is the history database's file name: beside the run's
// output directory for `run`, in the current directory for the commands
// that read it unless --db names another.
const defaultHistoryDB = "fingerflow.db"

// openHistory opens an existing history database for a query command. A
// missing file is an error naming it and is not created; a file that is
// not a fingerflow history database, or is newer than this fingerflow, is
// refused untouched.
func openHistory(ctx context.Context, path string) (*history.DB, error) {
	db, err := history.OpenExisting(ctx, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (nightly runs write it; --db names another)", err)
	}
	return db, err
}

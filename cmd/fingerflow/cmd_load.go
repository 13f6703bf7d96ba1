package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/clickhouse"
	"github.com/fingerflow/fingerflow/reports"
)

// loadOptions are the flags of `fingerflow load`.
type loadOptions struct {
	dsn string
}

func newLoadCommand(gopts *globalOptions) *cobra.Command {
	var opts loadOptions
	cmd := &cobra.Command{
		Use:   "load --clickhouse DSN PATH...",
		Short: "Load flow files of any supported format into a ClickHouse table",
		Long: `load reads every flow of every input (files, directories, glob patterns)
and inserts them into the flows table the DSN names, creating the database,
the table and its table of loaded files where they do not exist:

  clickhouse://[user[:password]@]host[:port][/database][?table=T&files=F]

(native protocol, port 9000 by default; database "default", table "flows",
files table T_files). A file is loaded whole or not at all: its rows become
visible only once all of them are in, and a load that fails or is killed
leaves nothing behind (the next load deletes what a killed one inserted).
A file whose content was loaded before is not loaded again, under whatever
name.

Files that cannot be read, or are damaged part-way, are reported on stderr,
one line each, and none of their flows is loaded; the exit status is then 3.`,
		Example: `  fingerflow load --clickhouse clickhouse://localhost/night datasets/lab-dev/test-near.v9
  fingerflow load --clickhouse 'clickhouse://ff:secret@db1:9000/flows?table=flows' /var/cache/nfdump/2027/01/11`,
		Args: atLeastOnePath,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLoad(cmd.Context(), opts, gopts, args)
		},
	}
	cmd.Flags().StringVar(&opts.dsn, "clickhouse", "", "ClickHouse DSN of the flows table (required)")
	return cmd
}

func runLoad(ctx context.Context, opts loadOptions, gopts *globalOptions, args []string) error {
	started := time.Now()
	if opts.dsn == "" {
		return usagef("load: --clickhouse DSN is needed")
	}
	cfg, err := clickhouse.ParseDSN(opts.dsn)
	if err != nil {
		return usageError{err}
	}
	in, err := expandInputs(ctx, args, gopts.stderr)
	if err != nil {
		return err
	}
	store, err := clickhouse.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.CreateSchema(ctx); err != nil {
		return err
	}
	if n, err := store.DiscardAbandoned(ctx); err != nil {
		return err
	} else if n > 0 {
		gopts.infof("load: deleted the rows of %d loads that did not finish\n", n)
	}
	reg := newRegistry(gopts.logger)
	count := in.Count()
	var loaded, already int
	var flows uint64
	var bytes int64
	for _, path := range in.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, readErr, err := loadFile(ctx, store, reg, path)
		switch {
		case err == nil && res.Already:
			already++
			gopts.logger.Debug("already loaded", "file", path, "sha256", res.Hash)
		case err == nil:
			loaded++
			flows += res.Records
			bytes += res.Size
			gopts.logger.Debug("loaded", "file", path, "format", res.Format, "flows", res.Records)
		case ctx.Err() != nil:
			return ctx.Err()
		case readErr:
			reportFileError(gopts.stderr, path, err)
			count.Skipped++
			count.SkippedFiles = append(count.SkippedFiles, datasets.SkippedFile{Path: path, Err: err})
		default:
			// The server failed, not the file: the next files would fail
			// the same way.
			return err
		}
	}
	elapsed := time.Since(started)
	gopts.infof("load: %d files loaded (%s, %d flows), %d already loaded, %d skipped, into %s in %s, %.0f flows/s\n",
		loaded, reports.HumanBytes(uint64(bytes)), flows, already, count.Skipped, cfg, elapsed.Round(time.Millisecond),
		float64(flows)/max(elapsed.Seconds(), 1e-9))
	return count.Err()
}

// loadFile loads one file. readErr reports whether err is the file's
// (unknown format, damaged content) rather than the server's.
func loadFile(ctx context.Context, store *clickhouse.Store, reg *datasets.Registry, path string) (res clickhouse.Loaded, readErr bool, err error) {
	rd, err := reg.Detect(ctx, path)
	if err != nil {
		return res, true, err
	}
	id, err := clickhouse.Identify(ctx, path)
	if err != nil {
		return res, true, err
	}
	id.Format = rd.Format()
	var ferr error
	flows := func(yield func(datasets.Flow, error) bool) {
		for f, err := range rd.Flows(ctx, path) {
			if err != nil {
				ferr = err
			}
			if !yield(f, err) || err != nil {
				return
			}
		}
	}
	res, err = store.Load(ctx, id, iter.Seq2[datasets.Flow, error](flows))
	if err != nil && ferr != nil && !errors.Is(ferr, context.Canceled) {
		return res, true, fmt.Errorf("%s: none of its flows loaded: %w", path, ferr)
	}
	return res, false, err
}

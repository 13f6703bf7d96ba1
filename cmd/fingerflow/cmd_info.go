package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/reports"
)

// infoOptions are the flags of `fingerflow info`.
type infoOptions struct {
	json bool
}

func newInfoCommand(gopts *globalOptions) *cobra.Command {
	var opts infoOptions
	cmd := &cobra.Command{
		Use:   "info PATH...",
		Short: "Describe flow files: format, counts, time range, exporters",
		Long: `info reads each flow file (directories are walked, glob patterns expanded)
and prints what it is, like nfdump -I: format and version, compression,
ident, flow/packet/byte counts, time range, exporters, sampling rates and
the protocol mix.

A file that cannot be read is reported on stderr, one line naming it, and
the others are still described; the exit status is then 3.`,
		Args: atLeastOnePath,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInfo(cmd.Context(), opts, gopts, args)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print a JSON array of file descriptions")
	return cmd
}

func runInfo(ctx context.Context, opts infoOptions, gopts *globalOptions, args []string) error {
	reg := newRegistry(gopts.logger)
	in, err := expandInputs(ctx, args, gopts.stderr)
	if err != nil {
		return err
	}
	files, count := in.Files, in.Count()
	var described []datasets.FileInfo
	for i, path := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := reg.Inspect(ctx, path)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			reportFileError(gopts.stderr, path, err)
			count.Skipped++
			continue
		}
		gopts.logger.Debug("described", "file", path, "format", info.Format, "flows", info.Flows)
		if opts.json {
			described = append(described, info)
			continue
		}
		if i > 0 {
			fmt.Fprintln(gopts.stdout)
		}
		if err := reports.WriteFileInfo(gopts.stdout, info); err != nil {
			return err
		}
	}
	if opts.json {
		if err := reports.WriteFileInfoJSON(gopts.stdout, described); err != nil {
			return err
		}
	}
	return count.Err()
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/datasets"
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

// fileInfoJSON is the --json form of datasets.FileInfo.
type fileInfoJSON struct {
	Path          string            `json:"path"`
	Format        string            `json:"format"`
	Version       string            `json:"version,omitempty"`
	Compression   string            `json:"compression,omitempty"`
	Ident         string            `json:"ident,omitempty"`
	Flows         uint64            `json:"flows"`
	Packets       uint64            `json:"packets"`
	Bytes         uint64            `json:"bytes"`
	First         *time.Time        `json:"first,omitempty"`
	Last          *time.Time        `json:"last,omitempty"`
	Exporters     []string          `json:"exporters"`
	SamplingRates []uint32          `json:"sampling_rates"`
	Protocols     map[string]uint64 `json:"protocols"`
	Notes         []string          `json:"notes,omitempty"`
}

func runInfo(ctx context.Context, opts infoOptions, gopts *globalOptions, args []string) error {
	reg := newRegistry(gopts.logger)
	in, err := expandInputs(ctx, args, gopts.stderr)
	if err != nil {
		return err
	}
	files, count := in.files, in.count()
	var out []fileInfoJSON
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
			count.skipped++
			continue
		}
		gopts.logger.Debug("described", "file", path, "format", info.Format, "flows", info.Flows)
		if opts.json {
			out = append(out, toJSON(info))
			continue
		}
		if i > 0 {
			fmt.Fprintln(gopts.stdout)
		}
		printInfo(gopts.stdout, info)
	}
	if opts.json {
		if out == nil {
			out = []fileInfoJSON{}
		}
		enc := json.NewEncoder(gopts.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	return count.err()
}

func sortedProtocols(m map[uint8]uint64) []uint8 {
	protos := slices.Collect(maps.Keys(m))
	slices.SortFunc(protos, func(a, b uint8) int {
		if m[a] != m[b] {
			if m[a] > m[b] {
				return -1
			}
			return 1
		}
		return int(a) - int(b)
	})
	return protos
}

func samplingText(rates []uint32) string {
	if len(rates) == 0 {
		return "-"
	}
	var parts []string
	for _, r := range slices.Sorted(slices.Values(rates)) {
		switch r {
		case 0:
			parts = append(parts, "unknown")
		case 1:
			parts = append(parts, "none (1:1)")
		default:
			parts = append(parts, fmt.Sprintf("1:%d", r))
		}
	}
	return strings.Join(parts, ", ")
}

func printInfo(w io.Writer, info datasets.FileInfo) {
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "  %-12s %s\n", k+":", v)
		}
	}
	fmt.Fprintln(w, info.Path)
	line("Format", info.Format)
	line("Version", info.Version)
	line("Compression", info.Compression)
	line("Ident", info.Ident)
	line("Flows", fmt.Sprint(info.Flows))
	line("Packets", fmt.Sprint(info.Packets))
	line("Bytes", fmt.Sprintf("%d (%s)", info.Bytes, humanBytes(info.Bytes)))
	if !info.First.IsZero() {
		line("First", info.First.UTC().Format(time.RFC3339Nano))
		line("Last", info.Last.UTC().Format(time.RFC3339Nano))
		line("Duration", info.Last.Sub(info.First).String())
	}
	var exp []string
	for _, a := range info.Exporters {
		exp = append(exp, a.String())
	}
	if len(exp) == 0 {
		exp = []string{"unknown"}
	}
	line("Exporters", strings.Join(exp, ", "))
	line("Sampling", samplingText(info.SamplingRates))
	var protos []string
	for _, p := range sortedProtocols(info.Protocols) {
		protos = append(protos, fmt.Sprintf("%s %d (%.1f%%)", datasets.ProtoName(p), info.Protocols[p], 100*float64(info.Protocols[p])/float64(max(info.Flows, 1))))
	}
	line("Protocols", strings.Join(protos, ", "))
	for _, n := range info.Notes {
		line("Note", n)
	}
}

func toJSON(info datasets.FileInfo) fileInfoJSON {
	j := fileInfoJSON{
		Path: info.Path, Format: info.Format, Version: info.Version,
		Compression: info.Compression, Ident: info.Ident,
		Flows: info.Flows, Packets: info.Packets, Bytes: info.Bytes,
		Exporters: []string{}, SamplingRates: []uint32{}, Protocols: map[string]uint64{},
		Notes: info.Notes,
	}
	if !info.First.IsZero() {
		first, last := info.First.UTC(), info.Last.UTC()
		j.First, j.Last = &first, &last
	}
	for _, a := range info.Exporters {
		j.Exporters = append(j.Exporters, a.String())
	}
	j.SamplingRates = append(j.SamplingRates, slices.Sorted(slices.Values(info.SamplingRates))...)
	for p, n := range info.Protocols {
		j.Protocols[datasets.ProtoName(p)] = n
	}
	return j
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/flowio"
)

// ingestOptions are the flags of `fingerflow ingest`.
type ingestOptions struct {
	out string
	filterOptions
}

// filterOptions are the flow filter flags ingest and classify share.
type filterOptions struct {
	since  string
	until  string
	protos []string
	nets   []string
	ports  []string
}

// addFilterFlags registers the filter flags on a command.
func addFilterFlags(f *pflag.FlagSet, opts *filterOptions) {
	f.StringVar(&opts.since, "since", "", `keep flows ending at or after this time (RFC 3339 or "2006-01-02 15:04", UTC)`)
	f.StringVar(&opts.until, "until", "", "keep flows starting before this time")
	f.StringSliceVar(&opts.protos, "proto", nil, "keep these IP protocols, by name (tcp, udp, icmp, icmp6, gre, esp, sctp) or number; repeatable")
	f.StringSliceVar(&opts.nets, "net", nil, "keep flows with either address in this CIDR (or address); repeatable")
	f.StringSliceVar(&opts.ports, "port", nil, "keep flows with either port equal to N; repeatable")
}

func newIngestCommand(gopts *globalOptions) *cobra.Command {
	var opts ingestOptions
	cmd := &cobra.Command{
		Use:   "ingest PATH... --out FILE.parquet|FILE.csv",
		Short: "Convert flow files of any supported format to one Parquet or CSV file",
		Long: `ingest reads every flow of every input (files, directories, glob patterns),
keeps those that pass the filters and writes them, normalised, to one
Parquet (zstd) or CSV file chosen by the --out extension. The output is
written to a temporary file next to it and renamed at the end, so an
interrupted run never leaves a partial file under the final name.

Files that cannot be read are reported on stderr, one line each, and
skipped; the exit status is then 3.`,
		Example: `  fingerflow ingest datasets/lab-dev/test-near.v9 --out flows.parquet
  fingerflow ingest /var/cache/nfdump/2027/01/11 --since "2027-01-11 12:00" \
      --proto tcp --net 10.77.0.0/16 --port 80 --port 443 --out flows.csv`,
		Args: atLeastOnePath,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runIngest(cmd.Context(), opts, gopts, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.out, "out", "o", "", "output file, .parquet or .csv (required)")
	addFilterFlags(f, &opts.filterOptions)
	return cmd
}

// parseFilter turns the filter flags into a datasets.Filter; errors are
// usage errors.
func parseFilter(opts filterOptions) (datasets.Filter, error) {
	var flt datasets.Filter
	var err error
	if flt.Since, err = parseTimeFlag("--since", opts.since); err != nil {
		return flt, err
	}
	if flt.Until, err = parseTimeFlag("--until", opts.until); err != nil {
		return flt, err
	}
	if !flt.Since.IsZero() && !flt.Until.IsZero() && !flt.Until.After(flt.Since) {
		return flt, usagef("--until %s is not after --since %s", opts.until, opts.since)
	}
	for _, p := range opts.protos {
		n, err := parseProto(p)
		if err != nil {
			return flt, err
		}
		flt.Protos = append(flt.Protos, n)
	}
	for _, s := range opts.nets {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return flt, usagef("--net %q: not a CIDR prefix or address", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		flt.Nets = append(flt.Nets, p.Masked())
	}
	for _, s := range opts.ports {
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return flt, usagef("--port %q: not a port number 0-65535", s)
		}
		flt.Ports = append(flt.Ports, uint16(n))
	}
	return flt, nil
}

// timeLayouts are the accepted --since/--until forms; times without a zone
// are UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"}

func parseTimeFlag(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef(`%s %q: want RFC 3339 (2027-01-11T12:00:00Z) or "2006-01-02 15:04"`, name, s)
}

var protoNames = map[string]uint8{
	"icmp": datasets.ProtoICMP, "tcp": datasets.ProtoTCP, "udp": datasets.ProtoUDP,
	"icmp6": datasets.ProtoICMPv6, "ipv6-icmp": datasets.ProtoICMPv6, "icmpv6": datasets.ProtoICMPv6,
	"gre": 47, "esp": 50, "ah": 51, "sctp": 132,
}

func parseProto(s string) (uint8, error) {
	if n, ok := protoNames[strings.ToLower(s)]; ok {
		return n, nil
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0, usagef("--proto %q: not a protocol name or number 0-255", s)
	}
	return uint8(n), nil
}

// newFlowWriter picks the output format from the file name.
func newFlowWriter(name string, w io.Writer) (flowio.FlowWriter, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".parquet", ".pq":
		return flowio.NewParquetWriter(w), nil
	case ".csv":
		return flowio.NewCSVWriter(w), nil
	}
	return nil, usagef("--out %s: name must end in .parquet or .csv", name)
}

// ingestStats is what the summary line reports.
type ingestStats struct {
	files, skipped int
	outside        int // rotated files whose name time lies outside the window
	flowsIn, kept  uint64
	inBytes        int64
}

func runIngest(ctx context.Context, opts ingestOptions, gopts *globalOptions, args []string) (err error) {
	started := time.Now()
	if opts.out == "" {
		return usagef("ingest: --out FILE.parquet|FILE.csv is needed")
	}
	flt, err := parseFilter(opts.filterOptions)
	if err != nil {
		return err
	}
	if _, err := newFlowWriter(opts.out, io.Discard); err != nil {
		return err
	}
	files, badArgs := expandArgs(args, gopts.stderr)
	// A previous output inside an input directory is not read back in.
	if outAbs, err := filepath.Abs(opts.out); err == nil {
		files = slices.DeleteFunc(files, func(f string) bool {
			abs, err := filepath.Abs(f)
			return err == nil && abs == outAbs
		})
	}
	reg := newRegistry()

	tmp, err := createAtomic(opts.out)
	if err != nil {
		return err
	}
	defer tmp.abort()
	fw, _ := newFlowWriter(opts.out, tmp)

	var total int64
	sizes := make([]int64, len(files))
	for i, f := range files {
		if st, err := os.Stat(f); err == nil {
			sizes[i] = st.Size()
			total += st.Size()
		}
	}
	var bar *progressbar.ProgressBar
	if !gopts.quiet && isTerminal(gopts.stderr) {
		bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(gopts.stderr),
			progressbar.OptionSetDescription("ingest"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}

	st := ingestStats{skipped: badArgs}
	visit := func(f *datasets.Flow) error {
		st.kept++
		if bar != nil && st.kept%65536 == 0 {
			bar.Describe(fmt.Sprintf("ingest: %d flows", st.kept))
		}
		return fw.Write(f)
	}
	for i, path := range files {
		res, rerr := datasets.ReadFiles(ctx, reg, []string{path}, flt, visit)
		if len(res) == 0 && rerr == nil {
			st.outside++
		}
		for _, r := range res {
			st.flowsIn += r.Flows
			if r.Err != nil && ctx.Err() == nil {
				reportFileError(gopts.stderr, r.Path, r.Err)
				st.skipped++
			} else {
				st.files++
				st.inBytes += sizes[i]
			}
		}
		if rerr != nil && !errors.Is(rerr, datasets.ErrSkipped) {
			// Interrupted, or the output could not be written.
			return fmt.Errorf("%s: %w", opts.out, rerr)
		}
		if bar != nil {
			_ = bar.Add64(sizes[i])
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if st.files == 0 && st.skipped > 0 {
		return fmt.Errorf("%s not written: all %d inputs skipped: %w", opts.out, st.skipped, datasets.ErrSkipped)
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("%s: %w", opts.out, err)
	}
	outSize, _ := tmp.Seek(0, io.SeekCurrent)
	if err := tmp.commit(); err != nil {
		return err
	}

	elapsed := time.Since(started)
	if !gopts.quiet {
		outside := ""
		if st.outside > 0 {
			outside = fmt.Sprintf(", %d not opened (time in name outside --since/--until)", st.outside)
		}
		fmt.Fprintf(gopts.stderr, "ingest: %d files read, %d skipped%s (%s); %d flows in, %d kept; wrote %s (%s) in %s, %.0f flows/s\n",
			st.files, st.skipped, outside, humanBytes(uint64(st.inBytes)), st.flowsIn, st.kept,
			opts.out, humanBytes(uint64(outSize)), elapsed.Round(time.Millisecond), float64(st.flowsIn)/max(elapsed.Seconds(), 1e-9))
	}
	if st.skipped > 0 {
		return fmt.Errorf("%d of %d files: %w", st.skipped, len(files)+badArgs, datasets.ErrSkipped)
	}
	return nil
}

package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models"
)

// classifyOptions are the flags of `fingerflow classify`.
type classifyOptions struct {
	model     string
	out       string
	threshold float64
	unknown   bool
	adapt     bool
	filterOptions
}

func newClassifyCommand(gopts *globalOptions) *cobra.Command {
	opts := classifyOptions{unknown: true, adapt: true}
	cmd := &cobra.Command{
		Use:   "classify --model MODEL.ffm FLOWS... [--out FILE.csv|FILE.parquet]",
		Short: "Label every download in flow files with a catalog file or unknown",
		Long: `classify finds every download (a server→client bulk TCP transfer, paired with
its reverse direction where present) in the flow files and labels it with the
catalog file it carried, several files for a connection that carried
several, or "unknown". It streams: memory grows with concurrent
connections, not with the number of flows. Output is CSV (to stdout
without --out) or Parquet, chosen by the --out extension.

A server whose responses carry more or fewer bytes than the lab server's
(other HTTP headers, another certificate chain) would match no catalog
file. So classify learns each server's offset from the input's own
downloads without retransmissions (for a model trained without an HTTPS
run, also which assumed TLS framing a port-443 server uses and its
handshake's size), reports the offsets it adopts, and
classifies after the whole input is read, keeping the downloads in a
temporary file meanwhile ($TMPDIR; --adapt=false uses the model as trained
and writes each download as it is found).`,
		Example: `  fingerflow classify --model lab.ffm datasets/lab-dev/test-near.v9
  fingerflow classify --model lab.ffm /var/cache/nfdump/2027/01/11 --out downloads.parquet
  fingerflow classify --model lab.ffm /var/cache/nfdump --since 2027-01-11 --until 2027-01-12 \
      --net 10.20.0.0/16 --port 80 --port 443`,
		Args: atLeastOnePath,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runClassify(cmd.Context(), opts, gopts, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.model, "model", "m", "", "model file from fingerflow train; required")
	f.StringVarP(&opts.out, "out", "o", "", "output file (.csv or .parquet); default CSV on stdout")
	f.Float64Var(&opts.threshold, "threshold", 0, "override the model's verifier threshold")
	f.BoolVar(&opts.unknown, "unknown", true, "also write downloads labelled unknown")
	f.BoolVar(&opts.adapt, "adapt", true, "learn each server's payload offset from the input before classifying")
	addFilterFlags(f, &opts.filterOptions)
	return cmd
}

// classifiedRow is one output row.
type classifiedRow struct {
	Start      time.Time `parquet:"start,timestamp(microsecond)"`
	End        time.Time `parquet:"end,timestamp(microsecond)"`
	Client     string    `parquet:"client,dict"`
	ClientPort int32     `parquet:"client_port"`
	Server     string    `parquet:"server,dict"`
	ServerPort int32     `parquet:"server_port"`
	Packets    int64     `parquet:"packets"`
	Bytes      int64     `parquet:"bytes"`
	RevPackets int64     `parquet:"rev_packets"`
	RevBytes   int64     `parquet:"rev_bytes"`
	Files      string    `parquet:"files,dict"` // catalog files joined by "+", or "unknown"
	NumFiles   int32     `parquet:"num_files"`
	Confidence float64   `parquet:"confidence"`
	Profile    string    `parquet:"profile,dict"`
	Extra      int64     `parquet:"extra_bytes"`
}

var classifyHeader = []string{"start", "end", "client", "client_port", "server", "server_port", "packets", "bytes", "rev_packets", "rev_bytes", "files", "num_files", "confidence", "profile", "extra_bytes"}

func newClassifiedRow(d *features.Download, r models.Result) classifiedRow {
	files := "unknown"
	if !r.Unknown() {
		files = strings.Join(r.Files, "+")
	}
	return classifiedRow{
		Start: d.Start.UTC(), End: d.End.UTC(),
		Client: d.Client.String(), ClientPort: int32(d.ClientPort),
		Server: d.Server.String(), ServerPort: int32(d.ServerPort),
		Packets: int64(d.Packets), Bytes: int64(d.Bytes), RevPackets: int64(d.RevPackets), RevBytes: int64(d.RevBytes),
		Files: files, NumFiles: int32(len(r.Files)), Confidence: r.Confidence, Profile: r.Profile, Extra: r.Extra,
	}
}

func (r *classifiedRow) record() []string {
	return []string{
		r.Start.Format(time.RFC3339Nano), r.End.Format(time.RFC3339Nano),
		r.Client, strconv.Itoa(int(r.ClientPort)), r.Server, strconv.Itoa(int(r.ServerPort)),
		strconv.FormatInt(r.Packets, 10), strconv.FormatInt(r.Bytes, 10),
		strconv.FormatInt(r.RevPackets, 10), strconv.FormatInt(r.RevBytes, 10),
		r.Files, strconv.Itoa(int(r.NumFiles)), strconv.FormatFloat(r.Confidence, 'f', 3, 64),
		r.Profile, strconv.FormatInt(r.Extra, 10),
	}
}

// rowWriter writes classified rows as CSV or Parquet.
type rowWriter interface {
	write(r *classifiedRow) error
	close() error
}

type csvRows struct{ w *csv.Writer }

func (c *csvRows) write(r *classifiedRow) error { return c.w.Write(r.record()) }
func (c *csvRows) close() error                 { c.w.Flush(); return c.w.Error() }

type parquetRows struct {
	w   *parquet.GenericWriter[classifiedRow]
	buf []classifiedRow
}

func (p *parquetRows) write(r *classifiedRow) error {
	p.buf = append(p.buf, *r)
	if len(p.buf) == cap(p.buf) {
		return p.flush()
	}
	return nil
}

func (p *parquetRows) flush() error {
	if len(p.buf) == 0 {
		return nil
	}
	_, err := p.w.Write(p.buf)
	p.buf = p.buf[:0]
	return err
}

func (p *parquetRows) close() error {
	if err := p.flush(); err != nil {
		return err
	}
	return p.w.Close()
}

func newRowWriter(name string, w io.Writer) (rowWriter, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case "", ".csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(classifyHeader); err != nil {
			return nil, err
		}
		return &csvRows{cw}, nil
	case ".parquet":
		return &parquetRows{
			w:   parquet.NewGenericWriter[classifiedRow](w, parquet.Compression(&parquet.Zstd)),
			buf: make([]classifiedRow, 0, 4096),
		}, nil
	}
	return nil, usagef("--out %s: want a .csv or .parquet file", name)
}

func runClassify(ctx context.Context, opts classifyOptions, gopts *globalOptions, args []string) error {
	started := time.Now()
	if opts.model == "" {
		return usagef("classify: --model MODEL.ffm is needed")
	}
	if _, err := newRowWriter(opts.out, io.Discard); err != nil {
		return err
	}
	flt, err := parseFilter(opts.filterOptions)
	if err != nil {
		return err
	}
	m, err := loadModel(opts.model, opts.threshold)
	if err != nil {
		return err
	}
	out := gopts.stdout
	var tmp *atomicFile
	if opts.out != "" {
		if tmp, err = createAtomic(opts.out); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		defer tmp.abort()
		out = tmp
	}
	rw, err := newRowWriter(opts.out, out)
	if err != nil {
		return err
	}
	var downloads, named, multi, sampled int
	unclaimed := uncalibratedPorts{}
	label := func(d *features.Download) error {
		downloads++
		unclaimed.add(m, d)
		r := m.Classify(d)
		if r.Profile == models.ProfileSampled {
			sampled++
		}
		if !r.Unknown() {
			named++
			if len(r.Files) > 1 {
				multi++
			}
		} else if !opts.unknown {
			return nil
		}
		row := newClassifiedRow(d, r)
		return rw.write(&row)
	}
	var skipped int
	var sp *downloadSpill
	if opts.adapt {
		if sp, err = newDownloadSpill(); err != nil {
			fmt.Fprintf(gopts.stderr, "classify: %v: classifying with the model as trained, without server offsets\n", err)
		}
	}
	if sp != nil {
		// One pass over the flows: downloads go to the adapter and to a
		// temporary file, which is classified once every server's
		// offset is known. Extraction dominates the run time, and the
		// file keeps memory independent of the number of downloads.
		ad := m.NewAdapter()
		defer sp.remove()
		if skipped, err = streamDownloads(ctx, gopts, args, flt, features.DefaultConfig(), func(d *features.Download) error {
			ad.Add(d)
			return sp.write(d)
		}); err != nil {
			return err
		}
		offs := ad.Offsets()
		reportOffsets(gopts.stderr, "classify", offs)
		m = m.WithOffsets(offs)
		if err := sp.each(ctx, label); err != nil {
			return err
		}
	} else if skipped, err = streamDownloads(ctx, gopts, args, flt, features.DefaultConfig(), label); err != nil {
		return err
	}
	if err := rw.close(); err != nil {
		return err
	}
	if tmp != nil {
		if err := tmp.commit(); err != nil {
			return err
		}
	}
	el := time.Since(started)
	fmt.Fprintf(gopts.stderr, "classify: %d downloads, %d named (%d multi-file), %d unknown, in %.2fs\n",
		downloads, named, multi, downloads-named, el.Seconds())
	unclaimed.report(gopts.stderr, "classify")
	if sampled > 0 {
		fmt.Fprintf(gopts.stderr, "classify: %d downloads came from packet-sampling exporters: their byte counts are estimates, so they are left unknown (profile %q)\n",
			sampled, models.ProfileSampled)
	}
	if skipped > 0 {
		return skippedError(skipped)
	}
	return nil
}

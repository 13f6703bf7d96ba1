package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models"
	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/datasets/labels"
)

// streamDownloads reads every flow file named by args (files, directories,
// globs) in time order, keeps the flows flt passes, assembles downloads across them and hands each to
// visit as soon as it is complete. Unreadable files are reported on stderr
// and skipped; the returned count says how many.
func streamDownloads(ctx context.Context, gopts *globalOptions, args []string, flt datasets.Filter, cfg features.Config, visit func(*features.Download) error) (skipped int, err error) {
	files, bad := expandArgs(args, gopts.stderr)
	reg := newRegistry()
	ex := features.NewExtractor(cfg)
	var verr error
	res, rerr := datasets.ReadFiles(ctx, reg, files, flt, func(f *datasets.Flow) error {
		ex.Add(f)
		for _, d := range ex.Drain() {
			if err := visit(&d); err != nil {
				verr = err
				return err
			}
		}
		return nil
	})
	for _, r := range res {
		if r.Err != nil && ctx.Err() == nil && verr == nil {
			reportFileError(gopts.stderr, r.Path, r.Err)
			bad++
		}
	}
	if verr != nil {
		return bad, verr
	}
	if rerr != nil && !errors.Is(rerr, datasets.ErrSkipped) {
		return bad, rerr
	}
	for _, d := range ex.Flush() {
		if err := visit(&d); err != nil {
			return bad, err
		}
	}
	return bad, nil
}

// maxLabelledDownloads bounds the downloads a training or evaluation run
// holds in memory (a download is about 150 bytes).
const maxLabelledDownloads = 5_000_000

// labelledRun is one lab run: its flow files and its ground truth.
type labelledRun struct {
	flows  string
	labels string
}

// pairRuns pairs repeated --flows and --labels flags in order.
func pairRuns(flows, labelFiles []string) ([]labelledRun, error) {
	if len(flows) == 0 {
		return nil, usagef("no --flows given")
	}
	if len(flows) != len(labelFiles) {
		return nil, usagef("%d --flows but %d --labels: give one labels file per flow set, in the same order", len(flows), len(labelFiles))
	}
	runs := make([]labelledRun, len(flows))
	for i := range flows {
		runs[i] = labelledRun{flows[i], labelFiles[i]}
	}
	return runs, nil
}

// loadExamples reads each run's downloads and joins them with its labels.
// A labels file that is an ordered list (the published study's way) is
// matched to the run's downloads by start time. cat, when given, is used
// to check the labels (a label claiming a catalog file the catalog lacks is
// an error).
func loadExamples(ctx context.Context, gopts *globalOptions, runs []labelledRun, cat *catalog.Catalog) ([]models.Example, int, error) {
	var all []models.Example
	skipped := 0
	for _, run := range runs {
		set, err := labels.Load(run.labels)
		if err != nil {
			return nil, skipped, err
		}
		if cat != nil && !set.Ordered {
			if err := set.Check(cat); err != nil {
				return nil, skipped, err
			}
		}
		var ds []features.Download
		bad, err := streamDownloads(ctx, gopts, []string{run.flows}, datasets.Filter{}, features.DefaultConfig(), func(d *features.Download) error {
			if len(ds) >= maxLabelledDownloads {
				return fmt.Errorf("%s: more than %d downloads; split the run", run.flows, maxLabelledDownloads)
			}
			ds = append(ds, *d)
			return nil
		})
		skipped += bad
		if err != nil {
			return nil, skipped, err
		}
		if set.Ordered {
			set, err = orderedSet(set, ds, cat)
			if err != nil {
				return nil, skipped, fmt.Errorf("%s: %w", run.labels, err)
			}
		}
		ex, unlabelled := models.Join(ds, set)
		if len(ex) == 0 {
			return nil, skipped, fmt.Errorf("%s: none of the %d downloads in %s has a label (do the client addresses and ports match?)", run.labels, len(ds), run.flows)
		}
		gopts.logger.Info("labelled run", "flows", run.flows, "labels", run.labels, "downloads", len(ds), "labelled", len(ex), "unlabelled", len(unlabelled))
		all = append(all, ex...)
	}
	return all, skipped, nil
}

// orderedSet assigns an ordered list of downloaded files to the run's
// downloads by start time.
func orderedSet(set *labels.Set, ds []features.Download, cat *catalog.Catalog) (*labels.Set, error) {
	sorted := slices.Clone(ds)
	slices.SortStableFunc(sorted, func(a, b features.Download) int { return a.Start.Compare(b.Start) })
	starts := make([]time.Time, len(sorted))
	keys := make([]netip.AddrPort, len(sorted))
	for i, d := range sorted {
		starts[i] = d.Start
		keys[i] = netip.AddrPortFrom(d.Client, d.ClientPort)
	}
	if cat != nil {
		set.Resolve(cat)
	}
	ls, err := labels.MatchOrdered(set.Labels, starts, keys)
	if err != nil {
		return nil, err
	}
	return labels.NewSet(set.Name, ls), nil
}

// skippedError is the error of a run that finished but skipped unreadable
// inputs (exit status 3).
func skippedError(n int) error {
	return fmt.Errorf("%d input files skipped: %w", n, datasets.ErrSkipped)
}

// loadModel reads a model file and applies a --threshold flag (0: keep the
// model's).
func loadModel(path string, threshold float64) (*models.Model, error) {
	if threshold < 0 || threshold > 1 {
		return nil, usagef("--threshold %v: want a share in (0, 1]", threshold)
	}
	m, err := models.Load(path)
	if err != nil {
		return nil, err
	}
	if threshold != 0 {
		m.Params.Threshold = threshold
	}
	return m, nil
}

// reportOffsets says which servers' payloads adaptation shifts, and by how
// much: a line per server that showed its own offset, one per network
// whose servers took the offset they show together.
func reportOffsets(w io.Writer, cmd string, offs []models.ServerOffset) {
	type group struct {
		net     netip.Prefix
		port    uint16
		offset  int64
		servers int
		o       models.ServerOffset
	}
	var groups []*group
	for _, o := range offs {
		if o.Offset == 0 && o.Profile == "" {
			continue
		}
		if o.Profile != "" {
			network := ""
			if o.Pooled {
				network = ", as its network shows"
			}
			fmt.Fprintf(w, "%s: server %s fits assumed profile %s, %+d bytes from its placeholder overhead (the TLS handshake; %d of its %d loss-free downloads agree)%s\n",
				cmd, netip.AddrPortFrom(o.Server.Addr, o.Server.Port), o.Profile, o.Offset, o.Votes, o.Clean, network)
			continue
		}
		if !o.Pooled {
			fmt.Fprintf(w, "%s: server %s sends %+d bytes per download against the model's lab server (%d of its %d loss-free downloads agree, %d at the lab's payloads); adjusted\n",
				cmd, netip.AddrPortFrom(o.Server.Addr, o.Server.Port), o.Offset, o.Votes, o.Clean, o.Zero)
			continue
		}
		n := models.NetworkOf(o.Server.Addr)
		if k := len(groups); k > 0 && groups[k-1].net == n && groups[k-1].port == o.Server.Port && groups[k-1].offset == o.Offset {
			groups[k-1].servers++
			continue
		}
		groups = append(groups, &group{n, o.Server.Port, o.Offset, 1, o})
	}
	for _, g := range groups {
		fmt.Fprintf(w, "%s: %d servers in %s port %d, with too few loss-free downloads each, send %+d bytes per download together (%d of their %d loss-free downloads agree); adjusted\n",
			cmd, g.servers, g.net, g.port, g.offset, g.o.Votes, g.o.Clean)
	}
}

// downloadSpill holds a run's downloads in a temporary file, in the order
// found, so that they can be classified after adaptation has seen them all
// without holding them in memory.
type downloadSpill struct {
	f   *os.File
	buf *bufio.Writer
	enc *gob.Encoder
	n   int
}

func newDownloadSpill() (*downloadSpill, error) {
	f, err := os.CreateTemp("", "fingerflow-downloads-*")
	if err != nil {
		return nil, fmt.Errorf("temporary file for downloads: %w", err)
	}
	buf := bufio.NewWriterSize(f, 1<<20)
	return &downloadSpill{f: f, buf: buf, enc: gob.NewEncoder(buf)}, nil
}

func (s *downloadSpill) write(d *features.Download) error {
	s.n++
	if err := s.enc.Encode(d); err != nil {
		return fmt.Errorf("%s: %w", s.f.Name(), err)
	}
	return nil
}

// each hands the downloads back in the order written.
func (s *downloadSpill) each(ctx context.Context, visit func(*features.Download) error) error {
	if err := s.buf.Flush(); err != nil {
		return fmt.Errorf("%s: %w", s.f.Name(), err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dec := gob.NewDecoder(bufio.NewReaderSize(s.f, 1<<20))
	for i := range s.n {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var d features.Download
		if err := dec.Decode(&d); err != nil {
			return fmt.Errorf("%s: download %d: %w", s.f.Name(), i, err)
		}
		if err := visit(&d); err != nil {
			return err
		}
	}
	return nil
}

func (s *downloadSpill) remove() {
	s.f.Close()
	os.Remove(s.f.Name())
}

// uncalibratedPorts counts downloads to server ports no profile of the
// model was calibrated on.
type uncalibratedPorts map[uint16]int

func (u uncalibratedPorts) add(m *models.Model, d *features.Download) {
	if !m.Calibrated(d) {
		u[d.ServerPort]++
	}
}

// report says how many downloads went to such ports, busiest first.
func (u uncalibratedPorts) report(w io.Writer, cmd string) {
	if len(u) == 0 {
		return
	}
	ports := slices.Collect(maps.Keys(u))
	slices.SortFunc(ports, func(a, b uint16) int { return cmp.Or(cmp.Compare(u[b], u[a]), cmp.Compare(a, b)) })
	total := 0
	var list []string
	for i, p := range ports {
		total += u[p]
		if i < 5 {
			list = append(list, fmt.Sprintf("%d: %d", p, u[p]))
		}
	}
	if len(ports) > 5 {
		list = append(list, fmt.Sprintf("%d more ports", len(ports)-5))
	}
	fmt.Fprintf(w, "%s: %d downloads went to server ports no calibrated profile covers (%s); they were scored with every calibrated profile, right for plain HTTP on another port, or, where the port has only assumed TLS profiles and adaptation could not fit the server, left unknown: train with a lab run on those ports\n",
		cmd, total, strings.Join(list, ", "))
}

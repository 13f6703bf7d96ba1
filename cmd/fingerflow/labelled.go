package main

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/datasets/labels"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/downloads"
)

// maxLabelledDownloads bounds the downloads a training or evaluation run
// holds in memory (a download is about 150 bytes).
const maxLabelledDownloads = 5_000_000

// labelledRun is one lab run: its flow files and its ground truth.
type labelledRun struct {
	flows  string
	labels string
	in     *datasets.Inputs // flows expanded (expandRuns)
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
		runs[i] = labelledRun{flows: flows[i], labels: labelFiles[i]}
	}
	return runs, nil
}

// expandRuns expands every run's --flows, and refuses an output (a model
// file) that is one of the runs' files.
func expandRuns(ctx context.Context, gopts *globalOptions, runs []labelledRun, out string, more ...string) error {
	all := more
	for i := range runs {
		in, err := expandInputs(ctx, []string{runs[i].flows}, gopts.stderr)
		if err != nil {
			return err
		}
		runs[i].in = in
		all = append(append(all, in.Files...), runs[i].labels)
	}
	return checkNotInput(out, all)
}

// loadExamples reads each run's downloads and joins them with its labels.
// A labels file that is an ordered list (the published study's way) is
// matched to the run's downloads by start time. cat, when given, is used
// to check the labels (a label claiming a catalog file the catalog lacks is
// an error). A run where fewer than half of the labels match a download
// is refused; labels that match none are counted on stderr.
func loadExamples(ctx context.Context, gopts *globalOptions, runs []labelledRun, cat *catalog.Catalog) ([]downloads.Example, datasets.ReadStats, error) {
	var all []downloads.Example
	var count datasets.ReadStats
	for _, run := range runs {
		set, err := labels.Load(ctx, run.labels)
		if err != nil {
			return nil, count, err
		}
		if cat != nil && !set.Ordered {
			if err := set.Check(cat); err != nil {
				return nil, count, err
			}
		}
		var ds []features.Download
		n, err := streamDownloads(ctx, gopts, run.in, datasets.Filter{}, features.DefaultConfig(), func(d *features.Download) error {
			if len(ds) >= maxLabelledDownloads {
				return fmt.Errorf("%s: more than %d downloads; split the run", run.flows, maxLabelledDownloads)
			}
			ds = append(ds, *d)
			return nil
		})
		count.Add(n)
		if err != nil {
			return nil, count, err
		}
		if n.Duplicates > 0 {
			gopts.infof("%s: %d duplicate flow records dropped\n", run.flows, n.Duplicates)
		}
		if set.Ordered {
			set, err = orderedSet(set, ds, cat)
			if err != nil {
				return nil, count, fmt.Errorf("%s: %w", run.labels, err)
			}
		}
		ex, unlabelled := downloads.Join(ds, set)
		if len(ex) == 0 {
			return nil, count, fmt.Errorf("%s: none of the %d downloads in %s has a label (do the client addresses and ports match?)", run.labels, len(ds), run.flows)
		}
		// Labels of another run match a few downloads by chance (client
		// ports are reused): too few matches mean the wrong labels.
		matched := 0
		for i := range ex {
			matched += len(ex[i].Files)
		}
		if unmatched := set.Len() - matched; unmatched > 0 {
			if 2*matched < set.Len() {
				return nil, count, fmt.Errorf("%s: only %d of its %d labels match a download of %s (labels of another run?)", run.labels, matched, set.Len(), run.flows)
			}
			gopts.infof("%s: %d of %d labels match no download of %s\n", run.labels, unmatched, set.Len(), run.flows)
		}
		gopts.logger.Info("labelled run", "flows", run.flows, "labels", run.labels, "downloads", len(ds), "labelled", len(ex), "unlabelled", len(unlabelled))
		all = append(all, ex...)
	}
	return all, count, nil
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

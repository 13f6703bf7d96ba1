// Package labrun is what the notebooks share: reading a lab run's
// downloads with their labels, and the command-line frame (flags, an
// interrupt-aware context, the output directory).
package labrun

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/fingerflow/fingerflow/datasets/labels"
	"github.com/fingerflow/fingerflow/datasets/nfcsv"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/downloads"
)

// Examples reads RUN.nfdump.csv and RUN.labels.csv beside it and joins
// the run's downloads with their labels (downloads without a label are
// left out).
func Examples(ctx context.Context, path string) ([]downloads.Example, error) {
	var ds []features.Download
	for d, err := range features.Downloads(ctx, features.DefaultConfig(), (&nfcsv.Reader{}).Flows(ctx, path)) {
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	set, err := labels.Load(ctx, strings.TrimSuffix(path, ".nfdump.csv")+".labels.csv")
	if err != nil {
		return nil, err
	}
	ex, _ := downloads.Join(ds, set)
	return ex, nil
}

// Main is a notebook's main: it parses -data (the datasets directory) and
// -out (where charts go; a new temporary directory when empty) besides the
// flags the notebook defined, and runs it until done or interrupted,
// exiting 1 on an error.
func Main(name string, run func(ctx context.Context, dataDir, outDir string) error) {
	data := flag.String("data", "datasets", "directory holding lab-dev/ and lab-extra/")
	out := flag.String("out", "", "directory for the charts (default: a new temporary directory)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	dir := *out
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", name+"-"); err != nil {
			fmt.Fprintln(os.Stderr, name+":", err)
			os.Exit(1)
		}
	}
	if err := run(ctx, *data, dir); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		stop()
		os.Exit(1)
	}
}

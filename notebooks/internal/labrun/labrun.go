// Package labrun reads the shipped runs for the notebooks' packages: a lab
// run's downloads with their labels, and flow files through a registry of
// the formats the samples come in.
package labrun

import (
	"context"
	"strings"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/argus"
	"github.com/fingerflow/fingerflow/datasets/labels"
	"github.com/fingerflow/fingerflow/datasets/nfcapd"
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

// NewRegistry returns a registry of the formats the shipped samples come
// in: nfcapd files, Argus files and nfdump's CSV. Its readers keep buffers
// from file to file: one registry per reading.
func NewRegistry() *datasets.Registry {
	return datasets.NewRegistry(&nfcapd.Reader{}, &argus.Reader{}, &nfcsv.Reader{})
}

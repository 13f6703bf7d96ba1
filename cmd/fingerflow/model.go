package main

import (
	"context"
	"io"

	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/downloads"
	"github.com/fingerflow/fingerflow/reports"
)

// checkThreshold checks a --threshold flag (0: the model's own).
func checkThreshold(threshold float64) error {
	return checkFlags(flagCheck{threshold >= 0 && threshold <= 1, "--threshold", threshold, "a share in (0, 1], or 0 for the model's own"})
}

// loadModel reads a model file.
func loadModel(ctx context.Context, path string) (*downloads.Model, error) {
	return downloads.Load(ctx, path)
}

// uncalibratedPorts counts downloads to server ports no profile of the
// model was calibrated on (and adaptation fitted to no assumed one).
type uncalibratedPorts map[uint16]int

func (u uncalibratedPorts) add(cl *downloads.Classifier, d *features.Download) {
	if !cl.Calibrated(d) {
		u[d.ServerPort]++
	}
}

// report says how many downloads went to such ports, busiest first.
func (u uncalibratedPorts) report(w io.Writer, prefix string) error {
	return reports.WriteUncalibrated(w, prefix, u)
}

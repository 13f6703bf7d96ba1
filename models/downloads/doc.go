// Package downloads is the download classifier: it names the catalog file
// (or files, for a keep-alive connection) a download carried, or answers
// "unknown", from its flow counters alone.
//
// Calibrate learns a network's overhead (per-packet headers, segment size,
// HTTP and TLS framing) from labelled lab downloads; Train builds a Model
// whose verifier, a bag of golearn CART trees, accepts or rejects each
// catalog file whose expected payload fits a download; an Adapter learns
// each server's payload offset from unlabelled downloads; a Classifier
// labels downloads with a model under run-time Options; Evaluate scores a
// predictor on labelled downloads beside the published byte-count
// Baseline. Models are saved and loaded as versioned model files.
package downloads

// Package seedsway holds nightly.py, the nightly job done the way the tools
// fingerflow replaces did it (nfdump CSV export, pandas, scikit-learn), the
// reference `fingerflow run` is timed against; its test runs the script on
// the shipped population so it cannot rot.
package seedsway

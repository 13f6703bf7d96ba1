#!/bin/sh
# Regenerates the fixtures in this directory from sampleFlows() in
# flowio_test.go with the package's own writers:
#   sample.csv      CSVWriter output (the golden file TestCSVGolden compares)
#   sample.parquet  ParquetWriter output (read back by TestCSVGolden,
#                   TestDescribe, TestReadErrors, TestParquetMutations, and
#                   the fuzz seed)
# fuzz/FuzzReaders/ holds inputs the fuzzer once failed on.
set -e
cd "$(dirname "$0")/.."
go test -run 'TestCSVGolden$' -update .

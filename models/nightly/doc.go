// Package nightly is fingerflow's nightly run: a night's flows in, the
// per-host inventory, host clusters, the site's traffic, the analytics of
// the older flow tools and the history database's night out.
//
// Run is its one entry point: a Source of flow batches (flow files through
// datasets.FileSource) is read once and every flow goes, each on its own
// goroutine and in order, to the stages that keep state of their own: the
// host stage (per-host features and hint rules), the download stage
// (extraction, server adaptation, a temporary file; Downloads), and the
// analytics (top talkers, lifespans, floods, scans, rates; Analytics).
// The hosts are clustered while the downloads are classified on every
// core; each download goes to a DownloadSink as it is answered. The
// evidence stage then weighs every host's evidence in one fixed order
// (catalog evidence, the cluster's OS mix, TTL and rule hints, one final
// verdict), and the history stage writes the night and says what changed.
// Night.Write puts the rest into a run directory (package nightdir).
//
// A night that read no flow, or no flow of an internal host, is an error
// that touches neither the history nor the outputs.
package nightly

package main

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/datasets/collector"
)

// collectOptions are the flags of `fingerflow collect`.
type collectOptions struct {
	listen       []string
	dir          string
	rotate       time.Duration
	stats        time.Duration
	socketBuffer string
	workers      int
}

func newCollectCommand(gopts *globalOptions) *cobra.Command {
	var opts collectOptions
	cmd := &cobra.Command{
		Use:   "collect --listen :2055 --dir DIR",
		Short: "Receive NetFlow/IPFIX over UDP and write rotated Parquet flow files",
		Long: `collect receives NetFlow v1, v5, v9 and IPFIX export datagrams over UDP
(IPv4 and IPv6) and writes their flows, in fingerflow's Parquet columns, to
one file per rotation interval: DIR/YYYY/MM/DD/flows.YYYYMMDDhhmm (UTC,
aligned to the clock like nfcapd's files). Intervals in which no datagram
arrived write no file.

Each file is written under a hidden temporary name and renamed when
complete; its Parquet metadata holds the interval and per-exporter counters
(datagrams, flows, sequence gaps, data before its template, malformed
datagrams). SIGINT or SIGTERM completes the open file and exits with status
130; a crash loses at most the open interval.`,
		Example: `  fingerflow collect --listen :2055 --dir /var/cache/fingerflow --stats 1m
  fingerflow collect --listen 0.0.0.0:2055 --listen [::]:2055 --dir flows --rotate 1m`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("%s takes no arguments, got %q", cmd.Name(), args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCollect(cmd.Context(), opts, gopts)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.listen, "listen", "l", []string{":2055"}, `UDP address to listen on: ":PORT" (IPv4 and IPv6), "0.0.0.0:PORT", "[::]:PORT", "ADDR:PORT"; repeatable`)
	f.StringVarP(&opts.dir, "dir", "d", "", "root of the date tree the flow files go to (required)")
	f.DurationVar(&opts.rotate, "rotate", collector.DefaultRotate, "rotation interval: whole seconds dividing 24h (1m, 5m, 1h, ...)")
	f.DurationVar(&opts.stats, "stats", 0, "log per-exporter counters this often (0: never)")
	f.StringVar(&opts.socketBuffer, "socket-buffer", "16M", "receive buffer to ask for each socket (K, M, G suffixes)")
	f.IntVar(&opts.workers, "workers", 0, "decoding goroutines (0: one per CPU)")
	return cmd
}

func runCollect(ctx context.Context, opts collectOptions, gopts *globalOptions) error {
	if opts.dir == "" {
		return usagef("collect: --dir DIR is needed")
	}
	buf, err := collector.ParseSize(opts.socketBuffer)
	if err := checkFlags(
		flagCheck{opts.rotate > 0 && collector.CheckRotate(opts.rotate) == nil, "--rotate", opts.rotate, "whole seconds that divide 24h (1m, 5m, 15m, 1h, ...)"},
		flagCheck{opts.stats >= 0, "--stats", opts.stats, "0 (never) or a duration above 0"},
		flagCheck{opts.workers >= 0, "--workers", opts.workers, wantWorkers},
		flagCheck{err == nil && buf > 0, "--socket-buffer", opts.socketBuffer, "bytes, or a number with K, M or G, above 0 and below 2 GiB"},
	); err != nil {
		return err
	}
	c, err := collector.New(collector.Config{
		Listen:       opts.listen,
		Dir:          opts.dir,
		Rotate:       opts.rotate,
		Stats:        opts.stats,
		SocketBuffer: buf,
		Workers:      opts.workers,
		Logger:       gopts.logger,
	})
	if errors.Is(err, collector.ErrConfig) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	err = c.Run(ctx)
	var total collector.Counters
	for _, ec := range c.Totals() {
		total.Add(&ec.Counters)
	}
	gopts.logger.Info("collect: stopped", "files", c.Files(), "datagrams", total.Datagrams, "flows", total.Flows,
		"sequence_gaps", total.SequenceGaps, "no_template", total.NoTemplate, "malformed", total.Malformed)
	return err
}

package main

import (
	"context"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/datasets/history"
	"github.com/fingerflow/fingerflow/reports"
)

// historyOptions are the flags of `fingerflow history`.
type historyOptions struct {
	db   string
	json bool
}

func newHistoryCommand(gopts *globalOptions) *cobra.Command {
	var opts historyOptions
	cmd := &cobra.Command{
		Use:   "history [--db FILE] [--json] HOST",
		Short: "What the nightly runs found out about a host, night by night",
		Long: `history prints what the history database knows of HOST (an IPv4 or IPv6
address), one row per night that saw it: the OS verdict and its
confidence, when the host was first and last seen that night and the
catalog files (updates) it fetched. --json prints the same as a JSON array,
one object per night, with the evidence, cluster and counters too.

The database is fingerflow.db in the current directory unless --db names
another; it is never created here. A database written by an older
fingerflow is migrated first; one that is not fingerflow's, or is newer,
is refused and left untouched.`,
		Example: `  fingerflow history 10.0.0.6
  fingerflow history --db /var/lib/fingerflow/fingerflow.db --json fd00::20`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("history: one HOST address is needed, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHistory(cmd.Context(), opts, gopts, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.db, "db", defaultHistoryDB, "history database written by nightly runs")
	f.BoolVar(&opts.json, "json", false, "print a JSON array, one object per night")
	return cmd
}

func runHistory(ctx context.Context, opts historyOptions, gopts *globalOptions, args []string) error {
	addr, err := netip.ParseAddr(args[0])
	if err != nil {
		return usagef("history: %q is not an IP address", args[0])
	}
	addr = addr.Unmap()
	db, err := openHistory(ctx, opts.db)
	if err != nil {
		return err
	}
	defer db.Close()
	nights, err := db.HostHistory(ctx, addr)
	if err != nil {
		return err
	}
	runs, err := db.Runs(ctx)
	if err != nil {
		return err
	}
	if opts.json {
		err = reports.WriteHostHistoryJSON(gopts.stdout, nights)
	} else if len(nights) > 0 {
		err = reports.WriteHostHistory(gopts.stdout, nights)
	}
	if err != nil {
		return err
	}
	switch {
	case len(runs) == 0:
		return notFoundf("%s: no night written yet", opts.db)
	case len(nights) == 0:
		return notFoundf("%s: no night saw %s (%d nights, %s to %s)", opts.db, addr, len(runs), runs[0].Night, runs[len(runs)-1].Night)
	default:
		if len(runs) == 1 {
			gopts.infof("%s: %s seen on the one night it holds, %s\n", opts.db, addr, runs[0].Night)
		} else {
			gopts.infof("%s: %s seen on %d of the %d nights it holds (%s to %s), last on %s\n", opts.db, addr, len(nights), len(runs),
				runs[0].Night, runs[len(runs)-1].Night, nights[len(nights)-1].Night)
		}
		// A host the latest night could not name: that night's reason.
		if last := nights[len(nights)-1].Host; last.OS == "" && strings.HasPrefix(last.Evidence, history.WhyPrefix) {
			gopts.infof("%s: %s on %s: %s\n", opts.db, addr, nights[len(nights)-1].Night, last.Evidence)
		}
	}
	return nil
}

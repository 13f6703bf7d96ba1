package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/datasets/history"
	"github.com/fingerflow/fingerflow/reports"
)

// missingOptions are the flags of `fingerflow missing`.
type missingOptions struct {
	db     string
	json   bool
	update string
	os     string
	since  string
}

func newMissingCommand(gopts *globalOptions) *cobra.Command {
	var opts missingOptions
	cmd := &cobra.Command{
		Use:   "missing [--db FILE] [--json] (--update ENTRY | --os OS [--since DATE])",
		Short: "Hosts that have not fetched an update since it appeared",
		Long: `missing answers from the history database which hosts lack an update.

With --update ENTRY (a catalog file name), it lists the hosts whose latest
known OS is the entry's and that have not fetched it since it appeared:
since its release date where the catalog gives one, else since the first
night whose catalog listed it. Hosts not seen since then are left out.
Each row says when the host was last seen and which other versions of the
same product it fetched, if any.

With --os OS, it does the same for every update of that OS family that
appeared at or after --since (any time without it).

The answer is a table, or with --json a JSON array with one object per
update. The database is fingerflow.db in the current directory unless --db
names another; it is never created here.`,
		Example: `  fingerflow missing --update openssl_3.0.15-1~deb12u1_amd64.deb
  fingerflow missing --os debian --since 2026-11-01 --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("missing: unexpected argument %q (the update is given with --update)", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMissing(cmd.Context(), opts, gopts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.db, "db", defaultHistoryDB, "history database written by nightly runs")
	f.BoolVar(&opts.json, "json", false, "print a JSON array, one object per update")
	f.StringVar(&opts.update, "update", "", "catalog entry (file name) of the update")
	f.StringVar(&opts.os, "os", "", `OS family ("debian", "windows", ...): every update of it`)
	f.StringVar(&opts.since, "since", "", `with --os: updates that appeared at or after this time (RFC 3339 or "2006-01-02", UTC)`)
	return cmd
}

func runMissing(ctx context.Context, opts missingOptions, gopts *globalOptions) error {
	switch {
	case opts.update == "" && opts.os == "":
		return usagef("missing: --update ENTRY or --os OS is needed")
	case opts.update != "" && opts.os != "":
		return usagef("missing: --update and --os exclude each other")
	case opts.update != "" && opts.since != "":
		return usagef("missing: --since goes with --os, not --update")
	}
	since, err := parseTimeFlag("--since", opts.since)
	if err != nil {
		return err
	}
	db, err := openHistory(ctx, opts.db)
	if err != nil {
		return err
	}
	defer db.Close()

	var updates []history.MissingUpdate
	if opts.update != "" {
		m, err := db.Missing(ctx, opts.update)
		if errors.Is(err, history.ErrUnknownEntry) {
			var werr error
			if opts.json {
				werr = reports.WriteMissingJSON(gopts.stdout, nil)
			}
			return errors.Join(werr, notFoundError{fmt.Errorf("%s: %w in %s", opts.update, history.ErrUnknownEntry, opts.db)})
		}
		if err != nil {
			return err
		}
		updates = []history.MissingUpdate{m}
	} else if updates, err = db.MissingForOS(ctx, opts.os, since); err != nil {
		return err
	}

	hosts, possible := make(map[string]bool), make(map[string]bool)
	unidentified, mayHave := make(map[string]bool), make(map[string]bool)
	rows := 0
	for _, m := range updates {
		rows += len(m.Hosts)
		for _, h := range m.Hosts {
			hosts[h.Addr.String()] = true
		}
		for _, h := range m.Possible {
			possible[h.Addr.String()] = true
		}
		for _, h := range m.Unidentified {
			unidentified[h.Addr.String()] = true
			if h.MayHaveFetched {
				mayHave[h.Addr.String()] = true
			}
		}
	}
	if opts.json {
		err = reports.WriteMissingJSON(gopts.stdout, updates)
	} else if rows > 0 {
		err = reports.WriteMissing(gopts.stdout, updates)
	}
	if err != nil {
		return err
	}
	if len(unidentified) > 0 {
		// Deferred calls run last first: this line comes last.
		defer gopts.infof("%s: %s\n", opts.db, unidentifiedText(len(unidentified), len(mayHave), len(updates), familyOf(opts, updates)))
	}
	if len(possible) > 0 {
		defer gopts.infof("%s: %s of the OS may have fetched %s: %s traffic fits %s among other combinations (lost packets, several files over one connection), flow counters cannot tell, and %s not listed (--json lists %s)\n",
			opts.db, quantity(len(possible), "more host", "more hosts"), plural(len(updates), "it", "some of them"),
			plural(len(possible), "its", "their"), plural(len(updates), "the file", "the files"), plural(len(possible), "it is", "they are"), plural(len(possible), "it", "them"))
	}
	if opts.update != "" {
		gopts.infof("%s: %s known to run %s missing %s\n", opts.db, quantity(len(hosts), "host", "hosts"), familyOf(opts, updates), opts.update)
		return nil
	}
	what := strings.ToLower(opts.os)
	if !since.IsZero() {
		what += " since " + since.UTC().Format(time.DateOnly)
	}
	if len(updates) == 0 {
		return notFoundf("%s: no update of %s in any night's catalog", opts.db, what)
	}
	gopts.infof("%s: %s of %s, %s known to run it missing %d of them\n", opts.db, quantity(len(updates), "update", "updates"), what,
		quantity(len(hosts), "host", "hosts"), countMissed(updates))
	return nil
}

// unidentifiedText says that n hosts of no known OS, mayHave of them with
// a download that may be one of the updates, are not in the answer.
func unidentifiedText(n, mayHave, updates int, family string) string {
	them, oneOf := plural(updates, "it", "them"), plural(updates, "it", "one of them")
	lead := fmt.Sprintf("not in this answer: %s seen since %s appeared with no OS verdict on any night (flow counters named no family; --json says why for each); ",
		quantity(n, "host", "hosts"), plural(updates, "it", "they"))
	var rest string
	switch {
	case n == 1 && mayHave == 1:
		rest = fmt.Sprintf("if it runs %s it may lack %s, and it has a download that may be %s", family, them, oneOf)
	case n == 1:
		rest = fmt.Sprintf("if it runs %s it may lack %s, and no download of it may be %s", family, them, oneOf)
	case mayHave == 0:
		rest = fmt.Sprintf("any of them that runs %s may lack %s, and none has a download that may be %s", family, them, oneOf)
	default:
		rest = fmt.Sprintf("any of them that runs %s may lack %s, and %d %s a download that may be %s", family, them, mayHave, plural(mayHave, "has", "have"), oneOf)
	}
	return lead + rest + " (--json lists " + plural(n, "it", "them") + ")"
}

// familyOf is the OS family the answer is about.
func familyOf(opts missingOptions, updates []history.MissingUpdate) string {
	if opts.os != "" {
		return strings.ToLower(opts.os)
	}
	if len(updates) > 0 && updates[0].Entry.OS != "" {
		return updates[0].Entry.OS
	}
	return "its OS"
}

// countMissed is how many updates at least one host misses.
func countMissed(updates []history.MissingUpdate) int {
	n := 0
	for _, m := range updates {
		if len(m.Hosts) > 0 {
			n++
		}
	}
	return n
}

// quantity is "1 host", "2 hosts".
func quantity(n int, one, many string) string {
	return fmt.Sprint(n, " ", plural(n, one, many))
}

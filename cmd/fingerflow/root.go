package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
)

// version is the fingerflow release; model files record it.
const version = "0.1.0"

// globalOptions are the flags every command shares, and what they set up.
type globalOptions struct {
	verbose bool
	quiet   bool
	stdout  io.Writer
	stderr  io.Writer
	logger  *slog.Logger
}

// infof prints an informational line (a summary, what was learned) on
// stderr unless -q asked for warnings and errors only.
func (g *globalOptions) infof(format string, args ...any) {
	if !g.quiet {
		fmt.Fprintf(g.stderr, format, args...)
	}
}

// usageError marks errors in how the command was called (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func newRootCommand(gopts *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "fingerflow",
		Short: "Recognise known file downloads and host inventories in flow records",
		Long: `fingerflow reads NetFlow/IPFIX, nfdump, Argus and packet-capture flow
records, recognises downloads of catalog files (OS updates, installers) from
flow metadata alone and reports what each host fetched.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Without a command fingerflow shows its help; an argument that
		// names no command is a usage error (exit status 2).
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q (commands: info, ingest, load, train, evaluate, classify)", args[0])
			}
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if gopts.stdout == nil {
				gopts.stdout = cmd.OutOrStdout()
			}
			if gopts.stderr == nil {
				gopts.stderr = cmd.ErrOrStderr()
			}
			level := slog.LevelInfo
			switch {
			case gopts.verbose:
				level = slog.LevelDebug
			case gopts.quiet:
				level = slog.LevelWarn
			}
			gopts.logger = slog.New(slog.NewTextHandler(gopts.stderr, &slog.HandlerOptions{Level: level}))
			if gopts.verbose && gopts.quiet {
				return usagef("-v and -q exclude each other")
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().BoolVarP(&gopts.verbose, "verbose", "v", false, "log debugging detail")
	root.PersistentFlags().BoolVarP(&gopts.quiet, "quiet", "q", false, "print only warnings and errors: no summaries, no progress bar")
	root.AddCommand(
		newInfoCommand(gopts), newIngestCommand(gopts), newLoadCommand(gopts),
		newTrainCommand(gopts), newEvaluateCommand(gopts), newClassifyCommand(gopts), newRunCommand(gopts),
		newCollectCommand(gopts),
		newHistoryCommand(gopts), newMissingCommand(gopts),
		newReportCommand(gopts),
		newStatsCommand(gopts), newDetectCommand(gopts),
	)
	return root
}

// isTerminal reports whether w is a terminal (progress bars only go there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

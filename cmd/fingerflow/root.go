package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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

// exitStatusHelp is the exit status rule, as fingerflow --help and the
// README give it.
const exitStatusHelp = `Exit status:
  0    done
  1    nothing found: the host, OS family or update asked about is in no
       night of the history database (as grep's "no match"); or the command
       failed: an input it needs is missing, refused or damaged
  2    usage: an unknown command or flag, a flag value that does not parse
       or means nothing, a missing or conflicting flag
  3    done, but some input flow files could not be read and were skipped
       (each is named on stderr)
  130  interrupted (SIGINT or SIGTERM)
`

// usageError marks errors in how the command was called (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// notFoundError marks an answer of nothing: the host, OS family or update
// asked about is in no night of the history (exit status 1, grep's "no
// match"). Whatever the command prints for it (an empty JSON array) is
// printed first.
type notFoundError struct{ err error }

func (e notFoundError) Error() string { return e.err.Error() }
func (e notFoundError) Unwrap() error { return e.err }

func notFoundf(format string, args ...any) error {
	return notFoundError{fmt.Errorf(format, args...)}
}

func newRootCommand(gopts *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "fingerflow",
		Short: "Recognise known file downloads and host inventories in flow records",
		Long: `fingerflow reads NetFlow/IPFIX, nfdump, Argus and packet-capture flow
records, recognises downloads of catalog files (OS updates, installers) from
flow metadata alone and reports what each host fetched.

` + exitStatusHelp,
		Version: version,
		// "histroy" suggests history.
		SuggestionsMinimumDistance: 2,
		SilenceUsage:               true,
		SilenceErrors:              true,
		// Without a command fingerflow shows its help; an argument that
		// names no command is a usage error (exit status 2).
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				if near := cmd.SuggestionsFor(args[0]); len(near) > 0 {
					return usagef("unknown command %q (did you mean %s?)", args[0], strings.Join(near, " or "))
				}
				return usagef("unknown command %q (commands: %s)", args[0], strings.Join(commandNames(cmd), ", "))
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
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{flagError(err)} })
	root.PersistentFlags().BoolVarP(&gopts.verbose, "verbose", "v", false, "log debugging detail")
	root.PersistentFlags().BoolVarP(&gopts.quiet, "quiet", "q", false, "print only warnings and errors: no summaries, no progress bar")
	root.AddCommand(
		newInfoCommand(gopts), newIngestCommand(gopts),
		newTrainCommand(gopts), newEvaluateCommand(gopts), newClassifyCommand(gopts), newRunCommand(gopts),
		newCollectCommand(gopts),
		newHistoryCommand(gopts), newMissingCommand(gopts),
		newReportCommand(gopts),
		newStatsCommand(gopts), newDetectCommand(gopts),
	)
	return root
}

// flagError says a flag value that does not parse in the user's terms:
// "--seed -1: want a whole number 0 or above", not strconv's wording.
// Other flag errors (unknown flag, missing value) are pflag's, which say
// them well.
func flagError(err error) error {
	var ive *pflag.InvalidValueError
	if !errors.As(err, &ive) {
		return err
	}
	f := ive.GetFlag()
	name := "--" + f.Name
	if f.Shorthand != "" && f.ShorthandDeprecated == "" {
		name = "-" + f.Shorthand + "/--" + f.Name
	}
	var want string
	switch typ := f.Value.Type(); typ {
	case "uint", "uint8", "uint16", "uint32", "uint64":
		want = "a whole number 0 or above"
		if errors.Is(err, strconv.ErrRange) {
			bits := map[string]int{"uint": strconv.IntSize, "uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64}[typ]
			want = fmt.Sprintf("a whole number from 0 to %d", uint64(1<<bits-1))
		}
	case "int", "int8", "int16", "int32", "int64", "count":
		want = "a whole number"
		if errors.Is(err, strconv.ErrRange) {
			want = "a whole number of a sensible size"
		}
	case "float32", "float64":
		want = "a number"
	case "duration":
		want = "a duration such as 90s, 5m or 1h"
	case "bool":
		want = "true or false"
	default:
		return err
	}
	return fmt.Errorf("%s %s: want %s", name, ive.GetValue(), want)
}

// commandNames lists the commands of root as its help does, leaving out
// help and shell completion.
func commandNames(root *cobra.Command) []string {
	var names []string
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() && c.Name() != "completion" {
			names = append(names, c.Name())
		}
	}
	return names
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

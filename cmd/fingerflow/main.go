// Command fingerflow learns what flow records say about hosts: which catalog
// files (updates, installers) they downloaded, judged from flow metadata alone.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fingerflow/fingerflow/datasets"
)

// Exit codes (exitStatusHelp says them in words).
const (
	exitOK          = 0
	exitError       = 1
	exitNotFound    = 1 // the host, OS family or update asked about is unknown: grep's "no match"
	exitUsage       = 2
	exitPartial     = 3 // the run finished but some input files were skipped
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var opts globalOptions
	err := newRootCommand(&opts).ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err on w and maps it to the process exit status.
func exitCode(err error, w *os.File) int {
	var uerr usageError
	var nerr notFoundError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(w, "fingerflow: interrupted")
		return exitInterrupted
	case errors.Is(err, datasets.ErrSkipped):
		fmt.Fprintf(w, "fingerflow: %v\n", err)
		return exitPartial
	case errors.As(err, &uerr):
		fmt.Fprintf(w, "fingerflow: %v\n", err)
		return exitUsage
	case errors.As(err, &nerr):
		fmt.Fprintf(w, "fingerflow: %v\n", err)
		return exitNotFound
	default:
		fmt.Fprintf(w, "fingerflow: %v\n", err)
		return exitError
	}
}

package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuietAndVerbose: -q and -v mean the same on every command: with -q
// a successful run prints nothing on stderr (no summary, no log line),
// with -v it logs debugging detail (here: each input file read).
func TestQuietAndVerbose(t *testing.T) {
	model := filepath.Join(lab, "lab.ffm")
	flows := filepath.Join(lab, "test-near.v9")
	labels := filepath.Join(lab, "test-near.labels.csv")
	out := t.TempDir()
	commands := map[string][]string{
		"info":     {"info", flows},
		"ingest":   {"ingest", flows, "--out", filepath.Join(out, "flows.csv")},
		"classify": {"classify", "--model", model, flows},
		"evaluate": {"evaluate", "--model", model, "--flows", flows, "--labels", labels},
	}
	if !testing.Short() {
		commands["train"] = []string{"train", "--catalog", filepath.Join(lab, "cat.csv"), "--trees", "1",
			"--flows", filepath.Join(lab, "train-near.v9"), "--labels", filepath.Join(lab, "train-near.labels.csv"),
			"--out", filepath.Join(out, "m.ffm")}
	}
	for name, args := range commands {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := run(t, context.Background(), append(args, "-q")...)
			if code != exitOK || stderr != "" {
				t.Errorf("-q: exit %d, stderr %q; want 0 and nothing", code, stderr)
			}
			if name == "train" && stdout != "" {
				t.Errorf("-q: train printed %q", stdout)
			}
			_, stderr, code = run(t, context.Background(), append(args, "-v")...)
			if code != exitOK || !strings.Contains(stderr, "level=DEBUG") || !strings.Contains(stderr, "nfcapd.202611221900") {
				t.Errorf("-v: exit %d, stderr lacks a debug line naming the input file:\n%s", code, stderr)
			}
		})
	}
	if _, stderr, code := run(t, context.Background(), "info", "-q", "-v", flows); code != exitUsage {
		t.Errorf("-q -v: exit %d, want %d (stderr %q)", code, exitUsage, stderr)
	}
}

// TestUnknownCommand: a command that does not exist is a usage error
// (exit status 2, as the README says); no command at all shows the help.
func TestUnknownCommand(t *testing.T) {
	if _, stderr, code := run(t, context.Background(), "bogus"); code != exitUsage || !strings.Contains(stderr, `unknown command "bogus"`) {
		t.Errorf("bogus: exit %d, stderr %q; want %d", code, stderr, exitUsage)
	}
	// The message lists every command of the tree, in the help's order.
	var names []string
	for _, c := range newRootCommand(&globalOptions{}).Commands() {
		names = append(names, c.Name())
	}
	if len(names) < 12 {
		t.Fatalf("the command tree holds %d commands: %v", len(names), names)
	}
	want := "fingerflow: unknown command \"bogus\" (commands: " + strings.Join(names, ", ") + ")\n"
	if _, stderr, _ := run(t, context.Background(), "bogus"); stderr != want {
		t.Errorf("bogus: stderr\n%q\nwant\n%q", stderr, want)
	}
	// A near miss is named.
	if _, stderr, _ := run(t, context.Background(), "histroy"); !strings.Contains(stderr, "did you mean history?") {
		t.Errorf("histroy: stderr %q lacks the suggestion", stderr)
	}
	if stdout, _, code := run(t, context.Background()); code != exitOK || !strings.Contains(stdout, "Available Commands") {
		t.Errorf("no command: exit %d, stdout %q; want the help", code, stdout)
	}
}

// TestHelp: every flag's help states at most one default, and --proto
// names every protocol name it lists in the README (ah among them).
func TestHelp(t *testing.T) {
	for _, c := range []string{"info", "ingest", "train", "evaluate", "classify"} {
		stdout, _, code := run(t, context.Background(), c, "--help")
		if code != exitOK {
			t.Fatalf("%s --help: exit %d", c, code)
		}
		for _, line := range strings.Split(stdout, "\n") {
			if strings.Count(line, "default") > 1 {
				t.Errorf("%s --help: two defaults in %q", c, line)
			}
		}
	}
	stdout, _, _ := run(t, context.Background(), "ingest", "--help")
	for _, p := range []string{"tcp", "udp", "icmp", "icmp6", "gre", "esp", "ah", "sctp"} {
		if !strings.Contains(stdout, " "+p+",") && !strings.Contains(stdout, "("+p+",") {
			t.Errorf("--proto help does not name %s:\n%s", p, stdout)
		}
	}
}

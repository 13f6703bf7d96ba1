package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagValues: a flag value that does not parse, or parses to nonsense,
// is a usage error (exit status 2) in one line that gives the flag, the
// value and what would do, in the user's terms: no strconv or time
// package wording, no configuration struct.
func TestFlagValues(t *testing.T) {
	flows := filepath.Join(lab, "test-near.v9")
	model := filepath.Join(lab, "lab.ffm")
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		// Values that do not parse as the flag's type.
		{[]string{"train", "--seed", "-1"}, "--seed -1: want a whole number 0 or above"},
		{[]string{"train", "--seed", "99999999999999999999999"}, "--seed 99999999999999999999999: want a whole number from 0 to 18446744073709551615"},
		{[]string{"stats", "-n", "abc", flows}, "-n/--top abc: want a whole number"},
		{[]string{"stats", "--top", "1.5", flows}, "-n/--top 1.5: want a whole number"},
		{[]string{"train", "--threshold", "high"}, "--threshold high: want a number"},
		{[]string{"info", "--json=maybe", flows}, "--json maybe: want true or false"},
		{[]string{"collect", "-d", dir, "--rotate", "5"}, "--rotate 5: want a duration such as 90s, 5m or 1h"},
		// Values that parse but mean nothing.
		{[]string{"detect", "--max-alarms", "-1", flows}, "--max-alarms -1: want 1 or more"},
		{[]string{"detect", "--theta0", "2", flows}, "--theta0 2: want a chance below 1 and above --theta1 (0.2)"},
		{[]string{"detect", "--theta1", "0", flows}, "--theta1 0: want a chance above 0 and below --theta0 (0.8)"},
		{[]string{"detect", "--alpha", "0", flows}, "--alpha 0: want a share above 0 and below 0.5"},
		{[]string{"detect", "--beta", "NaN", flows}, "--beta NaN: want a share above 0 and below 0.5"},
		{[]string{"detect", "--interval", "-1s", flows}, "--interval -1s: want whole seconds, 1s or more"},
		{[]string{"detect", "--interval", "1500ms", flows}, "--interval 1.5s: want whole seconds, 1s or more"},
		{[]string{"detect", "--z", "-1", flows}, "--z -1: want a number above 0"},
		{[]string{"detect", "--min-count", "-3", flows}, "--min-count -3: want 0 or more"},
		{[]string{"detect", "--unexpected", "0", flows}, "--unexpected 0: want a number above 0"},
		{[]string{"detect", "--nights", "-1", flows}, "--nights -1: want 0 (all) or more"},
		{[]string{"detect", "--show", "-1", flows}, "--show -1: want 0 (all) or more"},
		{[]string{"detect", "--workers", "-2", flows}, "--workers -2: want 0 (one per processor) or more"},
		{[]string{"stats", "--workers", "-2", flows}, "--workers -2: want 0 (one per processor) or more"},
		{[]string{"stats", "--active-timeout", "-1s", flows}, "--active-timeout -1s: want a duration above 0"},
		{[]string{"stats", "--service-ports", "0", flows}, "--service-ports 0: want 1 or more"},
		{[]string{"stats", "-n", "-1", flows}, "-n/--top -1: want 0 (all) or more"},
		{[]string{"stats", "--hosts", "-1", flows}, "--hosts -1: want 0 or more"},
		{[]string{"collect", "-d", dir, "--stats", "-1s"}, "--stats -1s: want 0 (never) or a duration above 0"},
		{[]string{"collect", "-d", dir, "--workers", "-1"}, "--workers -1: want 0 (one per processor) or more"},
		{[]string{"collect", "-d", dir, "--rotate", "-5m"}, "--rotate -5m0s: want whole seconds that divide 24h (1m, 5m, 15m, 1h, ...)"},
		{[]string{"collect", "-d", dir, "--rotate", "0s"}, "--rotate 0s: want whole seconds that divide 24h (1m, 5m, 15m, 1h, ...)"},
		{[]string{"collect", "-d", dir, "--socket-buffer", "-1"}, `--socket-buffer -1: want bytes, or a number with K, M or G, above 0 and below 2 GiB`},
		{[]string{"collect", "-d", dir, "--socket-buffer", "0"}, `--socket-buffer 0: want bytes, or a number with K, M or G, above 0 and below 2 GiB`},
		{[]string{"classify", "-m", model, "--threshold", "-1", flows}, "--threshold -1: want a share in (0, 1], or 0 for the model's own"},
		{[]string{"classify", "-m", model, "--threshold", "NaN", flows}, "--threshold NaN: want a share in (0, 1], or 0 for the model's own"},
		{[]string{"evaluate", "-m", model, "--threshold", "2"}, "--threshold 2: want a share in (0, 1], or 0 for the model's own"},
		{[]string{"evaluate", "-m", model, "--confusions", "-1"}, "--confusions -1: want 0 or more"},
		{[]string{"train", "--catalog", "c.csv", "--out", "m.ffm", "--trees", "0"}, "--trees 0: want 1 to 1000"},
		{[]string{"train", "--catalog", "c.csv", "--out", "m.ffm", "--max-extra", "NaN"}, "--max-extra NaN: want a share in (0, 1]"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			// Values are checked before any work: a command that began
			// it would stop as interrupted (collect would listen).
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			stdout, stderr, code := run(t, ctx, c.args...)
			if want := "fingerflow: " + c.want + "\n"; code != exitUsage || stderr != want || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr\n%q\nwant exit %d and\n%q", code, stdout, stderr, exitUsage, want)
			}
		})
	}
}

// TestNothingFound: a host, OS family or update that no night of the
// history knows is answered with exit status 1 (as grep's "no match"),
// whether asked with history or missing, as a table or as JSON (an empty
// array), in one line on stderr that says what was not found, also under
// -q; an answer of no host is an answer (exit status 0).
func TestNothingFound(t *testing.T) {
	historyDir(t)
	for _, c := range []struct {
		args   []string
		code   int
		stdout string
		says   string
	}{
		{[]string{"history", "192.0.2.7"}, exitNotFound, "", "fingerflow: fingerflow.db: no night saw 192.0.2.7 (3 nights, 2026-11-20 to 2026-11-22)\n"},
		{[]string{"history", "-q", "--json", "192.0.2.7"}, exitNotFound, "[]\n", "fingerflow: fingerflow.db: no night saw 192.0.2.7 (3 nights, 2026-11-20 to 2026-11-22)\n"},
		{[]string{"missing", "--os", "nosuch"}, exitNotFound, "", "fingerflow: fingerflow.db: no update of nosuch in any night's catalog\n"},
		{[]string{"missing", "-q", "--json", "--os", "nosuch"}, exitNotFound, "[]\n", "fingerflow: fingerflow.db: no update of nosuch in any night's catalog\n"},
		{[]string{"missing", "--os", "debian", "--since", "2030-01-01"}, exitNotFound, "", "fingerflow: fingerflow.db: no update of debian since 2030-01-01 in any night's catalog\n"},
		{[]string{"missing", "--update", "nosuch_1.0_amd64.deb"}, exitNotFound, "", "fingerflow: nosuch_1.0_amd64.deb: not listed in the catalog of any night in fingerflow.db\n"},
		{[]string{"missing", "-q", "--json", "--update", "nosuch_1.0_amd64.deb"}, exitNotFound, "[]\n", "fingerflow: nosuch_1.0_amd64.deb: not listed in the catalog of any night in fingerflow.db\n"},
		{[]string{"missing", "-q", "--update", curl.Entry}, exitOK, "*", ""},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			stdout, stderr, code := run(t, context.Background(), c.args...)
			if code != c.code || stdout != c.stdout && c.stdout != "*" || stderr != c.says {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout, stderr, c.code, c.stdout, c.says)
			}
		})
	}
}

// TestExitStatusDocumented: fingerflow --help states the exit status rule,
// and the README states the same, line for line.
func TestExitStatusDocumented(t *testing.T) {
	stdout, _, code := run(t, context.Background(), "--help")
	if code != exitOK || !strings.Contains(stdout, exitStatusHelp) {
		t.Errorf("--help lacks the exit status rule:\n%s", stdout)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "\n```\n"+exitStatusHelp+"```\n") {
		t.Errorf("the README lacks the exit status rule as --help gives it:\n%s", exitStatusHelp)
	}
}

package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoldenMissing pins what missing prints for one update and for every
// update of an OS, as tables and as JSON; an OS no catalog lists is an
// answer of nothing (exit status 1).
func TestGoldenMissing(t *testing.T) {
	golden, err := filepath.Abs(filepath.Join("testdata", "golden"))
	if err != nil {
		t.Fatal(err)
	}
	historyDir(t)
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"missing-update.txt", []string{"missing", "--update", sslNew.Entry}, exitOK},
		{"missing-update.json", []string{"missing", "--json", "--update", sslNew.Entry}, exitOK},
		{"missing-released.txt", []string{"missing", "--update", kb13.Entry}, exitOK},
		{"missing-none.txt", []string{"missing", "--os", "rhel"}, exitNotFound},
		{"missing-none.json", []string{"missing", "--os", "rhel", "--json"}, exitNotFound},
		{"missing-os.txt", []string{"missing", "--os", "debian"}, exitOK},
		{"missing-os-since.txt", []string{"missing", "--os", "Windows", "--since", "2026-11-15"}, exitOK},
		{"missing-os-since.json", []string{"missing", "--os", "windows", "--since", "2026-11-15T00:00:00Z", "--json"}, exitOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := run(t, context.Background(), c.args...)
			if code != c.code {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			checkGoldenAt(t, golden, c.name, stdout+"--- stderr\n"+stderr)
		})
	}
}

// TestMissingErrors checks missing's usage errors (exit status 2) and an
// entry no night listed (exit status 1), each with one line saying why.
func TestMissingErrors(t *testing.T) {
	historyDir(t)
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"missing"}, exitUsage, "--update ENTRY or --os OS is needed"},
		{[]string{"missing", "--update", sslNew.Entry, "--os", "debian"}, exitUsage, "exclude each other"},
		{[]string{"missing", "--update", sslNew.Entry, "--since", "2026-11-01"}, exitUsage, "--since goes with --os"},
		{[]string{"missing", "--os", "debian", "--since", "last week"}, exitUsage, `--since "last week"`},
		{[]string{"missing", "--os", "debian", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"missing", "--update", "nosuch_1.0_amd64.deb"}, exitNotFound,
			"nosuch_1.0_amd64.deb: not listed in the catalog of any night in fingerflow.db"},
	} {
		stdout, stderr, code := run(t, context.Background(), c.args...)
		if code != c.code || !strings.Contains(stderr, c.says) || strings.Count(stderr, "\n") != 1 || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d and one line saying %q", c.args, code, stdout, stderr, c.code, c.says)
		}
	}
}

package catalog

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestOSVersionOf(t *testing.T) {
	for _, tc := range []struct{ os, version, want string }{
		{"debian", "3.0.22-1~deb12u2", "12"},
		{"debian", "1.2-3+deb11u1", "11"},
		{"debian", "6.1.174-1", ""},
		{"ubuntu", "1.2-3ubuntu0.22.04.1", "22.04"},
		{"rhel", "5.14.0-427.13.1.el9_4", "9"},
		{"rpm", "7.76.1-29.el8_10", "8"},
		{"fedora", "6.8.5-301.fc40", "40"},
		{"windows", "10.0.19045.4291", ""},
	} {
		if got := OSVersionOf(tc.os, tc.version); got != tc.want {
			t.Errorf("OSVersionOf(%q, %q) = %q, want %q", tc.os, tc.version, got, tc.want)
		}
	}
}

func TestCSVReleased(t *testing.T) {
	in := "file,size,os,version,released,os_version\n" +
		"a.deb,10,debian,1.0+deb12u1,2026-03-01,\n" +
		"b.msu,20,windows,KB5034441,2026-01-09T17:00:00+01:00,11\n" +
		"c.bin,30,,,,\n"
	c, err := ReadCSV(context.Background(), strings.NewReader(in), "cat.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		osv      string
		released time.Time
	}{
		{"12", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"11", time.Date(2026, 1, 9, 16, 0, 0, 0, time.UTC)},
		{"", time.Time{}},
	}
	for i, w := range want {
		e := c.Entries[i]
		if e.OSVersion != w.osv || !e.Released.Equal(w.released) {
			t.Errorf("%s: os version %q released %v, want %q %v", e.Name, e.OSVersion, e.Released, w.osv, w.released)
		}
	}
	_, err = ReadCSV(context.Background(), strings.NewReader("file,size,released\na,1,yesterday\n"), "bad.csv")
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "bad.csv: line 2") {
		t.Errorf("bad date: err = %v, want ErrFormat naming bad.csv line 2", err)
	}
}

package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fingerflow/fingerflow/datasets/clickhouse"
	"github.com/fingerflow/fingerflow/datasets/clickhouse/chtest"
)

// chServers are the ClickHouse servers the load tests use.
var chServers chtest.Servers

func TestMain(m *testing.M) { os.Exit(chtest.Main(m, &chServers, 2)) }

// TestLoad loads lab runs with a file that is no flow file and one
// damaged part-way: those two are named and load nothing, the others
// load whole, and loading again stores nothing more.
func TestLoad(t *testing.T) {
	srv := chServers.Need(t, 1)[0]
	ctx := context.Background()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(lab, "train-near.argus"))
	if err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(dir, "damaged.argus")
	if err := os.WriteFile(damaged, b[:len(b)*2/3+7], 0o644); err != nil {
		t.Fatal(err)
	}
	notFlows := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notFlows, []byte("no flows here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dsn := srv.DSN("cmd_load")
	good := []string{filepath.Join(lab, "test-near.v9", "nfcapd.202611221900"), filepath.Join(lab, "test-near.argus")}
	args := append([]string{"load", "--clickhouse", dsn}, good...)
	args = append(args, damaged, notFlows)

	cfg, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	st, err := clickhouse.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Conn().Exec(ctx, "DROP DATABASE IF EXISTS cmd_load"); err != nil {
		t.Fatal(err)
	}

	_, stderr, code := run(t, ctx, args...)
	if code != exitPartial {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitPartial, stderr)
	}
	for _, want := range []string{"skipped " + damaged + ": none of its flows loaded", "skipped " + notFlows, "2 files loaded", "2 of 4 input files skipped"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	var want uint64
	for _, p := range good {
		_, _, n := readAllCount(t, p)
		want += n
	}
	n, err := st.Count(ctx, clickhouse.Window{})
	if err != nil {
		t.Fatal(err)
	}
	var raw uint64
	if err := st.Conn().QueryRow(ctx, "SELECT count() FROM cmd_load.flows").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if n != want || raw != want {
		t.Fatalf("%d flows visible, %d rows stored, want %d of the good files only", n, raw, want)
	}

	_, stderr, code = run(t, ctx, append([]string{"load", "--clickhouse", dsn}, good...)...)
	if code != exitOK || !strings.Contains(stderr, "0 files loaded") || !strings.Contains(stderr, "2 already loaded") {
		t.Fatalf("second load: exit %d, stderr:\n%s", code, stderr)
	}
	if n, err := st.Count(ctx, clickhouse.Window{}); err != nil || n != want {
		t.Fatalf("%d flows after loading again (%v), want %d", n, err, want)
	}
}

func readAllCount(t *testing.T, path string) (string, string, uint64) {
	t.Helper()
	reg := newRegistry(slog.New(slog.DiscardHandler))
	rd, err := reg.Detect(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, err := range rd.Flows(context.Background(), path) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return path, rd.Format(), n
}

// TestLoadBadServer: an unreachable server, a wrong password and a bad
// DSN each end the load with one line and its exit status.
func TestLoadBadServer(t *testing.T) {
	srv := chServers.Need(t, 1)[0]
	file := filepath.Join(lab, "test-near.v9")
	for _, tc := range []struct {
		name, dsn string
		code      int
		want      string
	}{
		{"unreachable", "clickhouse://127.0.0.1:1/x", exitError, "cannot reach ClickHouse at 127.0.0.1:1"},
		{"wrong password", "clickhouse://default:wrong@" + srv.Addr + "/x", exitError, "wrong user or password"},
		{"http", "http://" + srv.Addr + "/x", exitUsage, "scheme must be clickhouse://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := run(t, context.Background(), "load", "--clickhouse", tc.dsn, file)
			if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("exit %d (want %d), stderr %q (want one line with %q)", code, tc.code, stderr, tc.want)
			}
		})
	}
}

package history

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Environment of the child process TestKilledWriter starts.
const (
	killPointEnv = "FINGERFLOW_HISTORY_KILL_POINT" // where to report being inside
	killDBEnv    = "FINGERFLOW_HISTORY_KILL_DB"    // the database
	killSizeEnv  = "FINGERFLOW_HISTORY_KILL_SIZE"  // "hosts fetches" of the night it writes
)

// TestKilledWriter runs a real writer in a child process (this test
// binary again), lets it report that it is inside its transaction at a
// chosen point, kills it with SIGKILL there, and checks that the database
// opens and answers exactly as before. The child keeps only a small page
// cache, so SQLite has already written uncommitted pages into the database
// file when it dies: what is tested is the rollback, not a file nobody
// touched.
func TestKilledWriter(t *testing.T) {
	hosts, fetches := 3000, 60000
	if testing.Short() {
		hosts, fetches = 600, 8000
	}
	for _, point := range []string{"deleted", "hosts", "fetches", "commit"} {
		t.Run(point, func(t *testing.T) {
			// Three small nights and a big one, which the child writes
			// again with other content (so it replaces a night).
			_, path := create(t, append(scenario(), bigRun("2026-11-23", hosts/2, fetches/2, 300, 1))...)
			beforeDump := dump(t, path)
			db, err := OpenExisting(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			beforeAnswers := answers(t, db)
			db.Close()
			beforeFile, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			killChild(t, path, point, fmt.Sprint(hosts, fetches))

			journal, err := os.Stat(path + "-journal")
			if err != nil || journal.Size() == 0 {
				t.Errorf("no hot journal after the kill (%v): the child was not inside a transaction", err)
			}
			afterFile, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			changed := !bytes.Equal(beforeFile, afterFile)
			t.Logf("killed at %q: journal %d bytes, database file changed by uncommitted pages: %v", point, journal.Size(), changed)
			if (point == "fetches" || point == "commit") && !changed {
				t.Errorf("the database file holds no uncommitted page: the kill did not test a rollback")
			}

			db, err = Open(context.Background(), path)
			if err != nil {
				t.Fatalf("after the kill: %v", err)
			}
			defer db.Close()
			if diff := cmp.Diff(beforeAnswers, answers(t, db)); diff != "" {
				t.Errorf("answers after the kill (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(beforeDump, dump(t, path)); diff != "" {
				t.Errorf("database after the kill (-before +after):\n%s", diff)
			}
			checkLatest(t, path)
			// And the night can be written for real afterwards.
			if err := db.WriteRun(context.Background(), bigRun("2026-11-23", 100, 1000, 30, 3)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestKilledMigration kills a process migrating the version 1 fixture
// just before its migration commits: the file must come back as the
// version 1 file it was, and migrate cleanly afterwards.
func TestKilledMigration(t *testing.T) {
	fixture, err := os.ReadFile(filepath.Join("testdata", "v1.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "fingerflow.db")
	if err := os.WriteFile(path, fixture, 0o644); err != nil {
		t.Fatal(err)
	}
	killChild(t, path, "migrated", "")
	if _, err := os.Stat(path + "-journal"); err != nil {
		t.Errorf("no hot journal after the kill: %v", err)
	}
	// Any SQLite reader rolls the journal back first.
	raw := rawDB(t, path)
	var v int
	if err := raw.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != 1 {
		t.Errorf("schema version %d, %v after the kill; want 1", v, err)
	}
	raw.Close()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fixture, after) {
		t.Error("the version 1 file is not byte for byte as it was")
	}
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if m, err := db.Missing(context.Background(), "openssl_3.0.15-1~deb12u1_amd64.deb"); err != nil || len(m.Hosts) != 1 {
		t.Errorf("after migrating: %+v, %v", m, err)
	}
}

// killChild starts the child writer on path, waits until it reports
// being inside its transaction at point, and kills it.
func killChild(t *testing.T, path, point, size string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), killPointEnv+"="+point, killDBEnv+"="+path, killSizeEnv+"="+size)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inside := make(chan bool, 1)
	var lines []string
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "inside "+point {
				inside <- true
				return
			}
			lines = append(lines, sc.Text())
		}
		inside <- false
	}()
	select {
	case ok := <-inside:
		if !ok {
			cmd.Wait()
			t.Fatalf("the child ended without reaching %q:\n%s\n%s", point, strings.Join(lines, "\n"), stderr.String())
		}
	case <-time.After(5 * time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the child did not reach %q in 5 minutes", point)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child ended with %v, not killed by SIGKILL", err)
	}
}

// TestKillChild is the child of TestKilledWriter and TestKilledMigration;
// on its own it does nothing.
func TestKillChild(t *testing.T) {
	point, path := os.Getenv(killPointEnv), os.Getenv(killDBEnv)
	if point == "" || path == "" {
		t.Skip("the child process of TestKilledWriter")
	}
	ctx := context.Background()
	hook := func(p string) {
		if p == point {
			fmt.Printf("inside %s\n", p)
		}
		// Past the point, it never commits: it writes on until killed,
		// or waits for the kill just before committing.
		if slices.Contains([]string{"commit", "migrated"}, p) {
			time.Sleep(time.Hour)
		}
	}
	db, err := open(ctx, path, false, hook)
	if err != nil {
		t.Fatal(err)
	}
	// A small page cache: SQLite spills uncommitted pages into the file.
	if _, err := db.db.ExecContext(ctx, "PRAGMA cache_size = 100"); err != nil {
		t.Fatal(err)
	}
	var n [2]int
	for i, f := range strings.Fields(os.Getenv(killSizeEnv)) {
		n[i], _ = strconv.Atoi(f)
	}
	err = db.WriteRun(ctx, bigRun("2026-11-23", n[0], n[1], 300, 2))
	t.Fatalf("the writer was not killed: %v", err)
}

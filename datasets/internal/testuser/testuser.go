// Package testuser lets tests of file permissions run where they mean
// something. Root ignores permission bits, so a read-only directory made by
// a test that runs as root stops nothing; Unprivileged runs such a test
// again as the user nobody in a child process (the test binary itself).
package testuser

import (
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Unprivileged reports whether permission checks apply to this process,
// so that the caller runs its permission cases itself. As root it reports
// false after running the calling test again as the user nobody, in a copy
// of the test binary that nobody can execute: a failure there fails t with
// the child's output, and a child that ran none of the test's subtests
// (or skipped them) fails t too, so the cases cannot pass unseen. Without
// a user nobody the test is skipped.
func Unprivileged(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() != 0 {
		return true
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("running as root and there is no user nobody to check permissions as: %v", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		t.Skipf("running as root and user nobody has uid %q, gid %q", u.Uid, u.Gid)
	}
	bin := copyExecutable(t)
	var run []string
	for _, part := range strings.Split(t.Name(), "/") {
		run = append(run, "^"+regexp.QuoteMeta(part)+"$")
	}
	args := []string{"-test.run=" + strings.Join(run, "/"), "-test.v=true", "-test.count=1"}
	if testing.Short() {
		args = append(args, "-test.short")
	}
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	cmd.Env = append(os.Environ(), "TMPDIR="+os.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the test run again as nobody (uid %d) failed: %v\n%s", uid, err, out)
	}
	switch s := string(out); {
	case strings.Contains(s, "--- SKIP"):
		t.Fatalf("the test run again as nobody skipped cases:\n%s", s)
	case !strings.Contains(s, "--- PASS: "+t.Name()):
		t.Fatalf("the test run again as nobody did not pass %s:\n%s", t.Name(), s)
	}
	t.Logf("permission cases run as nobody (uid %d) in a child process:\n%s", uid, out)
	return false
}

// copyExecutable copies the running test binary into a directory every
// user can read, since the go command builds it in one only its owner can.
func copyExecutable(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "testuser-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, filepath.Base(self))
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

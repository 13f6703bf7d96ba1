package main

import (
	"context"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/argus"
)

// readmeBlock is a fenced code block of the README and the prose before it.
type readmeBlock struct {
	before string   // the text since the previous block
	lines  []string // the block's lines, continuation lines joined
	line   int      // README line of the opening fence
}

// readme parses the README's fenced code blocks.
func readme(t *testing.T) (text string, blocks []readmeBlock) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text = string(b)
	var cur *readmeBlock
	var prose strings.Builder
	for i, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, "```") && cur == nil:
			cur = &readmeBlock{before: prose.String(), line: i + 1}
			prose.Reset()
		case strings.HasPrefix(l, "```"):
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			if n := len(cur.lines); n > 0 && strings.HasSuffix(cur.lines[n-1], "\\") {
				cur.lines[n-1] = strings.TrimSuffix(cur.lines[n-1], "\\") + " " + strings.TrimSpace(l)
				continue
			}
			cur.lines = append(cur.lines, l)
		default:
			prose.WriteString(l + "\n")
		}
	}
	return text, blocks
}

// shellWords splits a command line the way a shell would here: on blanks,
// with double quotes grouping.
func shellWords(s string) []string {
	var out []string
	var w strings.Builder
	quoted, in := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, in = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if in {
				out = append(out, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, w.String())
	}
	return out
}

// readmeCommand is a fingerflow command line of the README.
type readmeCommand struct {
	args []string
	line int
}

// commands lists the fingerflow command lines of a block ("go run
// ./cmd/fingerflow ...", "fingerflow ..." or "$ fingerflow ...").
func (b *readmeBlock) commands() []readmeCommand {
	var out []readmeCommand
	for i, l := range b.lines {
		l = strings.TrimPrefix(strings.TrimSpace(l), "$ ")
		for _, p := range []string{"go run ./cmd/fingerflow ", "fingerflow "} {
			if rest, ok := strings.CutPrefix(l, p); ok {
				out = append(out, readmeCommand{shellWords(rest), b.line + 1 + i})
			}
		}
	}
	return out
}

// localArgs makes a README command runnable here: places of a production
// machine become shipped data, the model trained in the README the shipped
// one, and outputs go to dir.
func localArgs(args []string, dir string) []string {
	out := make([]string, 0, len(args)+2)
	if (args[0] == "history" || args[0] == "missing") && !slices.Contains(args, "--db") {
		// The README runs them where the quick start ran, whose history
		// is dir's.
		out = append(out, args[0], "--db", filepath.Join(dir, "fingerflow.db"))
		args = args[1:]
		out = append(out, args...)
		return out
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "/var/cache/nfdump"), strings.HasPrefix(a, "/var/cache/fingerflow"):
			a = "datasets/lab-dev/test-near.v9/nfcapd.202611221900"
		case a == "--clickhouse" && i+1 < len(args) && len(chServers.List) > 0:
			// The README's server is the test's.
			out = append(out, a)
			i++
			u, err := url.Parse(args[i])
			if err == nil {
				u.Host, u.User = chServers.List[0].Addr, url.User("default")
				a = u.String()
			}
		case a == "lab.ffm" && i > 0 && (args[i-1] == "--model" || args[i-1] == "-m"):
			a = "datasets/lab-dev/lab.ffm"
		case (a == "--out" || a == "-o" || a == "--db") && i+1 < len(args):
			out = append(out, a)
			i++
			a = filepath.Join(dir, filepath.Base(args[i]))
		}
		out = append(out, strings.ReplaceAll(a, "RUN", "dev-far"))
	}
	return out
}

var readmeElapsed = regexp.MustCompile(`in [0-9.]+m?s(, [0-9]+ flows/s)?`)

// normalise blanks what changes from run to run: elapsed times and rates.
func normalise(s string) string { return readmeElapsed.ReplaceAllString(s, "in TIME") }

// TestReadme runs every fingerflow command of the README's code blocks
// (outputs written to a temporary directory, production paths replaced by
// shipped data) and compares the outputs the README shows with what the
// commands print, so the README cannot drift from the code.
func TestReadme(t *testing.T) {
	text, blocks := readme(t)
	t.Chdir(filepath.Join("..", ".."))
	dir := t.TempDir()
	outputs := map[int]string{} // README line of a command → its stdout and stderr
	ran := 0
	for _, b := range blocks {
		for _, c := range b.commands() {
			if testing.Short() && c.args[0] == "train" {
				continue // trains models
			}
			if c.args[0] == "collect" {
				continue // a daemon: its own tests run it on loopback
			}
			if slices.Contains(c.args, "--clickhouse") && len(chServers.List) == 0 {
				continue // no server here: the ClickHouse tests say why
			}
			args := localArgs(c.args, dir)
			stdout, stderr, code := run(t, context.Background(), args...)
			if code != exitOK {
				t.Errorf("README line %d: %q: exit %d: %s", c.line, args, code, stderr)
			}
			// Paths under dir are shown as the README's, relative.
			outputs[c.line] = strings.ReplaceAll(stdout+stderr, dir+string(filepath.Separator), "")
			ran++
		}
	}
	if ran < 5 {
		t.Fatalf("ran %d README commands; the parser lost some", ran)
	}

	// Shown outputs: every line of a block that follows a command (in the
	// same block after a "$ " line, or in the next block of the section
	// after prose ending in ":") is a line of the command's output; a line ending in
	// "..." is the start of one, and a line of "..." stands for others.
	check := func(name string, shown []string, got string) {
		t.Helper()
		lines := strings.Split(normalise(got), "\n")
		for _, want := range shown {
			want = normalise(strings.TrimRight(want, " "))
			if strings.TrimSpace(want) == "..." || strings.TrimSpace(want) == "" {
				continue
			}
			found := false
			for _, l := range lines {
				if prefix, ok := strings.CutSuffix(want, "..."); ok && strings.HasPrefix(l, prefix) || l == want {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("%s: the README shows %q, the command does not print it:\n%s", name, want, got)
			}
		}
	}
	checked := 0
	for i, b := range blocks {
		cs := b.commands()
		if len(cs) == 1 && strings.HasPrefix(strings.TrimSpace(b.lines[0]), "$ ") {
			if out, ok := outputs[cs[0].line]; ok {
				check(strings.Join(cs[0].args, " "), b.lines[1:], out)
				checked++
			}
			continue
		}
		if len(cs) != 1 || i+1 == len(blocks) || len(blocks[i+1].commands()) > 0 {
			continue
		}
		if next := blocks[i+1].before; !strings.HasSuffix(strings.TrimSpace(next), ":") || strings.Contains("\n"+next, "\n#") {
			continue // not introduced as its output, or in another section
		}
		if out, ok := outputs[cs[0].line]; ok {
			check(strings.Join(cs[0].args, " "), blocks[i+1].lines, out)
			checked++
		}
	}
	t.Logf("ran %d commands, compared %d shown outputs", ran, checked)
	if checked < 2 {
		t.Errorf("compared %d shown outputs; the parser lost some", checked)
	}

	// The ingest summary the README shows is that of its first ingest
	// example.
	for i, b := range blocks {
		if len(b.lines) != 1 || !strings.HasPrefix(b.lines[0], "ingest: ") {
			continue
		}
		for _, p := range blocks[:i] {
			if cs := p.commands(); len(cs) > 0 && cs[0].args[0] == "ingest" {
				check("ingest summary", b.lines, strings.ReplaceAll(outputs[cs[0].line], dir+string(filepath.Separator), ""))
				break
			}
		}
	}

	// Adopted offsets are reported as the README shows them.
	for _, b := range blocks {
		if len(b.lines) == 1 && strings.HasPrefix(b.lines[0], "classify: server ") {
			_, stderr, _ := run(t, context.Background(), "classify", "--model", "datasets/lab-dev/lab.ffm", "datasets/lab-extra/dev-mirror.v9")
			check("adaptation note", b.lines, stderr)
		}
	}

	// Every test and benchmark the README cites exists.
	var code strings.Builder
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			code.Write(b)
			return err
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("`(Test[A-Za-z0-9]+)`|-run (Test[A-Za-z0-9]+)|-bench ([A-Za-z0-9]+)").FindAllStringSubmatch(text, -1) {
		name := m[1] + m[2]
		if m[3] != "" {
			name = "Benchmark" + m[3]
		}
		if !strings.Contains(code.String(), "func "+name+"(") {
			t.Errorf("the README cites %s, which no test file defines", name)
		}
	}
}

// TestReadmeArgus: the ra command the README gives prints text the
// argus-csv reader reads (the one it gave was refused for lack of
// columns).
func TestReadmeArgus(t *testing.T) {
	if _, err := exec.LookPath("ra"); err != nil {
		t.Skip("ra (argus-client) not installed")
	}
	_, blocks := readme(t)
	var cmd []string
	for _, b := range blocks {
		if len(b.lines) == 1 && strings.HasPrefix(b.lines[0], "ra ") {
			cmd = shellWords(b.lines[0])
		}
	}
	if len(cmd) == 0 {
		t.Fatal("the README gives no ra command")
	}
	out := filepath.Join(t.TempDir(), "test-near.csv")
	var args []string
	for i := 1; i < len(cmd); i++ {
		switch cmd[i] {
		case "FILE":
			args = append(args, filepath.Join(lab, "test-near.argus"))
		case ">":
			i = len(cmd)
		default:
			args = append(args, cmd[i])
		}
	}
	text, err := exec.Command("ra", args...).Output()
	if err != nil {
		t.Fatalf("ra %q: %v", args, err)
	}
	if err := os.WriteFile(out, text, 0o644); err != nil {
		t.Fatal(err)
	}
	r := &argus.CSVReader{}
	if !r.Sniff(text[:min(len(text), datasets.SniffLen)]) {
		t.Fatalf("the argus-csv reader does not take ra's output:\n%s", text[:min(len(text), 300)])
	}
	n := 0
	for _, err := range r.Flows(context.Background(), out) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 300 {
		t.Errorf("%d flows, want test-near's 300", n)
	}
}

package datasets

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

func TestLimitText(t *testing.T) {
	long := strings.Repeat("x", 17)
	for _, tc := range []struct {
		name string
		unit TextUnit
		in   string
		err  string // "" when in passes whole
	}{
		{"lines", Lines, "a,b\nccc\n\n" + strings.Repeat("y", 16) + "\nlast", ""},
		{"line of the bound", Lines, strings.Repeat("y", 16) + "\n" + strings.Repeat("y", 16), ""},
		{"long first line", Lines, long + "\nok\n", "line 1: longer than 16 bytes without a newline"},
		{"long last line", Lines, "a\nb\r\nc\n" + long, "line 4: longer than 16 bytes without a newline"},
		{"long line, then more", Lines, "a\nb\n" + long + "\nc\n", "line 3: longer than 16 bytes without a newline"},
		{"csv quoted newlines", CSVRecords, "file,size\n\"a\nb\",1\n\"q\"\"x\",2\n", ""},
		{"csv record over lines", CSVRecords, "h\n\"ab\ncd\nef\nghi\njkl\nmn\",1\n", "line 2: a quoted field runs on for more than 16 bytes (a quote left open?)"},
		{"csv quote closed, then long", CSVRecords, "h\n\"a\nb\"" + long + "\n", "line 2: a record longer than 16 bytes"},
		{"csv bare quote", CSVRecords, "h\nab\"c\nd\n", ""},
		{"csv no newline", CSVRecords, "file,size\na,1\n" + long, "line 3: longer than 16 bytes without a newline"},
		{"xml", XMLTokens, "<a>\n  <b c=\"d\">text</b>\n</a>\n", ""},
		{"xml long text", XMLTokens, "<a>\n<b>\n" + long + "</b></a>", "line 2: text or a tag longer than 16 bytes"},
		{"xml long text over lines", XMLTokens, "<a>\n<b>\n" + strings.Repeat("x\n", 9) + "</b></a>", "line 2: text or a tag longer than 16 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte at a time and all at once read the same.
			for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				got, err := io.ReadAll(LimitText(r, 16, tc.unit))
				if tc.err == "" {
					if err != nil || string(got) != tc.in {
						t.Fatalf("got %q, %v; want the input whole", got, err)
					}
					continue
				}
				if err == nil || err.Error() != tc.err || !errors.Is(err, ErrLineTooLong) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				// What was passed on ends before the long unit.
				if !strings.HasPrefix(tc.in, string(got)) || len(got) > 0 && got[len(got)-1] != '\n' && got[len(got)-1] != '>' && got[len(got)-1] != '<' {
					t.Errorf("passed on %q before the error", got)
				}
			}
		})
	}
}

// endless is an io.Reader of the same byte for ever.
type endless byte

func (b endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// TestLimitTextMemory: a line that never ends costs the bound, not the
// line: encoding/csv reading through LimitText fails after about MaxLine
// bytes of an endless line and allocates a few MiB.
func TestLimitTextMemory(t *testing.T) {
	r := io.MultiReader(strings.NewReader("file,size\na,1\n"), endless('a'))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cr := csv.NewReader(LimitText(r, MaxLine, CSVRecords))
	var err error
	for err == nil {
		_, err = cr.Read()
	}
	runtime.ReadMemStats(&after)
	if want := "line 3: longer than 1 MiB without a newline"; err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("allocated %d MiB", alloc>>20)
	}
}

// FuzzLimitText: whatever the input, LimitText passes on a prefix of it
// that ends at a unit's end, and all of it unless a unit is too long.
func FuzzLimitText(f *testing.F) {
	for _, p := range []string{"lab-dev/cat.csv", "population/pop-near-24h-s1007.hosts.csv", "catalog/testdata/primary.xml", "catalog/testdata/Packages"} {
		data, err := os.ReadFile(filepath.FromSlash(p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:min(len(data), 2000)], uint8(0))
	}
	f.Fuzz(func(t *testing.T, in []byte, u uint8) {
		unit := TextUnit(u % 3)
		got, err := io.ReadAll(LimitText(iotest.HalfReader(bytes.NewReader(in)), 64, unit))
		if !bytes.HasPrefix(in, got) {
			t.Fatalf("passed on %q, not a prefix of the input", got)
		}
		if err == nil {
			if diff := cmp.Diff(in, got); diff != "" {
				t.Fatalf("(-in +passed on):\n%s", diff)
			}
			return
		}
		if !errors.Is(err, ErrLineTooLong) {
			t.Fatalf("error %v", err)
		}
	})
}

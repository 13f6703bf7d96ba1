package labels

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/fingerflow/fingerflow/datasets"
)

func TestLoadHostsPopulation(t *testing.T) {
	hs, err := LoadHosts(context.Background(), "../population/pop-near-24h-s1007.hosts.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 24 {
		t.Fatalf("%d hosts, want 24", len(hs))
	}
	fams := map[string]int{}
	files := 0
	for _, h := range hs {
		fams[h.OS]++
		files += len(h.Files)
		if h.OS == "none" && len(h.Files) > 0 {
			t.Errorf("%s: os none with catalog files %v", h.Addr, h.Files)
		}
	}
	if len(fams) != 4 || files == 0 {
		t.Errorf("families %v, %d files: want debian, windows, sles and none with files", fams, files)
	}
}

func TestReadHostsErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "no labels"},
		{"ip,files\n10.0.0.1,a\n", "lacks an address"},
		{"ip,os\nnot-an-ip,debian\n", "line 2: address"},
		{"ip,os\n10.0.0.1,debian\n10.0.0.1,sles\n", "already on line 2"},
		{"ip,os\n", "no labels"},
	} {
		_, err := ReadHosts(context.Background(), strings.NewReader(tc.in), "h.csv")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "h.csv") {
			t.Errorf("%q: err = %v, want one naming h.csv and %q", tc.in, err, tc.want)
		}
		if err != nil && !errors.Is(err, ErrHosts) && !errors.Is(err, ErrEmpty) {
			t.Errorf("%q: err = %v, want ErrHosts or ErrEmpty", tc.in, err)
		}
	}
}

func FuzzReadHosts(f *testing.F) {
	seed, err := os.ReadFile("../population/pop-near-24h-s1007.hosts.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("ip,os\n::1,debian\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		hs, err := ReadHosts(context.Background(), bytes.NewReader(data), "fuzz.csv")
		if err == nil && len(hs) == 0 {
			t.Fatal("no hosts and no error")
		}
	})
}

// endless is an io.Reader of the same byte for ever.
type endless byte

func (b endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// TestLongLine: label and host truth files whose last line lacks its
// newline (64 MiB of one byte, made as it is read) are refused after
// datasets.MaxLine bytes of that line, with memory to match, naming the
// file and the line it starts on.
func TestLongLine(t *testing.T) {
	read := func(path string) []byte {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	labelsFile := read("../lab-dev/test-near.labels.csv")
	hostsFile := read("../population/pop-near-24h-s1007.hosts.csv")
	lineAfter := func(data []byte) string { return strconv.Itoa(bytes.Count(data, []byte{'\n'}) + 1) }
	for _, tc := range []struct {
		name string
		read func(context.Context, io.Reader, string) error
		head []byte
		want string
		is   error
	}{
		{"labels", func(ctx context.Context, r io.Reader, name string) error {
			_, err := Read(ctx, r, name)
			return err
		}, labelsFile, "x.csv: line " + lineAfter(labelsFile) + ": longer than 1 MiB without a newline: bad label", ErrFormat},
		{"ordered labels", func(ctx context.Context, r io.Reader, name string) error {
			_, err := Read(ctx, r, name)
			return err
		}, []byte("file\ncat-001.bin\n"), "x.csv: line 3: longer than 1 MiB without a newline: bad label", ErrFormat},
		{"hosts", func(ctx context.Context, r io.Reader, name string) error {
			_, err := ReadHosts(ctx, r, name)
			return err
		}, hostsFile, "x.csv: line " + lineAfter(hostsFile) + ": longer than 1 MiB without a newline: bad host truth file", ErrHosts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := io.MultiReader(bytes.NewReader(tc.head), io.LimitReader(endless('a'), 64<<20))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := tc.read(context.Background(), r, "x.csv")
			runtime.ReadMemStats(&after)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v\nwant %s", err, tc.want)
			}
			if !errors.Is(err, tc.is) || !errors.Is(err, datasets.ErrLineTooLong) {
				t.Errorf("error %v is not %v and ErrLineTooLong", err, tc.is)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
				t.Errorf("allocated %d MiB", alloc>>20)
			}
		})
	}
}

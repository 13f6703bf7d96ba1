package catalog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fingerflow/fingerflow/datasets"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

const labCatalog = "../lab-dev/cat.csv"

// debianIndex is the Debian bookworm-security index shipped in
// datasets/catalogs.
func debianIndex(t testing.TB) string {
	t.Helper()
	p := "../catalogs/debian-bookworm-security-amd64.Packages.gz"
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// sameEntries compares catalogs by their entries only.
var sameEntries = cmpopts.IgnoreUnexported(Catalog{})

func TestLoadLabCatalog(t *testing.T) {
	c, err := Load(context.Background(), labCatalog)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Len(), 50; got != want {
		t.Fatalf("entries = %d, want %d", got, want)
	}
	// Values from `grep -E 'cat-0(00|16|49)' cat.csv`.
	for _, want := range []Entry{
		{Name: "cat-000.bin", Size: 8587060},
		{Name: "cat-016.bin", Size: 2794049},
		{Name: "cat-049.bin", Size: mustLabSize(t, "cat-049.bin")},
	} {
		got, ok := c.Lookup(want.Name)
		if !ok {
			t.Errorf("%s missing", want.Name)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", want.Name, diff)
		}
	}
	if i, ok := c.Index("cat-016.bin"); !ok || i != 16 {
		t.Errorf("Index(cat-016.bin) = %d, %v, want 16, true", i, ok)
	}
	if _, ok := c.Index("bg-000.bin"); ok {
		t.Error("Index(bg-000.bin) found a background file in the catalog")
	}
}

// mustLabSize reads a size from the lab manifest with encoding/csv, apart
// from the reader under test.
func mustLabSize(t *testing.T, name string) uint64 {
	t.Helper()
	f, err := os.Open(labCatalog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[1:] {
		if r[0] == name {
			n, err := strconv.ParseUint(r[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("%s not in %s", name, labCatalog)
	return 0
}

func TestLoadDebianIndex(t *testing.T) {
	path := debianIndex(t)
	c, err := Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	// zcat FILE | grep -c '^Package:'
	if got, want := c.Len(), 3016; got != want {
		t.Fatalf("entries = %d, want %d", got, want)
	}
	// zcat FILE | awk '/^Package: openssl$/{p=1} p&&/^(Filename|Size):/' etc.
	for _, want := range []Entry{
		{
			Name: "openssl_3.0.22-1~deb12u2_amd64.deb", Size: 1441784, Product: "openssl",
			Version: "3.0.22-1~deb12u2", OS: "debian", OSVersion: "12",
			URL: "pool/updates/main/o/openssl/openssl_3.0.22-1~deb12u2_amd64.deb",
		},
		{
			Name: "linux-image-6.1.0-49-amd64_6.1.174-1_amd64.deb", Size: 70260236,
			Product: "linux-image-6.1.0-49-amd64", OS: "debian",
		},
		{
			Name: "7zip_22.01+really26.02+dfsg-0+deb12u1_amd64.deb", Size: 1021788, Product: "7zip",
			Version: "22.01+really26.02+dfsg-0+deb12u1", OS: "debian", OSVersion: "12",
			URL: "pool/updates/main/7/7zip/7zip_22.01+really26.02+dfsg-0+deb12u1_amd64.deb",
		},
		{Name: "zookeeperd_3.8.0-11+deb12u1_all.deb", Size: 9228, Product: "zookeeperd", OS: "debian", OSVersion: "12"},
	} {
		got, ok := c.Lookup(want.Name)
		if !ok {
			t.Errorf("%s missing", want.Name)
			continue
		}
		if want.URL == "" {
			got.URL = ""
		}
		if want.Version == "" {
			got.Version = ""
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", want.Name, diff)
		}
	}
	if c.Entries[0].Product != "7zip" || c.Entries[len(c.Entries)-1].Product != "zookeeperd" {
		t.Errorf("order: first %q last %q, want 7zip, zookeeperd", c.Entries[0].Product, c.Entries[len(c.Entries)-1].Product)
	}
}

// TestDebianCompressions reads the same five real stanzas plain and gzipped.
func TestDebianCompressions(t *testing.T) {
	want := []Entry{
		{Name: "7zip_22.01+really26.02+dfsg-0+deb12u1_amd64.deb", Size: 1021788},
		{Name: "activemq_5.17.2+dfsg-2+deb12u1_all.deb", Size: 50212},
		{Name: "libactivemq-java_5.17.2+dfsg-2+deb12u1_all.deb", Size: 4137972},
		{Name: "aide_0.18.3-1+deb12u5_amd64.deb", Size: 134412},
		{Name: "aide-common_0.18.3-1+deb12u5_all.deb", Size: 107680},
	}
	only := cmp.Transformer("nameSize", func(e Entry) Entry { return Entry{Name: e.Name, Size: e.Size} })
	for _, name := range []string{"Packages", "Packages.gz"} {
		t.Run(name, func(t *testing.T) {
			c, err := Load(context.Background(), filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, c.Entries, only); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got := c.Entries[2]; got.Product != "libactivemq-java" || got.Version != "5.17.2+dfsg-2+deb12u1" {
				t.Errorf("libactivemq-java entry = %+v", got)
			}
		})
	}
	t.Run("Packages.xz", func(t *testing.T) {
		_, err := Load(context.Background(), "testdata/Packages.xz")
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "Packages.xz") {
			t.Fatalf("err = %v, want ErrUnsupported naming the file", err)
		}
	})
}

// TestRPMPrimary checks the createrepo_c fixture against rpm -qp's view of
// the same packages (primary.expect.csv).
func TestRPMPrimary(t *testing.T) {
	f, err := os.Open("testdata/primary.expect.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var want []Entry
	for _, r := range recs {
		n, _ := strconv.ParseUint(r[1], 10, 64)
		build, _ := strconv.ParseInt(r[4], 10, 64)
		want = append(want, Entry{Name: r[0], Size: n, Product: r[2], Version: r[3], OS: "rhel", OSVersion: "9",
			URL: "noarch/" + r[0], Released: time.Unix(build, 0).UTC()})
	}
	if len(want) != 5 {
		t.Fatalf("primary.expect.csv has %d packages, want 5", len(want))
	}
	for _, name := range []string{"primary.xml", "primary.xml.gz", "primary.xml.zst"} {
		t.Run(name, func(t *testing.T) {
			c, err := Load(context.Background(), filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, c.Entries); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestGoldenCSV(t *testing.T) {
	c, err := Load(context.Background(), "testdata/primary.xml")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeCSV(&buf, c); err != nil {
		t.Fatal(err)
	}
	golden := "testdata/primary.golden.csv"
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	back, err := ReadCSV(context.Background(), &buf, "round-trip")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, back, sameEntries); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Entry
	}{
		{"lab columns", "file,size\na.bin,10\nb.bin,20\n", []Entry{{Name: "a.bin", Size: 10}, {Name: "b.bin", Size: 20}}},
		{"name column, upper case, extra column", "Extra,NAME,Size\nx,a.bin,10\n", []Entry{{Name: "a.bin", Size: 10}}},
		{"filename column and optional ones", "filename,size,product,version,os,url\nk.exe,7,KB1,1.0,windows,http://h/k.exe\n",
			[]Entry{{Name: "k.exe", Size: 7, Product: "KB1", Version: "1.0", OS: "windows", URL: "http://h/k.exe"}}},
		{"BOM and CRLF", "\ufefffile,size\r\na.bin,10\r\n", []Entry{{Name: "a.bin", Size: 10}}},
		{"repeat with equal size is dropped", "file,size\na,1\nb,2\na,1\n", []Entry{{Name: "a", Size: 1}, {Name: "b", Size: 2}}},
		{"spaces around size", "file,size\na, 5 \n", []Entry{{Name: "a", Size: 5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ReadCSV(context.Background(), strings.NewReader(tt.in), "t.csv")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, c.Entries); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestMalformed checks that every bad input is an error that names the file
// and the place, and wraps the right sentinel.
func TestMalformed(t *testing.T) {
	type reader func(context.Context, io.Reader, string) (*Catalog, error)
	tests := []struct {
		name   string
		read   reader
		in     string
		is     error
		expect []string // substrings of the message
	}{
		{"csv empty", ReadCSV, "", ErrEmpty, []string{"f.csv"}},
		{"csv header only", ReadCSV, "file,size\n", ErrEmpty, []string{"f.csv"}},
		{"csv no size column", ReadCSV, "file,bytez\na,1\n", ErrFormat, []string{"f.csv: line 1"}},
		{"csv no name column", ReadCSV, "size\n1\n", ErrFormat, []string{"f.csv: line 1"}},
		{"csv zero size", ReadCSV, "file,size\na,1\nb,0\n", ErrSize, []string{"f.csv: line 3: b: zero size"}},
		{"csv missing size", ReadCSV, "file,size\na,\n", ErrSize, []string{"f.csv: line 2: a: missing size"}},
		{"csv bad size", ReadCSV, "file,size\na,12x\n", ErrSize, []string{"f.csv: line 2", `"12x"`}},
		{"csv negative size", ReadCSV, "file,size\na,-3\n", ErrSize, []string{"line 2"}},
		{"csv duplicate other size", ReadCSV, "file,size\na,1\nb,2\na,3\n", ErrDuplicate, []string{"f.csv: line 4", "line 2"}},
		{"csv ragged row", ReadCSV, "file,size\na,1,x\n", ErrFormat, []string{"f.csv: line 2"}},
		{"csv empty name", ReadCSV, "file,size\n,1\n", ErrFormat, []string{"f.csv: line 2: empty file name"}},
		{"csv control character", ReadCSV, "file,size\n\"a\rb\",1\n", ErrFormat, []string{"line 2", "control"}},

		{"deb empty", ReadDebianPackages, "\n\n", ErrEmpty, []string{"f.pkgs"}},
		{"deb no size", ReadDebianPackages, "Package: a\nFilename: pool/a.deb\n\nPackage: b\nFilename: pool/b.deb\nSize: 3\n", ErrSize, []string{"f.pkgs: line 1: a.deb: missing Size"}},
		{"deb zero size", ReadDebianPackages, "Package: a\nFilename: pool/a.deb\nSize: 1\n\nPackage: b\nFilename: pool/b.deb\nSize: 0\n", ErrSize, []string{"f.pkgs: line 5: b.deb: zero size"}},
		{"deb bad size", ReadDebianPackages, "Package: a\nFilename: pool/a.deb\nSize: 1k\n", ErrSize, []string{"f.pkgs: line 3", `"1k"`}},
		{"deb no filename", ReadDebianPackages, "Package: a\nSize: 1\n", ErrFormat, []string{"f.pkgs: line 1", "no Filename"}},
		{"deb filename is a directory", ReadDebianPackages, "Package: a\nFilename: pool/\nSize: 1\n", ErrFormat, []string{"line 1"}},
		{"deb duplicate", ReadDebianPackages, "Package: a\nFilename: x/a.deb\nSize: 1\n\nPackage: a\nFilename: y/a.deb\nSize: 2\n", ErrDuplicate, []string{"f.pkgs: line 5", "line 1"}},
		{"deb garbage line", ReadDebianPackages, "Package: a\nthis is not a field\n", ErrFormat, []string{"f.pkgs: line 2"}},
		{"deb stray continuation", ReadDebianPackages, " continued\n", ErrFormat, []string{"f.pkgs: line 1"}},
		{"deb huge line", ReadDebianPackages, "Package: a\nDescription: " + strings.Repeat("x", datasets.MaxLine+10) + "\n", ErrFormat, []string{"f.pkgs: line 2"}},

		{"rpm no metadata", ReadRPMPrimary, `<?xml version="1.0"?><repomd/>`, ErrFormat, []string{"f.xml"}},
		{"rpm empty metadata", ReadRPMPrimary, `<metadata packages="0"></metadata>`, ErrEmpty, []string{"f.xml"}},
		{"rpm no size", ReadRPMPrimary, `<metadata><package type="rpm"><name>a</name><location href="a.rpm"/></package></metadata>`, ErrSize, []string{"f.xml: record 0 (line 1): a.rpm: missing"}},
		{"rpm zero size", ReadRPMPrimary, "<metadata>\n<package><name>a</name><size package=\"4\"/><location href=\"a.rpm\"/></package>\n<package><name>b</name><size package=\"0\"/><location href=\"b.rpm\"/></package></metadata>", ErrSize, []string{"f.xml: record 1 (line 3): b.rpm: zero size"}},
		{"rpm bad size", ReadRPMPrimary, `<metadata><package><name>a</name><size package="x"/><location href="a.rpm"/></package></metadata>`, ErrSize, []string{"record 0", `"x"`}},
		{"rpm no location", ReadRPMPrimary, `<metadata><package><name>a</name><size package="1"/></package></metadata>`, ErrFormat, []string{"record 0", "location"}},
		{"rpm duplicate", ReadRPMPrimary, `<metadata><package><size package="1"/><location href="a/x.rpm"/></package><package><size package="2"/><location href="b/x.rpm"/></package></metadata>`, ErrDuplicate, []string{"record 1", "record 0"}},
		{"rpm truncated", ReadRPMPrimary, `<metadata><package><name>a</name><size package="1"/>`, io.ErrUnexpectedEOF, []string{"f.xml: record 0"}},
		{"rpm syntax", ReadRPMPrimary, `<metadata><package><name>a</nome></package></metadata>`, nil, []string{"f.xml: record 0: line 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "f.csv"
			switch {
			case strings.HasPrefix(tt.name, "deb"):
				name = "f.pkgs"
			case strings.HasPrefix(tt.name, "rpm"):
				name = "f.xml"
			}
			c, err := tt.read(context.Background(), strings.NewReader(tt.in), name)
			if err == nil {
				t.Fatalf("no error; catalog %+v", c.Entries)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %v", err, tt.is)
			}
			for _, s := range tt.expect {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err = %q, want it to contain %q", err, s)
				}
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	raw, err := os.ReadFile("testdata/Packages")
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(raw)
	zw.Close()
	truncated := gz.Bytes()[:gz.Len()/2]

	tests := []struct {
		name string
		path string
		is   error
	}{
		{"missing file", filepath.Join(dir, "nope"), os.ErrNotExist},
		{"empty file", write("empty", nil), ErrEmpty},
		{"blank file", write("blank", []byte("\n \n")), ErrEmpty},
		{"not a catalog", write("junk", []byte("hello world\n")), ErrFormat},
		{"html", write("page", []byte("<html><body>404</body></html>")), ErrFormat},
		{"truncated gzip", write("Packages.gz", truncated), io.ErrUnexpectedEOF},
		{"bad gzip header", write("bad.gz", []byte{0x1f, 0x8b, 0, 0}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(context.Background(), tt.path)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), filepath.Base(tt.path)) {
				t.Errorf("err = %q does not name the file", err)
			}
		})
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		in   string
		want Format
	}{
		{"file,size\n", FormatCSV},
		{"\ufeffname,size\r\n", FormatCSV},
		{"Package: a\nVersion: 1\n", FormatDebian},
		{"\n\nPackage: a\n", FormatDebian},
		{`<?xml version="1.0" encoding="UTF-8"?>` + "\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\">", FormatRPMPrime},
		{"<html>", FormatUnknown},
		{"just words", FormatUnknown},
		{"", FormatUnknown},
	}
	for _, tt := range tests {
		if got := Sniff([]byte(tt.in)); got != tt.want {
			t.Errorf("Sniff(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNewAndIndex(t *testing.T) {
	c, err := New([]Entry{{Name: "a", Size: 1}, {Name: "b", Size: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if i, ok := c.Index("b"); !ok || i != 1 {
		t.Errorf("Index(b) = %d, %v", i, ok)
	}
	// Entries changed after construction: Index still answers correctly.
	c.Entries = append(c.Entries, Entry{Name: "c", Size: 3})
	if i, ok := c.Index("c"); !ok || i != 2 {
		t.Errorf("after append Index(c) = %d, %v", i, ok)
	}
	c.Entries = c.Entries[:1]
	if _, ok := c.Index("b"); ok {
		t.Error("Index(b) found an entry cut off")
	}
	if i, ok := c.Index("a"); !ok || i != 0 {
		t.Errorf("after the cut Index(a) = %d, %v", i, ok)
	}
	if _, err := New([]Entry{{Name: "a", Size: 1}, {Name: "a", Size: 1}}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("New with a repeated name: err = %v", err)
	}
	if _, err := New(nil); !errors.Is(err, ErrEmpty) {
		t.Errorf("New(nil): err = %v", err)
	}
	var nilCat *Catalog
	if _, ok := nilCat.Index("a"); ok {
		t.Error("nil catalog found a name")
	}
}

// FuzzReadCSV checks that whatever ReadCSV accepts obeys the catalog rules
// and survives a writeCSV/ReadCSV round trip.
func FuzzReadCSV(f *testing.F) {
	for _, p := range []string{labCatalog, "testdata/primary.golden.csv", "testdata/primary.expect.csv"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("Name,Size,OS\n\"a,b\",1,x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadCSV(context.Background(), bytes.NewReader(data), "fuzz.csv")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.csv") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkRules(t, c)
		var buf bytes.Buffer
		if err := writeCSV(&buf, c); err != nil {
			t.Fatal(err)
		}
		back, err := ReadCSV(context.Background(), &buf, "again")
		if err != nil {
			t.Fatalf("re-read: %v\n%s", err, buf.Bytes())
		}
		if diff := cmp.Diff(c, back, sameEntries); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
	})
}

// FuzzReadDebianPackages checks that the Packages reader never panics and
// that what it accepts obeys the catalog rules.
func FuzzReadDebianPackages(f *testing.F) {
	if b, err := os.ReadFile("testdata/Packages"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("Package: a\nFilename: pool/a.deb\nSize: 12\nDescription: x\n y\n .\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadDebianPackages(context.Background(), bytes.NewReader(data), "fuzz.pkgs")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.pkgs") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkRules(t, c)
		for _, e := range c.Entries {
			if e.OS != "debian" || !strings.HasSuffix(e.URL, e.Name) {
				t.Fatalf("entry %+v", e)
			}
		}
	})
}

// FuzzReadRPMPrimary checks the primary.xml reader the same way.
func FuzzReadRPMPrimary(f *testing.F) {
	if b, err := os.ReadFile("testdata/primary.xml"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadRPMPrimary(context.Background(), bytes.NewReader(data), "fuzz.xml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.xml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkRules(t, c)
	})
}

func checkRules(t *testing.T, c *Catalog) {
	t.Helper()
	if len(c.Entries) == 0 {
		t.Fatal("empty catalog accepted")
	}
	seen := map[string]bool{}
	for i, e := range c.Entries {
		if e.Name == "" || e.Size == 0 || seen[e.Name] {
			t.Fatalf("entry %d breaks the rules: %+v", i, e)
		}
		seen[e.Name] = true
		if j, ok := c.Index(e.Name); !ok || j != i {
			t.Fatalf("Index(%q) = %d, %v, want %d", e.Name, j, ok, i)
		}
	}
}

// BenchmarkLoadDebianIndex loads the real Debian bookworm-security index
// (479 KB gzip, 2.5 MB, 3,016 packages): about 20 ms and 2 MB of
// allocations on one core. The readers stream (CSV through encoding/csv,
// Packages line by line, primary.xml token by token), so a distribution's
// primary.xml of hundreds of megabytes never sits in memory whole.
func BenchmarkLoadDebianIndex(b *testing.B) {
	path := debianIndex(b)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		c, err := Load(context.Background(), path)
		if err != nil {
			b.Fatal(err)
		}
		n += c.Len()
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "entries/s")
}

// writeCSV writes a catalog as a CSV manifest with the header
// file,size,product,version,os,url, which ReadCSV reads back unchanged.
func writeCSV(w io.Writer, c *Catalog) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"file", "size", "product", "version", "os", "url", "os_version", "released"}); err != nil {
		return err
	}
	rec := make([]string, 8)
	for _, e := range c.Entries {
		rec[0], rec[1], rec[2], rec[3], rec[4], rec[5] = e.Name, strconv.FormatUint(e.Size, 10), e.Product, e.Version, e.OS, e.URL
		rec[6], rec[7] = e.OSVersion, ""
		if !e.Released.IsZero() {
			rec[7] = e.Released.Format(time.RFC3339)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// TestDebianRelease: a mirror's Release file gives its index files as
// index entries with their sizes, and itself; an InRelease the same
// inside its signature; merged with the mirror's Packages they are one
// catalog whose Files are the packages.
func TestDebianRelease(t *testing.T) {
	ctx := context.Background()
	rel := filepath.Join("..", "population", "apt-near-18h-s2302.Release")
	c, err := Load(ctx, rel)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range c.Entries {
		if e.Kind != KindIndex || e.OS != "debian" {
			t.Errorf("%s: kind %q os %q, want an index entry of debian", e.Name, e.Kind, e.OS)
		}
		got = append(got, fmt.Sprintf("%s %d", e.Name, e.Size))
	}
	want := []string{"Packages 130342", "Packages.gz 43410", "Packages.xz 38208", "apt-near-18h-s2302.Release 543"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	body, err := os.ReadFile(rel)
	if err != nil {
		t.Fatal(err)
	}
	signed := "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: Ubuntu\nSuite: noble\n" + strings.SplitN(string(body), "Date:", 2)[1] +
		"-----BEGIN PGP SIGNATURE-----\n\niQIzBAEBCgAdFiEE\n-----END PGP SIGNATURE-----\n"
	in := filepath.Join(t.TempDir(), "InRelease")
	if err := os.WriteFile(in, []byte(signed), 0o644); err != nil {
		t.Fatal(err)
	}
	ic, err := Load(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(ic.Entries) != 4 || ic.Entries[2].Name != "Packages.xz" || ic.Entries[0].OS != "ubuntu" || ic.Entries[3].Name != "InRelease" || ic.Entries[3].Size != uint64(len(signed)) {
		t.Errorf("InRelease entries %+v", ic.Entries)
	}
	pkgs, err := Load(ctx, filepath.Join("..", "population", "apt-near-18h-s2302.Packages"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Merge(pkgs, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != len(pkgs.Entries)+4 || len(m.Files()) != len(pkgs.Entries) {
		t.Errorf("merged %d entries, %d files; want %d and %d", len(m.Entries), len(m.Files()), len(pkgs.Entries)+4, len(pkgs.Entries))
	}
	// A second suite's Release lists the same index paths with other
	// sizes: both merge, the second's entries named with its suite.
	other := "Suite: bookworm-updates\n" + strings.ReplaceAll(string(body), " 130342 Packages\n", " 130999 Packages\n")
	if !strings.Contains(other, "130999") {
		t.Fatal("the shipped Release lists no Packages of 130342 bytes")
	}
	oc, err := ReadDebianRelease(ctx, strings.NewReader(other), "updates/Release", "updates/Release", int64(len(other)))
	if err != nil {
		t.Fatal(err)
	}
	two, err := Merge(pkgs, c, oc)
	if err != nil {
		t.Fatalf("two suites' Release files: %v", err)
	}
	if e, ok := two.Lookup(oc.Entries[0].Product + " Packages"); !ok || e.Size != 130999 {
		t.Errorf("the second suite's Packages: %+v, %v", e, ok)
	}
	if _, err := ReadDebianRelease(ctx, strings.NewReader("Origin: x\nSHA256:\n abc notanumber Packages\n"), "r", "r", 0); !errors.Is(err, ErrSize) {
		t.Errorf("bad size: %v", err)
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

// TestLongLine: a catalog whose last line lacks its newline (here 64 MiB
// of one byte, made as it is read) is refused after datasets.MaxLine
// bytes of that line, with memory to match, naming the file and the line
// it starts on.
func TestLongLine(t *testing.T) {
	head := func(path string, packages int) []byte {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if packages > 0 { // up to the end of that many packages
			end := 0
			for range packages {
				end += bytes.Index(data[end:], []byte("</package>")) + len("</package>")
			}
			data = data[:end]
		}
		return data
	}
	for _, tc := range []struct {
		name string
		read func(context.Context, io.Reader, string) (*Catalog, error)
		head []byte
		long byte
		want string
	}{
		// The lab's catalog: a header and 50 files, then line 52.
		{"csv", ReadCSV, head(labCatalog, 0), 'a', "cat.csv: line 52: longer than 1 MiB without a newline: bad catalog format"},
		{"csv quote", ReadCSV, head(labCatalog, 0), '"', "cat.csv: line 52: longer than 1 MiB without a newline: bad catalog format"},
		{"debian", ReadDebianPackages, head("testdata/Packages", 0), 'a',
			"cat.csv: line " + strconv.Itoa(bytes.Count(head("testdata/Packages", 0), []byte{'\n'})+1) +
				": longer than 1 MiB without a newline: bad catalog format"},
		{"rpm", ReadRPMPrimary, head("testdata/primary.xml", 2), 'a',
			"cat.csv: line " + strconv.Itoa(bytes.Count(head("testdata/primary.xml", 2), []byte{'\n'})+1) +
				": text or a tag longer than 1 MiB: bad catalog format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := io.MultiReader(bytes.NewReader(tc.head), io.LimitReader(endless(tc.long), 64<<20))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := tc.read(context.Background(), r, "cat.csv")
			runtime.ReadMemStats(&after)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v\nwant %s", err, tc.want)
			}
			if !errors.Is(err, ErrFormat) || !errors.Is(err, datasets.ErrLineTooLong) {
				t.Errorf("error %v is not ErrFormat and ErrLineTooLong", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
				t.Errorf("allocated %d MiB", alloc>>20)
			}
		})
	}
	// Through Load, from a file.
	path := filepath.Join(t.TempDir(), "cat.csv")
	data := append(head(labCatalog, 0), bytes.Repeat([]byte{'a'}, 3<<20)...)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(context.Background(), path); err == nil || err.Error() != path+": line 52: longer than 1 MiB without a newline: bad catalog format" {
		t.Errorf("Load: %v", err)
	}
}

package labels

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
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

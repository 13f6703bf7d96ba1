package talkers

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/models/internal/flowfiles"
	"github.com/google/go-cmp/cmp"
)

func TestParseStat(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Stat
		err  bool
	}{
		{in: "srcip", want: Stat{Element: SrcIP, Orders: []Order{Flows}}},
		{in: "srcip/bytes", want: Stat{Element: SrcIP, Orders: []Order{Bytes}}},
		{in: "DstPort:p/flows/bytes", want: Stat{Element: DstPort, ByProto: true, Orders: []Order{Flows, Bytes}}},
		{in: "record/bpp", want: Stat{Element: Record, Orders: []Order{BPP}}},
		{in: "srcas/bytes", err: true},
		{in: "srcip/octets", err: true},
		{in: "", err: true},
	} {
		got, err := ParseStat(c.in)
		if c.err {
			if !errors.Is(err, ErrStat) {
				t.Errorf("ParseStat(%q): error %v, want ErrStat", c.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseStat(%q): %v", c.in, err)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("ParseStat(%q) (-want +got):\n%s", c.in, diff)
		}
		if again, _ := ParseStat(got.String()); !cmp.Equal(again, got) {
			t.Errorf("ParseStat(%q).String() = %q does not parse back", c.in, got.String())
		}
	}
}

// TestServiceStat: on the shipped sample population (HTTP downloads from
// one server to 24 clients on ephemeral ports), the service statistic
// counts every byte of the night under 80/tcp, where dstport spreads the
// server's bytes over the clients' ports.
func TestServiceStat(t *testing.T) {
	flows := flowfiles.Read(t, filepath.Join("..", "..", "datasets", "population", "pop-near-24h-s1007.v9"))
	var stats []Stat
	for _, s := range []string{"service/bytes", "dstport/bytes", "service:p/bytes"} {
		st, err := ParseStat(s)
		if err != nil {
			t.Fatal(err)
		}
		stats = append(stats, st)
	}
	tab, err := New(Config{Stats: stats})
	if err != nil {
		t.Fatal(err)
	}
	var http uint64
	for i := range flows {
		f := &flows[i]
		tab.Add(f)
		if f.Proto == datasets.ProtoTCP && min(f.SrcPort, f.DstPort) == 80 {
			http += f.Bytes + f.RevBytes
		}
	}
	res := tab.Result()
	svc, dport, svcp := res.Tops[0], res.Tops[1], res.Tops[2]
	if len(svc.Entries) == 0 || svc.Entries[0].Key.Text(Service) != "80/tcp" || svc.Entries[0].Bytes != http {
		t.Fatalf("service top entry %+v, want 80/tcp with the %d bytes of the night's HTTP flows", svc.Entries[:min(1, len(svc.Entries))], http)
	}
	if share := float64(svc.Entries[0].Bytes) / float64(res.Totals.Bytes); share < 0.99 {
		t.Errorf("80/tcp holds %.1f%% of the bytes, want nearly all", 100*share)
	}
	if dport.Distinct < 20 || float64(dport.Entries[0].Bytes) > 0.5*float64(res.Totals.Bytes) {
		t.Errorf("dstport: %d distinct ports, the first with %d of %d bytes; want the server's bytes spread over the clients' ports",
			dport.Distinct, dport.Entries[0].Bytes, res.Totals.Bytes)
	}
	if !slices.Equal(svc.Entries, svcp.Entries) {
		t.Errorf("service and service:p differ:\n%+v\n%+v", svc.Entries, svcp.Entries)
	}
}

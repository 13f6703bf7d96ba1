package talkers

import (
	"errors"
	"testing"

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

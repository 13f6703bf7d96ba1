package clickhouse

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/argus"
	flowstore "github.com/fingerflow/fingerflow/datasets/clickhouse"
	"github.com/fingerflow/fingerflow/datasets/clickhouse/chtest"
	"github.com/fingerflow/fingerflow/datasets/nfcapd"
	"github.com/fingerflow/fingerflow/models/talkers"
)

var servers chtest.Servers

func TestMain(m *testing.M) { os.Exit(chtest.Main(m, &servers, 1)) }

// inputs are runs of every kind the statistics meet: floods and scans
// (ICMP, many ports and sources), Argus biflows with answers, and a
// population day of downloads.
var inputs = []string{
	"lab-attack/lab-attack.v9/nfcapd.202612011800",
	"lab-attack/lab-attack.argus",
	"lab-dev/test-near.argus",
	"population/pop-near-24h-s1007.v9/nfcapd.202701201000",
}

// load stores the inputs in a fresh database and returns their flows.
func load(t *testing.T) (*flowstore.Store, []datasets.Flow) {
	t.Helper()
	srv := servers.Need(t, 1)[0]
	ctx := context.Background()
	cfg, err := flowstore.ParseDSN(srv.DSN("t_talkers"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := flowstore.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Conn().Exec(ctx, "DROP DATABASE IF EXISTS `t_talkers`"); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSchema(ctx); err != nil {
		t.Fatal(err)
	}
	reg := datasets.NewRegistry(&nfcapd.Reader{}, &argus.Reader{})
	var flows []datasets.Flow
	for _, in := range inputs {
		path := filepath.Join("..", "..", "..", "datasets", in)
		rd, err := reg.Detect(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		var these []datasets.Flow
		for f, err := range rd.Flows(ctx, path) {
			if err != nil {
				t.Fatal(err)
			}
			these = append(these, f)
		}
		id, err := flowstore.Identify(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		seq := func(yield func(datasets.Flow, error) bool) {
			for _, f := range these {
				if !yield(f, nil) {
					return
				}
			}
		}
		if _, err := st.Load(ctx, id, seq); err != nil {
			t.Fatal(err)
		}
		flows = append(flows, these...)
	}
	return st, flows
}

// everyStat is every element, alone and split by protocol, in every
// order.
func everyStat() []talkers.Stat {
	orders := []talkers.Order{talkers.Flows, talkers.Packets, talkers.Bytes, talkers.PPS, talkers.BPS, talkers.BPP}
	var out []talkers.Stat
	for _, e := range []talkers.Element{talkers.SrcIP, talkers.DstIP, talkers.IP, talkers.SrcPort, talkers.DstPort,
		talkers.Port, talkers.Proto, talkers.Record, talkers.Service} {
		out = append(out, talkers.Stat{Element: e, Orders: orders})
		if e != talkers.Proto && e != talkers.Service {
			out = append(out, talkers.Stat{Element: e, ByProto: true, Orders: orders})
		}
	}
	return out
}

func local(t *testing.T, cfg talkers.Config, flows []datasets.Flow, flt datasets.Filter) talkers.Result {
	t.Helper()
	tab, err := talkers.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range flows {
		if flt.Match(&flows[i]) {
			tab.Add(&flows[i])
		}
	}
	return tab.Result()
}

// TestCountMatchesTable: counted in ClickHouse, every statistic in every
// order, the totals and the sources are those talkers.Table counts from
// the same flows, entry for entry and in the same order (ties included),
// for the top 10, for every entry, and over a window.
func TestCountMatchesTable(t *testing.T) {
	st, flows := load(t)
	ctx := context.Background()
	// A window of two minutes inside the attack capture.
	mid := flows[len(flows)/10].Start
	for _, c := range []struct {
		name string
		cfg  talkers.Config
		w    flowstore.Window
	}{
		{"top 10", talkers.Config{Stats: everyStat(), N: 10, Sources: 20}, flowstore.Window{}},
		{"all entries", talkers.Config{Stats: everyStat(), N: 0, Sources: 1000}, flowstore.Window{}},
		{"window", talkers.Config{Stats: everyStat(), N: 5, Sources: 5}, flowstore.Window{Since: mid, Until: mid.Add(2 * time.Minute)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := local(t, c.cfg, flows, datasets.Filter{Since: c.w.Since, Until: c.w.Until})
			got, stats, err := Count(ctx, st, c.w, c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if want.Totals.Flows == 0 || len(want.Sources) == 0 {
				t.Fatalf("nothing counted locally (%d flows): the comparison would prove nothing", want.Totals.Flows)
			}
			if d := gocmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("ClickHouse and talkers.Table differ (-table +clickhouse):\n%s", d)
			}
			t.Logf("%d flows counted, %d queries, %d rows back", got.Totals.Flows, stats.Queries, stats.Rows)
		})
	}
}

// TestCountBadTable: a table without the columns gives one error naming
// it, not a partial result.
func TestCountBadTable(t *testing.T) {
	srv := servers.Need(t, 1)[0]
	ctx := context.Background()
	cfg, err := flowstore.ParseDSN(srv.DSN("default", "table=t_talkers_other"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := flowstore.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Conn().Exec(ctx, "CREATE TABLE IF NOT EXISTS default.t_talkers_other (x UInt8) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	_, _, err = Count(ctx, st, flowstore.Window{}, talkers.Config{Stats: everyStat()[:1], N: 10})
	if err == nil {
		t.Fatal("a table of other columns counted")
	}
	t.Log(err)
}

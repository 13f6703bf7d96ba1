package clickhouse

import (
	"context"
	"fmt"
	"iter"
	"testing"

	"github.com/fingerflow/fingerflow/datasets"
	flowstore "github.com/fingerflow/fingerflow/datasets/clickhouse"
	"github.com/fingerflow/fingerflow/datasets/clickhouse/chtest"
	"github.com/fingerflow/fingerflow/features"

	gocmp "github.com/google/go-cmp/cmp"
)

// everyOther yields the flows at even (or odd) positions: two loads of
// the same file with both halves split its records, and so the records
// of its connections and hosts, between two shards.
func everyOther(flows iter.Seq2[datasets.Flow, error], odd bool) iter.Seq2[datasets.Flow, error] {
	return func(yield func(datasets.Flow, error) bool) {
		i := 0
		for f, err := range flows {
			if err != nil {
				yield(f, err)
				return
			}
			if (i%2 == 1) == odd && !yield(f, nil) {
				return
			}
			i++
		}
	}
}

// TestDistributed: two servers as two shards behind a Distributed table,
// each holding every other record of the same files, give the downloads
// and host rows one server holding all of them gives.
func TestDistributed(t *testing.T) {
	srvs := servers.Need(t, 2)
	ctx := context.Background()
	var paths []string
	for _, run := range []string{"lab-dev/train-near.v9", "lab-extra/dev-keepalive.v9", "population/pop-near-24h-s1007.v9"} {
		paths = append(paths, files(t, "../../datasets/"+run)...)
	}
	one := loadStore(t, srvs[0], "dist_one", paths)
	db := "dist_shards"
	for i, srv := range srvs {
		cfg, err := flowstore.ParseDSN(srv.DSN(db))
		if err != nil {
			t.Fatal(err)
		}
		st, err := flowstore.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.Conn().Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateSchema(ctx); err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			id, err := flowstore.Identify(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			id.Hash += fmt.Sprintf("-shard%d", i)
			if _, err := st.Load(ctx, id, everyOther(fileFlows(ctx, p), i == 1)); err != nil {
				t.Fatal(err)
			}
		}
		if i == 0 {
			ddl := fmt.Sprintf("CREATE TABLE %s.flows_all AS %s.flows ENGINE = Distributed(%s, %s, flows, rand())", db, db, chtest.Cluster, db)
			if err := st.Conn().Exec(ctx, ddl); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg, err := flowstore.ParseDSN(srvs[0].DSN(db, "table=flows_all", "files=flows_files"))
	if err != nil {
		t.Fatal(err)
	}
	dist, err := flowstore.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer dist.Close()
	if err := dist.Check(ctx); err != nil {
		t.Fatal(err)
	}
	for _, st := range []*flowstore.Store{one, dist} {
		n, err := st.Count(ctx, flowstore.Window{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d flows", st.Config(), n)
	}

	dcfg := features.DefaultConfig()
	want, _, err := Downloads(ctx, one, flowstore.Window{}, dcfg)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := Downloads(ctx, dist, flowstore.Window{}, dcfg)
	if err != nil {
		t.Fatal(err)
	}
	sortDownloads(want)
	sortDownloads(got)
	if len(want) == 0 {
		t.Fatal("no downloads")
	}
	if d := gocmp.Diff(want, got, cmpAddr); d != "" {
		t.Errorf("downloads: one server (-) against two shards (+)\n%s", d)
	}

	hcfg := features.DefaultHostConfig()
	wantHosts, wantSite, _, err := Hosts(ctx, one, flowstore.Window{}, hcfg)
	if err != nil {
		t.Fatal(err)
	}
	gotHosts, gotSite, _, err := Hosts(ctx, dist, flowstore.Window{}, hcfg)
	if err != nil {
		t.Fatal(err)
	}
	if d := gocmp.Diff(wantHosts, gotHosts, cmpAddr, approxFloats); d != "" {
		t.Errorf("hosts: one server (-) against two shards (+)\n%s", d)
	}
	if d := gocmp.Diff(wantSite, gotSite, approxFloats); d != "" {
		t.Errorf("site: one server (-) against two shards (+)\n%s", d)
	}
	t.Logf("%d downloads, %d hosts", len(got), len(gotHosts))
}

package clickhouse

import (
	"context"
	"iter"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/fingerflow/fingerflow/datasets"
	flowstore "github.com/fingerflow/fingerflow/datasets/clickhouse"
	"github.com/fingerflow/fingerflow/features"
)

func sampledFlows(flows iter.Seq2[datasets.Flow, error], rate uint32) iter.Seq2[datasets.Flow, error] {
	return func(yield func(datasets.Flow, error) bool) {
		for f, err := range flows {
			f.SamplingRate = rate
			if !yield(f, err) || err != nil {
				return
			}
		}
	}
}

// TestSampled: flows of a 1:10 packet-sampling exporter are found in SQL,
// and their downloads carry the rate, as the extractor's do, so that the
// classifier leaves them unknown (profile "sampled") on both paths.
func TestSampled(t *testing.T) {
	srv := servers.Need(t, 1)[0]
	ctx := context.Background()
	paths := files(t, "../../datasets/lab-dev/test-near.v9")
	st := loadStore(t, srv, dbName(t), nil)
	for _, p := range paths {
		id, err := flowstore.Identify(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Load(ctx, id, sampledFlows(fileFlows(ctx, p), 10)); err != nil {
			t.Fatal(err)
		}
	}
	sampled, err := st.Sampled(ctx, flowstore.Window{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := st.Count(ctx, flowstore.Window{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sampled) != 1 || sampled[0].Rate != 10 || sampled[0].Flows != n || !sampled[0].Exporter.IsValid() {
		t.Fatalf("sampled exporters %+v, want one at 1:10 with all %d flows", sampled, n)
	}
	cfg := features.DefaultConfig()
	var want []features.Download
	for d, err := range features.Downloads(ctx, cfg, sampledFlows(runFlows(ctx, paths), 10)) {
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, d)
	}
	got, _, err := Downloads(ctx, st, flowstore.Window{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sortDownloads(want)
	sortDownloads(got)
	if len(got) == 0 || got[0].Sampling != 10 {
		t.Fatalf("%d downloads, first sampled 1:%d", len(got), got[0].Sampling)
	}
	if d := gocmp.Diff(want, got, cmpAddr); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

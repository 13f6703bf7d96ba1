package nightly

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/inventory"
)

// hostStage is the per-host stage of a night: every internal host's
// traffic features (features.HostAggregator) and the flows that match a
// rule of the hints file (inventory.HintCounter). Both key by host, so
// they share one goroutine.
type hostStage struct {
	agg   *features.HostAggregator
	hints *inventory.HintCounter
}

func newHostStage(internal []netip.Prefix, rules *inventory.Rules) (*hostStage, error) {
	cfg := features.DefaultHostConfig()
	if len(internal) > 0 {
		cfg.Internal = internal
	}
	agg, err := features.NewHostAggregator(cfg)
	if err != nil {
		return nil, err
	}
	return &hostStage{agg: agg, hints: rules.NewHintCounter(agg.Internal)}, nil
}

// addBatch is the stage's consumer of the night's flows.
func (s *hostStage) addBatch(b []datasets.Flow) error {
	for i := range b {
		s.agg.Add(&b[i])
		s.hints.Add(&b[i])
	}
	return nil
}

// ttlClasses are a host's initial TTLs (the class its observed TTLs fall
// in), with the flows of each.
func ttlClasses(h features.HostStats) map[uint8]uint64 {
	out := map[uint8]uint64{}
	for _, t := range h.TTLs {
		out[features.InitialTTL(t.TTL)] += t.Flows
	}
	return out
}

// topTalkers is how many of the busiest hosts get their per-minute traffic
// written.
const topTalkers = 10

// busiest are the n hosts with the most bytes in and out, busiest first.
func busiest(hosts []features.HostStats, n int) []features.HostStats {
	hs := slices.Clone(hosts)
	slices.SortStableFunc(hs, func(a, b features.HostStats) int {
		return cmp.Compare(b.BytesIn+b.BytesOut, a.BytesIn+a.BytesOut)
	})
	return hs[:min(n, len(hs))]
}

package nightly

import (
	"context"
	"net/netip"

	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/clusters"
	"github.com/fingerflow/fingerflow/models/inventory"
)

// evidenceStage weighs every host's evidence, in one fixed order:
//
//  1. catalog evidence: the files its downloads and keep-alive connections
//     were recognised as, and a search of its other downloads among the
//     files of the family its evidence leans to (inventory.Night.Verdicts);
//  2. its cluster's OS mix, from the verdicts of step 1;
//  3. its TTL class and the rules of the hints file its traffic matched;
//  4. one final verdict per host, with all of the above.
//
// Only step 1 can name an OS; steps 2 and 3 move the confidence and are
// listed among the evidence.
type evidenceStage struct {
	night *inventory.Night
	hints *inventory.HintCounter
}

// verdicts returns the final verdict of every host of hosts (and of any
// other host the night's downloads named).
func (s *evidenceStage) verdicts(ctx context.Context, hosts []features.HostStats, hcl *clusters.HostClusters) (map[netip.Addr]inventory.Verdict, error) {
	// 1. Catalog evidence.
	first, err := s.night.Verdicts(ctx)
	if err != nil {
		return nil, err
	}
	// 2. The cluster's OS mix, as the catalog evidence names it.
	if hcl != nil {
		names := make([]string, len(hcl.Descriptions))
		for i, d := range hcl.Descriptions {
			names[i] = d.Text
		}
		for a, h := range inventory.ClusterHints(hcl.Cluster, names, first) {
			s.night.AddHint(a, h)
		}
	}
	// 3. TTL class and rule matches.
	for _, h := range hosts {
		for _, x := range s.hints.Hints(h.Addr, ttlClasses(h)) {
			s.night.AddHint(h.Addr, x)
		}
	}
	// 4. One final verdict per host.
	out := make(map[netip.Addr]inventory.Verdict, len(hosts))
	for i, h := range hosts {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		out[h.Addr] = s.night.Verdict(h.Addr)
	}
	for a := range first {
		if _, ok := out[a]; !ok {
			out[a] = s.night.Verdict(a)
		}
	}
	return out, nil
}

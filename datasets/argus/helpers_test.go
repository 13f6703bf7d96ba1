package argus

import (
	"net/netip"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// cmpOpts compares netip.Addr values by their value.
var cmpOpts = []cmp.Option{cmpopts.EquateComparable(netip.Addr{})}

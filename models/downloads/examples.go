package downloads

import (
	"github.com/fingerflow/fingerflow/datasets/labels"
	"github.com/fingerflow/fingerflow/features"
)

// Example is one labelled download: the flow and the catalog files it
// carried, in order (several for a keep-alive connection). Known is false for
// downloads of files outside the catalog (background traffic).
type Example struct {
	Download features.Download
	Files    []string
	Sizes    []uint64
	Known    bool   // every file is in the catalog
	InCat    []bool // per file: in the catalog
}

// Join pairs downloads with their ground truth by client address and port.
// Behind a NAT the flows show the gateway's address while the labels, taken
// on the client, show the client's own: a download whose address has no
// label is then joined by client and server port alone, when exactly one
// labelled connection used that pair (NAT gateways usually keep the
// client's port). Downloads without a label are returned separately (other
// traffic in the capture).
func Join(ds []features.Download, set *labels.Set) (examples []Example, unlabelled []features.Download) {
	type ports struct{ client, server uint16 }
	byPort := map[ports][][]labels.Label{}
	for _, conn := range set.Connections() {
		l := conn[0]
		k := ports{l.ClientPort, l.ServerPort}
		byPort[k] = append(byPort[k], conn)
	}
	for _, d := range ds {
		ls := set.ByClient(d.Client, d.ClientPort)
		if len(ls) == 0 {
			conns := byPort[ports{d.ClientPort, d.ServerPort}]
			if len(conns) == 0 {
				conns = byPort[ports{d.ClientPort, 0}] // labels without server ports
			}
			if len(conns) == 1 {
				ls = conns[0]
			}
		}
		if len(ls) == 0 {
			unlabelled = append(unlabelled, d)
			continue
		}
		ex := Example{Download: d, Known: true}
		for _, l := range ls {
			ex.Files = append(ex.Files, l.File)
			ex.Sizes = append(ex.Sizes, l.Size)
			ex.InCat = append(ex.InCat, l.Known)
			if !l.Known {
				ex.Known = false
			}
		}
		examples = append(examples, ex)
	}
	return examples, unlabelled
}

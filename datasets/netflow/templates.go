package netflow

import (
	"github.com/netsampler/goflow2/v2/decoders/netflow"
)

// templateSystem is the goflow2 template store of one exporter address.
// goflow2 keys templates by version, observation domain and template ID;
// keeping one store per exporter address keeps two exporters that use the
// same IDs apart.
//
// It refuses templates whose records would take no bytes (no fields, or only
// zero-length fields): goflow2 would loop for ever on a data set that uses
// one. Such a template is treated as a withdrawal, as IPFIX defines a
// template with a field count of 0.
type templateSystem struct {
	m    map[uint64]any
	seen map[uint64]bool // every template key ever defined
}

var _ netflow.NetFlowTemplateSystem = (*templateSystem)(nil)

func newTemplateSystem() *templateSystem {
	return &templateSystem{m: map[uint64]any{}, seen: map[uint64]bool{}}
}

func templateKey(version uint16, domain uint32, id uint16) uint64 {
	return uint64(version)<<48 | uint64(domain)<<16 | uint64(id)
}

// minRecordSize is the fewest bytes a data record of these fields takes
// (a variable-length field takes at least its one length byte).
func minRecordSize(fields ...[]netflow.Field) int {
	n := 0
	for _, fs := range fields {
		for _, f := range fs {
			if f.Length == 0xffff {
				n++
			} else {
				n += int(f.Length)
			}
		}
	}
	return n
}

func (ts *templateSystem) AddTemplate(version uint16, domain uint32, id uint16, template any) error {
	size := 0
	switch t := template.(type) {
	case netflow.TemplateRecord:
		size = minRecordSize(t.Fields)
	case netflow.NFv9OptionsTemplateRecord:
		size = minRecordSize(t.Scopes, t.Options)
	case netflow.IPFIXOptionsTemplateRecord:
		size = minRecordSize(t.Scopes, t.Options)
	}
	key := templateKey(version, domain, id)
	if size == 0 {
		delete(ts.m, key)
		return nil
	}
	ts.m[key] = template
	ts.seen[key] = true
	return nil
}

func (ts *templateSystem) GetTemplate(version uint16, domain uint32, id uint16) (any, error) {
	if t, ok := ts.m[templateKey(version, domain, id)]; ok {
		return t, nil
	}
	return nil, netflow.ErrorTemplateNotFound
}

func (ts *templateSystem) RemoveTemplate(version uint16, domain uint32, id uint16) (any, error) {
	key := templateKey(version, domain, id)
	t, ok := ts.m[key]
	if !ok {
		return nil, netflow.ErrorTemplateNotFound
	}
	delete(ts.m, key)
	return t, nil
}

func (ts *templateSystem) GetTemplates() netflow.FlowBaseTemplateSet {
	out := make(netflow.FlowBaseTemplateSet, len(ts.m))
	for k, v := range ts.m {
		out[k] = v
	}
	return out
}

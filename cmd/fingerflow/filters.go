package main

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/fingerflow/fingerflow/datasets"
)

// filterOptions are the flow filter flags of the commands that read flow
// files (ingest, classify).
type filterOptions struct {
	since  string
	until  string
	protos []string
	nets   []string
	ports  []string
	flags  *pflag.FlagSet // to tell an empty value ("--net ''") from no flag
}

// addFilterFlags registers the filter flags on a command.
func addFilterFlags(f *pflag.FlagSet, opts *filterOptions) {
	opts.flags = f
	f.StringVar(&opts.since, "since", "", `keep flows ending at or after this time (RFC 3339 or "2006-01-02 15:04", UTC)`)
	f.StringVar(&opts.until, "until", "", "keep flows starting before this time")
	f.StringSliceVar(&opts.protos, "proto", nil, "keep these IP protocols, by name (tcp, udp, icmp, icmp6, gre, esp, ah, sctp, ...) or number; repeatable")
	f.StringSliceVar(&opts.nets, "net", nil, "keep flows with either address in this CIDR (or address); repeatable")
	f.StringSliceVar(&opts.ports, "port", nil, "keep flows with either port equal to N; repeatable")
}

// parseFilter turns the filter flags into a datasets.Filter; errors are
// usage errors.
func parseFilter(opts filterOptions) (datasets.Filter, error) {
	var flt datasets.Filter
	var err error
	for _, name := range []string{"proto", "net", "port"} {
		if fl := opts.flags.Lookup(name); opts.flags != nil && fl != nil && fl.Changed && fl.Value.String() == "[]" {
			return flt, usagef("--%s with an empty value", name)
		}
	}
	if flt.Since, err = parseTimeFlag("--since", opts.since); err != nil {
		return flt, err
	}
	if flt.Until, err = parseTimeFlag("--until", opts.until); err != nil {
		return flt, err
	}
	if !flt.Since.IsZero() && !flt.Until.IsZero() && !flt.Until.After(flt.Since) {
		return flt, usagef("--until %s is not after --since %s", opts.until, opts.since)
	}
	for _, p := range opts.protos {
		n, err := parseProto(p)
		if err != nil {
			return flt, err
		}
		flt.Protos = append(flt.Protos, n)
	}
	for _, s := range opts.nets {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return flt, usagef("--net %q: not a CIDR prefix or address", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		flt.Nets = append(flt.Nets, p.Masked())
	}
	for _, s := range opts.ports {
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return flt, usagef("--port %q: not a port number 0-65535", s)
		}
		flt.Ports = append(flt.Ports, uint16(n))
	}
	return flt, nil
}

// timeLayouts are the accepted --since/--until forms; times without a zone
// are UTC.
var timeLayouts = [...]string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"}

func parseTimeFlag(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef(`%s %q: want a UTC time as 2027-01-11, 2027-01-11 12:00, 2027-01-11 12:00:05 or RFC 3339 (2027-01-11T12:00:00Z)`, name, s)
}

func parseProto(s string) (uint8, error) {
	n, ok := datasets.ParseProto(s)
	if !ok {
		return 0, usagef("--proto %q: not a protocol name or number 0-255", s)
	}
	return n, nil
}

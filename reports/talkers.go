package reports

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/models/talkers"
)

// The top-N tables of `fingerflow stats`, laid out like nfdump's -s output
// but with plain numbers (nfdump -N) and times in UTC.

// timeLayout is how first-seen times are printed: UTC, milliseconds, as
// nfdump prints them.
const timeLayout = "2006-01-02 15:04:05.000"

// nfdumpDuration renders d as nfdump does: HH:MM:SS.mmm.
func nfdumpDuration(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	ms := d.Milliseconds()
	return fmt.Sprintf("%s%02d:%02d:%02d.%03d", neg, ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}

// share is 100·x/total with one decimal, as nfdump prints it.
func share(x, total uint64) string {
	if total == 0 {
		return "0.0"
	}
	return fmt.Sprintf("%.1f", 100*float64(x)/float64(total))
}

// WriteTops prints each statistic of res as a table: one line per entry
// with its first-seen time, duration, protocol, key, flows, packets and
// bytes with their share of the total, and pps, bps and bytes per packet.
func WriteTops(w io.Writer, res talkers.Result) error {
	tot := res.Totals
	for i, top := range res.Tops {
		if i > 0 {
			fmt.Fprintln(w)
		}
		e := top.Stat.Element
		fmt.Fprintf(w, "Top %d %s ordered by %s (%d distinct; %s flows, %s packets, %s bytes in all):\n",
			len(top.Entries), e.Title(), top.Order, top.Distinct, CountText(tot.Flows), CountText(tot.Packets), CountText(tot.Bytes))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "First seen\tDuration\tProto\t%s\tFlows\t(%%)\tPackets\t(%%)\tBytes\t(%%)\tpps\tbps\tbpp\t\n", e.Title())
		for _, en := range top.Entries {
			proto := "any"
			if top.Stat.ByProto || e == talkers.Record || e == talkers.Proto {
				proto = datasets.ProtoName(en.Key.Proto)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t(%s)\t%d\t(%s)\t%d\t(%s)\t%d\t%d\t%d\t\n",
				en.First.Format(timeLayout), nfdumpDuration(en.Duration()), proto, en.Key.Text(e),
				en.Flows, share(en.Flows, tot.Flows), en.Packets, share(en.Packets, tot.Packets),
				en.Bytes, share(en.Bytes, tot.Bytes), en.PPS(), en.BPS(), en.BPP())
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// WriteSources prints the T and C table: the source addresses with the
// longest accumulated flow duration, with their flow count, packets and
// bytes.
func WriteSources(w io.Writer, res talkers.Result) error {
	fmt.Fprintf(w, "Top %d of %d source addresses by accumulated flow duration (T) with their flow count (C):\n",
		len(res.Sources), res.SourcesDistinct)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "Src IP Addr\tT (s)\tC (flows)\tT/C (s)\tPackets\tBytes\t\n")
	for _, s := range res.Sources {
		mean := 0.0
		if s.Count > 0 {
			mean = s.Duration.Seconds() / float64(s.Count)
		}
		fmt.Fprintf(tw, "%s\t%.3f\t%d\t%.3f\t%d\t%d\t\n", s.Addr, s.Duration.Seconds(), s.Count, mean, s.Packets, s.Bytes)
	}
	return tw.Flush()
}

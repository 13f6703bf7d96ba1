package clickhouse

import (
	"context"
	"fmt"
	"testing"

	flowstore "github.com/fingerflow/fingerflow/datasets/clickhouse"
	"github.com/fingerflow/fingerflow/features"
)

// goflow2Raw is GoFlow2's ClickHouse table as its compose setup creates
// it (compose/clickhouse/create.sh: flows_raw), without the Kafka engine
// that feeds it.
const goflow2Raw = `CREATE TABLE %s.flows_raw (
    Date Date,
    TimeReceived DateTime,
    TimeFlowStart DateTime,
    SequenceNum UInt32,
    SamplingRate UInt64,
    SamplerAddress FixedString(16),
    SrcAddr FixedString(16),
    DstAddr FixedString(16),
    SrcAS UInt32,
    DstAS UInt32,
    EType UInt32,
    Proto UInt32,
    SrcPort UInt32,
    DstPort UInt32,
    Bytes UInt64,
    Packets UInt64
) ENGINE = MergeTree() PARTITION BY Date ORDER BY TimeReceived`

// goflow2View is the README's view of GoFlow2's table with fingerflow's
// columns.
const goflow2View = `CREATE VIEW %s.goflow2_flows AS
SELECT
    TimeReceived,
    toUInt64(toUnixTimestamp(TimeFlowStart)) * 1000000000 AS TimeFlowStartNs,
    toUInt64(toUnixTimestamp(TimeReceived)) * 1000000000 AS TimeFlowEndNs,
    SamplerAddress AS ExporterAddress,
    SamplingRate,
    SrcAddr, DstAddr, SrcPort, DstPort, Proto,
    toUInt8(0) AS TCPFlags,
    Bytes, Packets,
    toUInt8(0) AS HasReverse, toUInt64(0) AS RevBytes, toUInt64(0) AS RevPackets,
    toUInt32(0) AS InIf, toUInt32(0) AS OutIf, toUInt8(0) AS IPTos,
    toUInt8(0) AS MinTTL, toUInt8(0) AS MaxTTL
FROM %s.flows_raw`

// TestGoFlow2View: the night's queries run over GoFlow2's table through
// the README's view, and what does not depend on what the table lacks
// (flow end times, TCP flags, TTLs) comes out as from fingerflow's own
// table: every host's traffic totals, peers and ports.
func TestGoFlow2View(t *testing.T) {
	srv := servers.Need(t, 1)[0]
	ctx := context.Background()
	db := dbName(t)
	own := loadStore(t, srv, db, files(t, "../../datasets/population/pop-near-24h-s1007.v9"))
	for _, q := range []string{
		fmt.Sprintf(goflow2Raw, db),
		fmt.Sprintf(`INSERT INTO %s.flows_raw (Date, TimeReceived, TimeFlowStart, SamplingRate, SamplerAddress, SrcAddr, DstAddr, Proto, SrcPort, DstPort, Bytes, Packets)
SELECT toDate(TimeReceived), TimeReceived, toDateTime(intDiv(TimeFlowStartNs, 1000000000)), SamplingRate, ExporterAddress, SrcAddr, DstAddr, Proto, SrcPort, DstPort, Bytes, Packets
FROM %s.flows`, db, db),
		fmt.Sprintf(goflow2View, db, db),
	} {
		if err := own.Conn().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := flowstore.ParseDSN(srv.DSN(db, "table=goflow2_flows"))
	if err != nil {
		t.Fatal(err)
	}
	view, err := flowstore.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer view.Close()
	if err := view.Check(ctx); err != nil {
		t.Fatal(err)
	}
	hcfg := features.DefaultHostConfig()
	want, _, _, err := Hosts(ctx, own, flowstore.Window{}, hcfg)
	if err != nil {
		t.Fatal(err)
	}
	got, _, _, err := Hosts(ctx, view, flowstore.Window{}, hcfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("%d hosts through the view, %d from the table", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.Addr != g.Addr || w.BytesIn != g.BytesIn || w.BytesOut != g.BytesOut || w.FlowsIn != g.FlowsIn ||
			w.FlowsOut != g.FlowsOut || w.Peers != g.Peers || w.Ports != g.Ports || w.ProtoBytes != g.ProtoBytes {
			t.Errorf("%v: through the view %+v, from the table %+v", w.Addr, g, w)
		}
	}
	if _, _, err := Downloads(ctx, view, flowstore.Window{}, features.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
}

package flowbench_test

import (
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/flowbench"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/floods"
	"github.com/fingerflow/fingerflow/models/inventory"
	"github.com/fingerflow/fingerflow/models/lifespans"
	"github.com/fingerflow/fingerflow/models/scans"
	"github.com/fingerflow/fingerflow/models/talkers"
	"github.com/fingerflow/fingerflow/models/unexpected"
)

// night is the nightly run's per-flow work, consumer by consumer as the
// run spreads it over goroutines: host features and OS hints, download
// extraction, top talkers and lifespans, floods, scans and unexpected
// rates, each with the run's defaults.
type night struct {
	consumers []func([]datasets.Flow)
	downloads int
}

func newNight(b *testing.B) *night {
	agg, err := features.NewHostAggregator(features.DefaultHostConfig())
	if err != nil {
		b.Fatal(err)
	}
	rules, err := inventory.LoadRules("")
	if err != nil {
		b.Fatal(err)
	}
	hc := rules.NewHintCounter(agg.Internal)
	ex := features.NewExtractor(features.DefaultConfig())
	var tc talkers.Config
	for _, s := range []string{"srcip/bytes", "dstip/bytes", "dstport/bytes", "proto/bytes"} {
		st, err := talkers.ParseStat(s)
		if err != nil {
			b.Fatal(err)
		}
		tc.Stats = append(tc.Stats, st)
	}
	tc.N, tc.Sources = 10, 100
	talk, err := talkers.New(tc)
	if err != nil {
		b.Fatal(err)
	}
	lives, err := lifespans.New(lifespans.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	fl, err := floods.New(floods.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	sc, err := scans.New(scans.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	prof, err := unexpected.New(unexpected.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	n := &night{}
	n.consumers = []func([]datasets.Flow){
		func(fs []datasets.Flow) {
			for i := range fs {
				agg.Add(&fs[i])
				hc.Add(&fs[i])
			}
		},
		func(fs []datasets.Flow) {
			for i := range fs {
				ex.Add(&fs[i])
				n.downloads += len(ex.Drain())
			}
		},
		func(fs []datasets.Flow) {
			talk.AddBatch(fs)
			lives.AddBatch(fs)
		},
		fl.AddBatch,
		func(fs []datasets.Flow) {
			for i := range fs {
				sc.Add(&fs[i])
				prof.Add(&fs[i])
			}
		},
	}
	return n
}

// BenchmarkNight is the nightly run's pass over the flows, its five
// consumers fed as the run feeds them and as it might:
//
//	serial     every consumer in turn on one goroutine: the CPU time the
//	           pass needs, the sum of the stages
//	copy       the run's fan-out: batches copied into 4,096-flow batches
//	           that each consumer's goroutine reads
//	shared     the reader's own 1,024-flow batches handed to every
//	           consumer without a copy, each batch back to the reader's
//	           pool once all are done with it
//	fused-2    shared batches, the consumers fused into two goroutines of
//	           about equal work (hosts, talkers, scans; extraction,
//	           floods), one a core
//
// Decoding is not measured (the flows are held in memory), expanding
// them into datasets.Flow batches is.
func BenchmarkNight(b *testing.B) {
	flows := flowbench.Load(b, flowbench.Dir(filepath.Join("..", "lab-attack", "lab-attack.v9")))
	b.Run("serial", func(b *testing.B) {
		m := flowbench.Start(b)
		for b.Loop() {
			n := newNight(b)
			flows.Batches(func(fs []datasets.Flow) {
				for _, c := range n.consumers {
					c(fs)
				}
			})
		}
		m.Stop(flows.Len())
	})
	b.Run("copy", func(b *testing.B) {
		m := flowbench.Start(b)
		for b.Loop() {
			n := newNight(b)
			fanOut(flows, 4096, true, n.consumers)
		}
		m.Stop(flows.Len())
	})
	b.Run("shared", func(b *testing.B) {
		m := flowbench.Start(b)
		for b.Loop() {
			n := newNight(b)
			fanOut(flows, flowbench.BatchSize, false, n.consumers)
		}
		m.Stop(flows.Len())
	})
	b.Run("fused-2", func(b *testing.B) {
		m := flowbench.Start(b)
		for b.Loop() {
			n := newNight(b)
			c := n.consumers
			fanOut(flows, flowbench.BatchSize, false, []func([]datasets.Flow){
				func(fs []datasets.Flow) { c[0](fs); c[2](fs); c[4](fs) },
				func(fs []datasets.Flow) { c[1](fs); c[3](fs) },
			})
		}
		m.Stop(flows.Len())
	})
}

// batch is a batch of flows every consumer reads, back to the pool once
// the last one is done.
type batch struct {
	flows []datasets.Flow
	refs  atomic.Int32
}

// fanOut runs each consumer on a goroutine of its own and hands it every
// flow in order. With copying, the producer's batches (the reader's, of
// BatchSize) are copied into batches of size flows, as the run's fan-out
// does; without, the producer fills a pooled batch (of BatchSize flows,
// size must be that), which every consumer reads where it lies.
func fanOut(fs *flowbench.Flows, size int, copying bool, consumers []func([]datasets.Flow)) {
	pool := sync.Pool{New: func() any { return &batch{flows: make([]datasets.Flow, 0, size)} }}
	chans := make([]chan *batch, len(consumers))
	var wg sync.WaitGroup
	for i, c := range consumers {
		ch := make(chan *batch, 4)
		chans[i] = ch
		wg.Add(1)
		go func() {
			defer wg.Done()
			for bt := range ch {
				c(bt.flows)
				if bt.refs.Add(-1) == 0 {
					bt.flows = bt.flows[:0]
					pool.Put(bt)
				}
			}
		}()
	}
	send := func(bt *batch) {
		bt.refs.Store(int32(len(chans)))
		for _, ch := range chans {
			ch <- bt
		}
	}
	if copying {
		var cur *batch
		fs.Batches(func(in []datasets.Flow) {
			for len(in) > 0 {
				if cur == nil {
					cur = pool.Get().(*batch)
				}
				k := min(len(in), size-len(cur.flows))
				cur.flows = append(cur.flows, in[:k]...)
				in = in[k:]
				if len(cur.flows) == size {
					send(cur)
					cur = nil
				}
			}
		})
		if cur != nil && len(cur.flows) > 0 {
			send(cur)
		}
	} else {
		var cur *batch
		fs.BatchesInto(func() []datasets.Flow {
			cur = pool.Get().(*batch)
			return cur.flows
		}, func(f []datasets.Flow) {
			cur.flows = f
			send(cur)
		})
	}
	for _, ch := range chans {
		close(ch)
	}
	wg.Wait()
}

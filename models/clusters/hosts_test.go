package clusters

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/fingerflow/fingerflow/models/internal/flowfiles"
)

// labColumns are the features of labHosts.
var labColumns = []Column{
	{Name: "flows", High: "many flows", Low: "single connection"},
	{Name: "peers", High: "talks to many peers", Low: "one peer"},
	{Name: "bytes_in", High: "heavy downloaders", Low: "light receivers"},
	{Name: "bytes_out", High: "heavy senders", Low: "light senders"},
	{Name: "pkts_in", High: "many packets in"},
	{Name: "pkts_out", High: "many packets out"},
	{Name: "mean_duration", High: "long flows", Low: "short flows"},
	{Name: "bytes_per_pkt_in", High: "full-size packets in", Low: "small packets in"},
}

// labHosts builds a real hosts × features table from the lab's flow
// records (datasets/lab-dev and datasets/lab-extra, nfdump -o csv). The lab
// has only a handful of addresses, so a "host" here is an endpoint, an
// address and port within one run: the servers (80/tcp, 443/tcp) serve
// hundreds of connections, each client port carries one or a few downloads.
// Features per endpoint: flow records it appears in, distinct peer
// endpoints, bytes and packets received and sent, mean record duration and
// mean size of received packets. roles holds "80/tcp" or "443/tcp" for
// server endpoints and "" for clients.
func labHosts(t testing.TB) (rows [][]float64, roles []string, names []string) {
	t.Helper()
	files := flowfiles.LabCSVs(t)
	type endpoint struct {
		run, addr string
		port      int
	}
	type acc struct {
		flows                        int
		peers                        map[endpoint]bool
		bytesIn, bytesOut, pIn, pOut float64
		dur                          float64
	}
	hosts := make(map[endpoint]*acc)
	get := func(e endpoint) *acc {
		a := hosts[e]
		if a == nil {
			a = &acc{peers: make(map[endpoint]bool)}
			hosts[e] = a
		}
		return a
	}
	for _, f := range files {
		run := filepath.Base(f)
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		r := csv.NewReader(fh)
		r.FieldsPerRecord = -1
		head, err := r.Read()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		col := make(map[string]int)
		for i, h := range head {
			col[h] = i
		}
		for line := 2; ; line++ {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(rec) != len(head) {
				break // the summary after the records
			}
			num := func(name string) float64 {
				v, err := strconv.ParseFloat(rec[col[name]], 64)
				if err != nil {
					t.Fatalf("%s:%d: %s: %v", f, line, name, err)
				}
				return v
			}
			src := endpoint{run, rec[col["sa"]], int(num("sp"))}
			dst := endpoint{run, rec[col["da"]], int(num("dp"))}
			byt, pkt, td := num("ibyt"), num("ipkt"), num("td")
			s, d := get(src), get(dst)
			s.flows++
			d.flows++
			s.peers[dst] = true
			d.peers[src] = true
			s.bytesOut += byt
			s.pOut += pkt
			d.bytesIn += byt
			d.pIn += pkt
			s.dur += td
			d.dur += td
		}
		fh.Close()
	}
	keys := make([]endpoint, 0, len(hosts))
	for e := range hosts {
		keys = append(keys, e)
	}
	slices.SortFunc(keys, func(a, b endpoint) int {
		return cmp.Or(cmp.Compare(a.run, b.run), cmp.Compare(a.addr, b.addr), cmp.Compare(a.port, b.port))
	})
	for _, e := range keys {
		a := hosts[e]
		bpp := 0.0
		if a.pIn > 0 {
			bpp = a.bytesIn / a.pIn
		}
		rows = append(rows, []float64{float64(a.flows), float64(len(a.peers)), a.bytesIn, a.bytesOut, a.pIn, a.pOut, a.dur / float64(a.flows), bpp})
		role := ""
		if e.port < 1024 {
			role = fmt.Sprintf("%d/tcp", e.port)
		}
		roles = append(roles, role)
		names = append(names, fmt.Sprintf("%s %s:%d", e.run, e.addr, e.port))
	}
	return rows, roles, names
}

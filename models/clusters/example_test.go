package clusters_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/fingerflow/fingerflow/models/clusters"
	"gonum.org/v1/gonum/mat"
)

func ExampleModel_Describe() {
	// Nine hosts: bytes received in a day, distinct peers, flows.
	hosts := [][]float64{
		{8.1e9, 12, 40}, {6.5e9, 9, 35}, {9.7e9, 15, 52}, // big downloads
		{2.1e6, 950, 40100}, {1.8e6, 1210, 52000}, {2.5e6, 870, 38800}, // DNS servers
		{5.2e4, 3, 20}, {3.9e4, 2, 14}, {6.1e4, 4, 25}, // little traffic
	}
	roles := []string{"", "", "", "53/udp", "53/udp", "53/udp", "", "", ""}
	x, err := clusters.Matrix(hosts)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := clusters.Model{
		Columns: []clusters.Column{
			{Name: "bytes_in", Skew: clusters.Skewed, High: "heavy downloaders", Low: "quiet clients"},
			{Name: "peers", Skew: clusters.Skewed, High: "talks to many peers", Low: "quiet clients"},
			{Name: "flows", Skew: clusters.Skewed, High: "many flows"},
		},
		KMeans:    clusters.KMeans{KMax: 4, Src: rand.NewPCG(1, 2)},
		MaxTraits: 1,
	}
	if err := m.Fit(x); err != nil {
		fmt.Println(err)
		return
	}
	desc, err := m.Describe(roles)
	if err != nil {
		fmt.Println(err)
		return
	}
	var c mat.Dense
	if err := m.CentroidsTo(&c); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("labels:", m.Labels())
	for _, d := range desc {
		fmt.Printf("cluster %d (%d hosts, %.3g bytes in): %s\n", d.Cluster, d.Size, c.At(d.Cluster, 0), d.Text)
	}
	// Output:
	// labels: [2 2 2 1 1 1 0 0 0]
	// cluster 0 (3 hosts, 4.98e+04 bytes in): quiet clients
	// cluster 1 (3 hosts, 2.11e+06 bytes in): servers on 53/udp, many flows
	// cluster 2 (3 hosts, 7.99e+09 bytes in): heavy downloaders
}

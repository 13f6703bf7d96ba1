package clusters

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDescribe(t *testing.T) {
	// Twelve hosts in three clear groups of four: big downloaders, busy
	// servers and hosts in between. Equal sizes, so clusters are numbered by
	// centroid: the servers (lowest bytes_in) first.
	rows := [][]float64{
		{9e9, 10}, {8e9, 12}, {7e9, 9}, {9.5e9, 11},
		{1e6, 900}, {2e6, 1100}, {1.5e6, 1000}, {1.2e6, 950},
		{3e7, 60}, {2e7, 50}, {4e7, 70}, {2.5e7, 55},
	}
	x, err := Matrix(rows)
	if err != nil {
		t.Fatal(err)
	}
	cols := []Column{
		{Name: "bytes_in", Skew: Skewed, High: "heavy downloaders", Low: "light downloaders"},
		{Name: "peers", Skew: Skewed, High: "talks to many peers", Low: "quiet"},
	}
	servers := []string{"", "", "", "", "53/udp", "53/udp", "53/udp", "445/tcp", "", "", "", ""}
	split := []string{"", "", "", "", "53/udp", "53/udp", "445/tcp", "445/tcp", "", "", "", ""}
	tests := []struct {
		name   string
		model  Model
		roles  []string
		want   []string
		wantEr error
	}{
		{
			name:  "traits and a role held by three of four",
			model: Model{Columns: cols},
			roles: servers,
			want:  []string{"servers on 53/udp, talks to many peers, light downloaders", "typical hosts", "heavy downloaders, quiet"},
		},
		{
			name:  "no role without a majority",
			model: Model{Columns: cols},
			roles: split,
			want:  []string{"talks to many peers, light downloaders", "typical hosts", "heavy downloaders, quiet"},
		},
		{
			name:  "one trait, no roles",
			model: Model{Columns: cols, MaxTraits: 1},
			want:  []string{"talks to many peers", "typical hosts", "heavy downloaders"},
		},
		{
			name:  "columns without phrases",
			model: Model{Columns: []Column{{Name: "bytes_in", Skew: Skewed}, {Name: "peers", Skew: Skewed}}},
			want:  []string{"high peers, low bytes_in", "typical hosts", "high bytes_in, low peers"},
		},
		{
			name:   "roles of another table",
			model:  Model{Columns: cols},
			roles:  []string{"53/udp"},
			wantEr: ErrShape,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.model
			m.KMeans = KMeans{K: 3, Src: rand.NewPCG(1, 2)}
			if err := m.Fit(x); err != nil {
				t.Fatal(err)
			}
			desc, err := m.Describe(tc.roles)
			if !errors.Is(err, tc.wantEr) {
				t.Fatalf("Describe error %v, want %v", err, tc.wantEr)
			}
			var got []string
			for _, d := range desc {
				got = append(got, d.Text)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("descriptions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDescribeLabHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("fits k = 2..8 on 4,770 lab endpoints; skipped in -short mode")
	}
	rows, roles, _ := labHosts(t)
	x, err := Matrix(rows)
	if err != nil {
		t.Fatal(err)
	}
	m := Model{Columns: labColumns, KMeans: KMeans{Src: rand.NewPCG(1, 2)}}
	if err := m.Fit(x); err != nil {
		t.Fatal(err)
	}
	desc, err := m.Describe(roles)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range m.KMeans.Scores() {
		t.Logf("k=%d silhouette %.4f inertia %.1f", s.K, s.Silhouette, s.Inertia)
	}
	var servers *Description
	for i, d := range desc {
		t.Logf("cluster %d: %d endpoints: %s", d.Cluster, d.Size, d.Text)
		if d.Role != "" {
			servers = &desc[i]
		}
	}
	// The lab's servers (port 80 or 443 in each run) stand apart from
	// thousands of one-connection clients.
	if servers == nil || servers.Size > 40 {
		t.Errorf("no small cluster of servers among %+v", desc)
	}
}

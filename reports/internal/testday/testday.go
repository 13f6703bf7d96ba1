// Package testday is a fixed synthetic day of site traffic the chart
// tests of reports and reports/morning draw.
package testday

import (
	"fmt"
	"math"
	"time"

	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// Day is a fixed day of site traffic: a daily swell, a few noisy
// seconds, a two-minute flood at 03:00, and three busy hosts.
func Day() ([]nightdir.SecondRow, []nightdir.MinuteRow, []nightdir.HostSeries) {
	start := time.Date(2027, 1, 11, 0, 0, 0, 0, time.UTC)
	var seconds []nightdir.SecondRow
	minutes := make([]nightdir.MinuteRow, 24*60)
	for i := range minutes {
		minutes[i] = nightdir.MinuteRow{Minute: start.Add(time.Duration(i) * time.Minute), Host: "site"}
	}
	for s := range 86400 {
		day := 0.5 + 0.5*math.Sin(2*math.Pi*(float64(s)/86400-0.25))
		noise := math.Mod(float64(s)*0.6180339887, 1)
		b := 2e5 + 3e6*day + 1e6*noise*noise*noise
		if s >= 3*3600 && s < 3*3600+120 {
			b = 9e7
		}
		seconds = append(seconds, nightdir.SecondRow{Time: start.Add(time.Duration(s) * time.Second), Bytes: b, Packets: b / 900})
		minutes[s/60].Bytes += b
		minutes[s/60].Packets += b / 900
	}
	var hosts []nightdir.HostSeries
	for h, share := range []float64{0.3, 0.15, 0.05} {
		hs := nightdir.HostSeries{Host: fmt.Sprintf("10.0.0.%d", h+1)}
		for i, m := range minutes {
			if (i/30+h)%3 == 0 {
				continue // idle half-hours
			}
			hs.Minutes = append(hs.Minutes, nightdir.MinuteRow{Minute: m.Minute, Host: hs.Host, Bytes: share * m.Bytes, Packets: share * m.Packets})
		}
		hosts = append(hosts, hs)
	}
	return seconds, minutes, hosts
}

package morning

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/reports"
)

// Numbers as people read them: SI prefixes with three significant
// digits, thousands separators, percentages that say "<0.1%" rather than
// 0, bits per second for rates (as ntopng, Akvorado and Grafana show
// traffic), durations in words.

// siPrefixes are the decimal prefixes from 10^0 to 10^15.
var siPrefixes = []string{"", "k", "M", "G", "T", "P"}

// si writes v with an SI prefix and three significant digits: 1.23 G,
// 850 k, 12.
func si(v float64) (num, prefix string) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "?", ""
	}
	if v == 0 {
		return "0", ""
	}
	neg := v < 0
	v = math.Abs(v)
	i := 0
	for i < len(siPrefixes)-1 && v >= 999.5 {
		v /= 1000
		i++
	}
	prec := 2
	switch {
	case v >= 99.95:
		prec = 0
	case v >= 9.995:
		prec = 1
	}
	if i == 0 && v == math.Trunc(v) {
		prec = 0
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if neg {
		s = "-" + s
	}
	return s, siPrefixes[i]
}

// bitsText is a rate of bytes per second in bits per second: "1.23 Gb/s".
func bitsText(bytesPerSecond float64) string {
	n, p := si(8 * bytesPerSecond)
	return n + " " + p + "b/s"
}

// bytesText is a byte count in decimal units: "8.69 GB", "830 B".
func bytesText(b float64) string {
	n, p := si(b)
	return n + " " + p + "B"
}

// rateText is a count per second with an SI prefix: "105 k/s".
func rateText(v float64, unit string) string {
	n, p := si(v)
	return n + " " + p + unit
}

// countText is n with thousands separators: 1,234,567.
func countText[T int | int64 | uint64](n T) string { return reports.CountText(n) }

// shareText is a share (0 to 1) as a percentage: "45.2%", "3%", "<0.1%",
// "0%".
func shareText(s float64) string {
	switch {
	case math.IsNaN(s):
		return "—"
	case s <= 0:
		return "0%"
	case s < 0.001:
		return "<0.1%"
	case s >= 1:
		return "100%"
	case s > 0.999:
		return ">99.9%"
	}
	return strconv.FormatFloat(100*s, 'f', 1, 64) + "%"
}

// confidenceText is a verdict's confidence as a percentage, "—" for a
// host without a verdict.
func confidenceText(c float64, hasOS bool) string {
	if !hasOS {
		return "—"
	}
	switch {
	case c > 0.999:
		return ">99.9%"
	case c >= 0.995:
		return strconv.FormatFloat(100*c, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(100*c, 'f', 0, 64) + "%"
}

// plural is "1 host", "3 hosts".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return countText(n) + " " + many
}

// spanText is a duration in words, rounded to what matters: "37 s",
// "2 min 30 s", "5 h 12 min", "2 days 3 h".
func spanText(d time.Duration) string {
	switch {
	case d < 0:
		return "0 s"
	case d < 10*time.Second:
		s := strconv.FormatFloat(d.Seconds(), 'f', 1, 64)
		return strings.TrimSuffix(s, ".0") + " s"
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		d = d.Round(time.Second)
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 || m >= 10 {
			return fmt.Sprintf("%d min", int(d.Round(time.Minute)/time.Minute))
		}
		return fmt.Sprintf("%d min %d s", m, s)
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, m)
	}
	d = d.Round(time.Hour)
	return fmt.Sprintf("%d days %d h", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// binText names a bin width: "second", "10 s", "minute", "15 min",
// "hour", "3 h".
func binText(d time.Duration) string {
	switch {
	case d == time.Second:
		return "second"
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d == time.Minute:
		return "minute"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d == time.Hour:
		return "hour"
	}
	return fmt.Sprintf("%d h", int(d/time.Hour))
}

// clockText is a time of day in UTC, with seconds: "08:20:31".
func clockText(t time.Time) string { return t.UTC().Format("15:04:05") }

// stampText is a UTC time with its date: "2027-01-25 08:20:31".
func stampText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// join lists words as people do: "a", "a and b", "a, b and c".
func join(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// listText lists at most max words ("a, b, c and 4 more").
func listText(words []string, max int) string {
	if len(words) <= max {
		return join(words)
	}
	return strings.Join(words[:max], ", ") + fmt.Sprintf(" and %d more", len(words)-max)
}

// secondsDuration is s seconds as a duration.
func secondsDuration(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

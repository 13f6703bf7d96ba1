// Package morning writes the morning report of a nightly run: one
// self-contained HTML page, report.html, made from the files the run left
// in its output directory (models/nightly/nightdir) and from nothing else,
// so that `fingerflow report DIR` writes the same bytes as the end of
// `fingerflow run` did.
//
// The page answers the morning's question first: a "Needs attention"
// section lists, as sentences with links to the rows they are about, the
// alarms, the hosts that are new, vanished or changed their OS, the hosts
// behind on updates and the hosts that could not be identified and why.
// Then come the hosts per OS family and each family's update coverage
// (hosts without an OS are never counted as absent), the inventory as a
// table to filter and sort, the traffic in bits per second, the top
// talkers, the host clusters, the downloads, the analytics' alarms and
// statistics, and the files.
//
// Charts are HTML and inline SVG (chart.go): text stays at the page's
// font size at any width, marks stay crisp, values show on hover, and
// bins follow the night's span.
package morning

package reports

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/fingerflow/fingerflow/models/downloads"
	"github.com/google/go-cmp/cmp"
)

// out, when set, keeps the rendered charts and report for a look:
// go test ./reports/ -out /tmp/charts
var out = flag.String("out", "", "directory to keep the rendered charts in")

func keep(t *testing.T, name string, b []byte) {
	t.Helper()
	if *out == "" {
		return
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// pixels is a chart dimension in PNG pixels.
func pixels(l float64) int { return int(l / 72 * DPI) }

// checkPNG decodes b and checks its size.
func checkPNG(t *testing.T, b []byte, w, h float64) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("png: %v", err)
	}
	if got, want := img.Bounds().Size().X, pixels(w); got != want {
		t.Errorf("png width %d, want %d", got, want)
	}
	if got, want := img.Bounds().Size().Y, pixels(h); got != want {
		t.Errorf("png height %d, want %d", got, want)
	}
}

// svgText parses b as XML and returns the text of its <text> elements.
func svgText(t *testing.T, b []byte) []string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	var texts []string
	inText, root := false, ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("svg is not XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
			inText = tok.Name.Local == "text"
		case xml.CharData:
			if inText {
				texts = append(texts, string(tok))
			}
		case xml.EndElement:
			inText = false
		}
	}
	if root != "svg" {
		t.Fatalf("svg root element %q", root)
	}
	return texts
}

func containsAll(t *testing.T, what string, texts []string, want ...string) {
	t.Helper()
	all := strings.Join(texts, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

func TestAccuracyChart(t *testing.T) {
	l := labResults(t)
	ff, bl := l.runs[0].Reports[0], l.runs[0].Reports[1]
	// What this model gets right on test-near; the chart must show it.
	if ff.Known != 250 || ff.Unknown != 50 {
		t.Fatalf("test-near: %d catalog and %d unknown downloads, want 250 and 50", ff.Known, ff.Unknown)
	}
	if accuracy(ff) < 0.9 || rejection(bl) != 0 {
		t.Fatalf("test-near: fingerflow %.3f, baseline rejects %.3f: not the lab's result", accuracy(ff), rejection(bl))
	}
	for _, format := range []string{"png", "svg"} {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			if err := AccuracyChart(&b, format, l.runs); err != nil {
				t.Fatal(err)
			}
			keep(t, "accuracy."+format, b.Bytes())
			if format == "png" {
				checkPNG(t, b.Bytes(), float64(AccuracyWidth), float64(AccuracyHeight))
				return
			}
			want := []string{
				"catalog downloads named correctly", "unknown downloads rejected",
				ff.Name, bl.Name, "test-near",
				fmt.Sprintf("%.1f%%", 100*accuracy(ff)), fmt.Sprintf("%.1f%%", 100*accuracy(bl)),
				fmt.Sprintf("%.1f%%", 100*rejection(ff)), "0.0%",
			}
			if len(l.runs) > 1 {
				// dev-keepalive has multi-file connections; test-near none.
				mf := l.runs[1].Reports[0]
				want = append(want, "files recovered from multi-file connections", "n/a", "dev-keepalive",
					fmt.Sprintf("%.1f%%", 100*recovery(mf)))
			}
			containsAll(t, "accuracy svg", svgText(t, b.Bytes()), want...)
		})
	}
}

func TestRetransmissionChart(t *testing.T) {
	l := labResults(t)
	var right, wrong int
	for _, p := range l.points {
		if p.Correct {
			right++
		} else {
			wrong++
		}
	}
	if right < 200 {
		t.Fatalf("%d right answers: the lab model should name most test-near files", right)
	}
	for _, format := range []string{"png", "svg"} {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			if err := RetransmissionChart(&b, format, l.points); err != nil {
				t.Fatal(err)
			}
			keep(t, "extra."+format, b.Bytes())
			if format == "png" {
				checkPNG(t, b.Bytes(), float64(RetransmissionWidth), float64(RetransmissionHeight))
				return
			}
			want := []string{"test-near", fmt.Sprintf("right answers (%d)", right)}
			if wrong > 0 {
				want = append(want, fmt.Sprintf("wrong answers (%d)", wrong))
			}
			containsAll(t, "overhead svg", svgText(t, b.Bytes()), want...)
		})
	}
}

func TestConfusionHeatmap(t *testing.T) {
	l := labResults(t)
	r := l.runs[0].Reports[0]
	// The most frequent off-diagonal pair must be drawn with its count.
	var top [2]string
	topN := 0
	for k, n := range r.Confusion {
		if k[0] != k[1] && (n > topN || n == topN && k[0]+k[1] < top[0]+top[1]) {
			top, topN = k, n
		}
	}
	for _, format := range []string{"png", "svg"} {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			if err := ConfusionHeatmap(&b, format, r, 12); err != nil {
				t.Fatal(err)
			}
			keep(t, "confusion."+format, b.Bytes())
			if format == "png" {
				checkPNG(t, b.Bytes(), float64(HeatmapWidth), float64(HeatmapHeight))
				return
			}
			texts := svgText(t, b.Bytes())
			// 50 catalog files, 12 drawn: the rest fall in "(other files)".
			containsAll(t, "heat map svg", texts, "unknown", otherName, "truth", "answer",
				fmt.Sprint(r.Confusion[[2]string{"unknown", "unknown"}]))
			if topN > 0 {
				containsAll(t, "heat map svg", texts, fmt.Sprint(topN))
			}
		})
	}
}

func TestTopFiles(t *testing.T) {
	r := &downloads.Report{Confusion: map[[2]string]int{
		{"a", "a"}: 5, {"b", "b"}: 3, {"b", "c"}: 1, {"c", "c"}: 5, {"d", "d"}: 5,
		{"unknown", "unknown"}: 9, {"unknown", "e"}: 2,
	}}
	// a, c and d have 5 downloads each; c is the one confused: a tie
	// goes to the confused file, then by name.
	for _, tc := range []struct {
		n    int
		want string
	}{
		{1, "c"}, {2, "a c"}, {3, "a c d"}, {4, "a b c d"}, {9, "a b c d e"},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			if got := strings.Join(topFiles(r, tc.n), " "); got != tc.want {
				t.Errorf("topFiles(%d) = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
}

func TestChartErrors(t *testing.T) {
	l := labResults(t)
	for _, tc := range []struct {
		name string
		draw func(w io.Writer) error
		want error
	}{
		{"accuracy format", func(w io.Writer) error { return AccuracyChart(w, "gif", l.runs) }, ErrFormat},
		{"extra format", func(w io.Writer) error { return RetransmissionChart(w, "pdf", l.points) }, ErrFormat},
		{"heat map format", func(w io.Writer) error { return ConfusionHeatmap(w, "", l.runs[0].Reports[0], 5) }, ErrFormat},
		{"accuracy no runs", func(w io.Writer) error { return AccuracyChart(w, "png", nil) }, ErrNoData},
		{"accuracy no reports", func(w io.Writer) error { return AccuracyChart(w, "png", []RunResult{{Name: "x"}}) }, ErrNoData},
		{"accuracy empty reports", func(w io.Writer) error {
			return AccuracyChart(w, "png", []RunResult{{Name: "x", Reports: []*downloads.Report{{Name: "f"}}}})
		}, ErrNoData},
		{"extra no points", func(w io.Writer) error { return RetransmissionChart(w, "png", nil) }, ErrNoData},
		{"heat map empty", func(w io.Writer) error { return ConfusionHeatmap(w, "png", &downloads.Report{}, 5) }, ErrNoData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := tc.draw(&b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if b.Len() != 0 {
				t.Errorf("%d bytes written on error", b.Len())
			}
		})
	}
}

// TestDeterministic: the same reports give the same bytes.
func TestDeterministic(t *testing.T) {
	l := labResults(t)
	draw := func() []byte {
		var b bytes.Buffer
		if err := AccuracyChart(&b, "png", l.runs); err != nil {
			t.Fatal(err)
		}
		if err := RetransmissionChart(&b, "svg", l.points); err != nil {
			t.Fatal(err)
		}
		if err := ConfusionHeatmap(&b, "png", l.runs[0].Reports[0], 20); err != nil {
			t.Fatal(err)
		}
		if err := WriteHTML(&b, "lab", l.runs, nil); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if !bytes.Equal(draw(), draw()) {
		t.Error("two renderings of the same reports differ")
	}
}

func TestWriteHTML(t *testing.T) {
	l := labResults(t)
	charts := map[string][]byte{}
	for name, f := range map[string]func(io.Writer) error{
		"accuracy":  func(w io.Writer) error { return AccuracyChart(w, "png", l.runs) },
		"extra":     func(w io.Writer) error { return RetransmissionChart(w, "png", l.points) },
		"confusion": func(w io.Writer) error { return ConfusionHeatmap(w, "png", l.runs[0].Reports[0], 20) },
	} {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		charts[name] = b.Bytes()
	}
	// A run name with markup must come out as text.
	runs := append([]RunResult(nil), l.runs...)
	runs = append(runs, RunResult{Name: `<script>alert("x")</script>`, Reports: l.runs[0].Reports})
	var b bytes.Buffer
	if err := WriteHTML(&b, "fingerflow & the lab", runs, charts); err != nil {
		t.Fatal(err)
	}
	keep(t, "report.html", b.Bytes())

	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var (
		text    strings.Builder
		imgs    []string
		scripts int
		links   int
		details int
	)
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch {
		case n.Type == html.TextNode:
			text.WriteString(n.Data + "\n")
		case n.Type == html.ElementNode && n.Data == "img":
			for _, a := range n.Attr {
				if a.Key == "src" {
					imgs = append(imgs, a.Val)
				}
			}
		case n.Type == html.ElementNode && n.Data == "script":
			scripts++
		case n.Type == html.ElementNode && n.Data == "link":
			links++
		case n.Type == html.ElementNode && n.Data == "details":
			details++
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if scripts != 0 || links != 0 {
		t.Errorf("%d <script> and %d <link> elements: the report must be self-contained and inert", scripts, links)
	}
	if details != 2*len(runs) {
		t.Errorf("%d <details>, want per-file and confusions for each of %d runs", details, len(runs))
	}
	ff, bl := l.runs[0].Reports[0], l.runs[0].Reports[1]
	want := []string{"fingerflow & the lab", `<script>alert("x")</script>`, ff.Name, bl.Name,
		pct(ff.KnownCorrect, ff.Known), pct(bl.KnownCorrect, bl.Known),
		pct(ff.UnknownCorrect, ff.Unknown), pct(bl.UnknownCorrect, bl.Unknown),
		"simulated unknown downloads rejected", pct(ff.SimUnknownCorrect, ff.SimUnknown),
		"cat-000.bin", "Per-file precision and recall"}
	for _, r := range l.runs {
		want = append(want, r.Name)
	}
	containsAll(t, "html text", []string{text.String()}, want...)

	// Charts come in the documented order, each a decodable PNG.
	if len(imgs) != 3 {
		t.Fatalf("%d images, want 3", len(imgs))
	}
	for i, name := range []string{"accuracy", "extra", "confusion"} {
		const prefix = "data:image/png;base64,"
		if !strings.HasPrefix(imgs[i], prefix) {
			t.Fatalf("image %d src %.40q: not an inline PNG", i, imgs[i])
		}
		want := prefix + base64Std(charts[name])
		if imgs[i] != want {
			t.Errorf("image %d is not the %s chart", i, name)
		}
	}

	if err := WriteHTML(io.Discard, "x", l.runs, map[string][]byte{"bad": []byte("GIF89a")}); err == nil {
		t.Error("a chart that is not a PNG was accepted")
	}
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func accuracy(r *downloads.Report) float64  { return ratio(r.KnownCorrect, r.Known) }
func rejection(r *downloads.Report) float64 { return ratio(r.UnknownCorrect, r.Unknown) }
func recovery(r *downloads.Report) float64  { return ratio(r.MultiFound, r.MultiFiles) }

func TestEvaluationJSONRoundTrip(t *testing.T) {
	l := labResults(t)
	var b bytes.Buffer
	if err := WriteEvaluationJSON(&b, l.runs, l.points); err != nil {
		t.Fatal(err)
	}
	ev, err := ReadEvaluationJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(l.runs, ev.Runs); d != "" {
		t.Errorf("runs (-want +got)\n%s", d)
	}
	if d := cmp.Diff(l.points, ev.Points); d != "" {
		t.Errorf("points (-want +got)\n%s", d)
	}
	if _, err := ReadEvaluationJSON(strings.NewReader(`{"runs": [{"reports": [{"confusion": [["a", "b"]]}]}]}`)); err == nil {
		t.Error("a confusion entry of two values was accepted")
	}
}

// evaluationFixture is the labelled evaluation the morning report's
// tests add to their run directory, as evaluate --report writes it:
// go test ./reports -run TestEvaluationFixture -update rewrites it.
var evaluationFixture = filepath.Join("morning", "testdata", "evaluation.json")

// TestEvaluationFixture: the evaluation the morning report's tests read
// is what WriteEvaluationJSON writes for the lab's runs.
func TestEvaluationFixture(t *testing.T) {
	l := labResults(t)
	var b bytes.Buffer
	if err := WriteEvaluationJSON(&b, l.runs, l.points); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(evaluationFixture, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(evaluationFixture)
	if err != nil {
		t.Fatalf("%v (go test ./reports -run TestEvaluationFixture -update writes it)", err)
	}
	if !bytes.Equal(want, b.Bytes()) {
		t.Errorf("%s differs from the lab's evaluation (go test ./reports -run TestEvaluationFixture -update rewrites it)", evaluationFixture)
	}
}

// TestCountText: thousands separators for every integer type, negative
// numbers and the largest uint64 included.
func TestCountText(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{CountText(0), "0"}, {CountText(999), "999"}, {CountText(1234567), "1,234,567"},
		{CountText(-1234), "-1,234"}, {CountText(int64(-1000000)), "-1,000,000"},
		{CountText(uint64(18446744073709551615)), "18,446,744,073,709,551,615"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

package morning

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/fingerflow/fingerflow/models/inventory"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// The browser tests load the morning report from disk in headless
// Chromium (Debian's chromium, driven over the DevTools protocol) and
// use it as a reader would. They skip only when no Chromium is installed.
//
// FINGERFLOW_CHROMIUM names the browser to use (default chromium,
// chromium-browser or google-chrome on PATH). FINGERFLOW_TEST_OUT names a
// directory to keep the screenshots in (default the test's temporary
// directory, which is removed). FINGERFLOW_README_SCREENSHOT names a file
// to write the README's screenshot of the sample's report to:
//
//	FINGERFLOW_README_SCREENSHOT=$PWD/reports/screenshot.jpg go test ./reports/morning -run Browser

// hangGuard bounds how long the report of a 5,000-host night may take to
// show its inventory table: a guard against a page that never settles,
// not a measurement (the time is logged; on an idle machine about 1 s).
const hangGuard = time.Minute

func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FINGERFLOW_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on PATH (Debian: apt-get install chromium; or set FINGERFLOW_CHROMIUM): the browser test cannot run")
	return ""
}

// browser is a headless Chromium tab whose console errors, uncaught
// exceptions, error log entries and requests to anything but the page's
// own files are collected as problems.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	problems []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx}
	if err := chromedp.Listen(ctx, b.listen); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, log.Enable, cdp.Empty{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
		return err
	}))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return b
}

func (b *browser) listen(ev any) {
	var p string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			p = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		p = fmt.Sprintf("uncaught exception at line %d: %s", d.LineNumber+1, d.Text)
		if d.Exception != nil {
			p += " " + d.Exception.Description
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			p = fmt.Sprintf("log error (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	case *network.EventRequestWillBeSent:
		if u := ev.Request.URL; !strings.HasPrefix(u, "file:") && !strings.HasPrefix(u, "data:") {
			p = "request outside the page's files: " + u
		}
	}
	if p != "" {
		b.mu.Lock()
		b.problems = append(b.problems, p)
		b.mu.Unlock()
	}
}

// check fails t with the problems seen so far.
func (b *browser) check(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Error(p)
	}
	b.problems = nil
}

// do runs steps with a time limit.
func (b *browser) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression and decodes its value into T.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// open loads path and waits until the inventory table shows rows; it
// returns how long that took.
func (b *browser) open(t *testing.T, path string) time.Duration {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	b.do(t, chromedp.Navigate("file://"+filepath.ToSlash(abs)), chromedp.WaitReady(chromedp.CSS("#inventory-table tbody tr")))
	return time.Since(start)
}

// shownRows are the cells of the rows a table shows.
func shownRows(t *testing.T, b *browser, id string) [][]string {
	t.Helper()
	return eval[[][]string](t, b, `Array.from(document.querySelectorAll("#`+id+` tbody tr")).map(r => Array.from(r.cells).map(c => c.textContent))`)
}

func outDir(t *testing.T) string {
	if d := os.Getenv("FINGERFLOW_TEST_OUT"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// widths are the window widths the page is looked at in: a desktop, a
// laptop, a phone.
var widths = []int64{1400, 1000, 400}

// resize sets the window's size (and the page's viewport).
func resize(w, h int64) chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(w, h)
}

// screenshot saves the first screen (full: the whole page) as JPEG.
func (b *browser) screenshot(t *testing.T, path string, full bool) {
	t.Helper()
	var shot []byte
	b.do(t, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		var err error
		if full {
			shot, err = chromedp.FullScreenshot(80)(ctx, tg)
			return err
		}
		q := int64(85)
		r, err := cdp.Call(ctx, tg, cdppage.CaptureScreenshot, cdppage.CaptureScreenshotParams{Format: cdppage.CaptureScreenshotFormatJpeg, Quality: &q})
		shot = r.Data
		return err
	}))
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// checkWidths looks at a report at each of widths: the attention
// section is the first section and starts on the first screen, the page
// never scrolls sideways (wide tables scroll in their own box), no text of
// a chart, tile or attention line is under 10 px, chart labels stay in
// the window. It keeps screenshots of the first screen and the whole
// page, named NAME-WIDTH.
func checkWidths(t *testing.T, b *browser, rep *MorningReport, name string) {
	t.Helper()
	dirOut := outDir(t)
	for _, w := range widths {
		t.Run(fmt.Sprintf("%dpx", w), func(t *testing.T) {
			b.do(t, resize(w, 900))
			took := b.open(t, rep.Path)
			t.Logf("%s (%.2f MB) shown in %v at %d px", name, float64(rep.Bytes)/1e6, took.Round(time.Millisecond), w)
			first := eval[string](t, b, `document.querySelector("main section").id`)
			if first != "attention" {
				t.Errorf("the first section is %q, want attention", first)
			}
			top := eval[float64](t, b, `document.querySelector("#attention").getBoundingClientRect().top`)
			if top > 450 {
				t.Errorf("the attention section starts %.0f px down, not on the first screen", top)
			}
			if wide := eval[float64](t, b, `document.documentElement.scrollWidth - window.innerWidth`); wide > 0 {
				t.Errorf("the page is %.0f px wider than the window", wide)
			}
			// (The evaluation's charts are package reports' SVG, whose
			// text scales with the chart, which never gets narrower
			// than its text can be read at.)
			small := eval[[]string](t, b, `Array.from(document.querySelectorAll("figure *, .tiles *, ul.att *")).filter(e => !e.closest("svg.gonum") &&
				Array.from(e.childNodes).some(c => c.nodeType === 3 && c.textContent.trim() !== "") &&
				e.getClientRects().length > 0 && parseFloat(getComputedStyle(e).fontSize) < 10).map(e => e.textContent.slice(0, 40))`)
			if len(small) > 0 {
				t.Errorf("%d texts under 10 px: %q", len(small), small[:min(5, len(small))])
			}
			// Chart labels stay inside the window.
			out := eval[[]string](t, b, `Array.from(document.querySelectorAll(".xaxis span, .yaxis span, span.plabel, .bval, .blabel")).filter(e => {
				const r = e.getBoundingClientRect(); return r.width > 0 && (r.left < -1 || r.right > window.innerWidth + 1); }).map(e => e.textContent)`)
			if len(out) > 0 {
				t.Errorf("chart labels outside the window: %q", out[:min(5, len(out))])
			}
			b.screenshot(t, filepath.Join(dirOut, fmt.Sprintf("%s-%d.jpg", name, w)), false)
			b.screenshot(t, filepath.Join(dirOut, fmt.Sprintf("%s-%d-full.jpg", name, w)), true)
			b.check(t)
		})
	}
}

// TestBrowserNights looks at the reports of the run directories
// $FINGERFLOW_TEST_NIGHTS names (comma-separated; copies are written, the
// directories are left as they are) as TestBrowserMorningReport looks at
// the sample's: lab nights, consecutive nights, a night run twice.
func TestBrowserNights(t *testing.T) {
	dirs := os.Getenv("FINGERFLOW_TEST_NIGHTS")
	if dirs == "" {
		t.Skip("set FINGERFLOW_TEST_NIGHTS=DIR,... to look at the reports of run directories")
	}
	b := newBrowser(t)
	for _, src := range strings.Split(dirs, ",") {
		t.Run(filepath.Base(src), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), filepath.Base(src))
			must(t, os.CopyFS(dir, os.DirFS(src)))
			rep, err := WriteMorningReport(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			checkWidths(t, b, rep, filepath.Base(src))
			b.check(t)
		})
	}
}

// TestBrowserMorningReport opens the sample night's report, with alarms
// and a skipped file, at three widths: it renders without console errors
// or requests elsewhere; the attention section is the first thing on the
// first screen; no text of a chart is smaller than 10 px and the page
// never scrolls sideways (wide tables scroll in their own box); charts
// show values on hover; the inventory's filters, sort and the attention
// links' filtered views work when typed into and clicked. Screenshots of
// the first screen and the whole page at each width are kept in
// $FINGERFLOW_TEST_OUT.
func TestBrowserMorningReport(t *testing.T) {
	b := newBrowser(t)
	dir := richNight(t)
	rep, err := WriteMorningReport(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	checkWidths(t, b, rep, "morning")
	b.do(t, resize(1400, 900))
	b.open(t, rep.Path)

	// Values on hover: every bin of the traffic and downloads charts,
	// every host of the scatter, every segment of a bar.
	for _, c := range []struct{ sel, what string }{
		{"#fig-traffic rect.hov > title", "traffic bins"},
		{"#fig-downloads-time rect.hov > title", "download bins"},
		{"#fig-clusters path.dot > title", "hosts of the scatter"},
		{"#fig-coverage-sles i.seg[title]", "coverage segments"},
	} {
		if n := eval[int](t, b, `document.querySelectorAll("`+c.sel+`").length`); n == 0 {
			t.Errorf("no values on hover for the %s (%s)", c.what, c.sel)
		}
	}

	// Every host is listed; the filter keeps the rows holding every word
	// typed, whatever the case.
	f, err := os.Open(filepath.Join(dir, nightdir.InventoryFile))
	if err != nil {
		t.Fatal(err)
	}
	_, hosts, err := nightdir.ReadInventoryJSON(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	all := shownRows(t, b, "inventory-table")
	if len(all) != len(hosts) {
		t.Fatalf("inventory shows %d rows, want %d", len(all), len(hosts))
	}
	keep := func(typed string, col int) [][]string {
		var out [][]string
		for _, r := range all {
			text := strings.ToLower(strings.Join(r, "\x01"))
			if col >= 0 {
				text = strings.ToLower(r[col])
			}
			ok := true
			for _, w := range strings.Fields(strings.ToLower(typed)) {
				ok = ok && strings.Contains(text, w)
			}
			if ok {
				out = append(out, r)
			}
		}
		return out
	}
	const filter = "#inventory-table-filter"
	clear := func(sel string) chromedp.Action[chromedp.Void] {
		return chromedp.SendKeys(chromedp.CSS(sel), strings.Repeat(kb.Backspace, 30))
	}
	for _, typed := range []string{"debian", "SLES 10.77.1.2", "cat-035.bin", "no such host"} {
		b.do(t, clear(filter), chromedp.SendKeys(chromedp.CSS(filter), typed))
		got, want := shownRows(t, b, "inventory-table"), keep(typed, -1)
		if len(want) == 0 && typed != "no such host" {
			t.Fatalf("filter %q: the fixture has no such row", typed)
		}
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("filter %q: %d rows shown, want %d:\n%q", typed, len(got), len(want), got)
		}
		status := eval[string](t, b, `document.querySelector("#inventory-table .dt-count").textContent`)
		if !strings.Contains(status, fmt.Sprintf("(filtered from %d)", len(hosts))) {
			t.Errorf("filter %q: status %q", typed, status)
		}
		// A row kept for a word that only a cell's collapsed lines hold
		// shows those lines.
		w := strings.ToLower(strings.Fields(typed)[0])
		hidden := eval[[]string](t, b, `Array.from(document.querySelectorAll("#inventory-table tbody td details")).filter(d =>
			!d.open && Array.from(d.querySelectorAll("div")).some(x => x.textContent.toLowerCase().includes("`+w+`")) &&
			!d.parentElement.firstChild.textContent.toLowerCase().includes("`+w+`")).map(d => d.parentElement.parentElement.cells[0].textContent)`)
		if len(hidden) > 0 {
			t.Errorf("filter %q: rows %q hold it in closed cells only", typed, hidden)
		}
	}
	b.do(t, clear(filter))

	// A column's own filter searches that column only: "sles" in the OS
	// column keeps the sles hosts, not the unknown ones whose evidence
	// names sles; ">0" in a count column compares.
	colFilter := func(col int) string { return fmt.Sprintf("#inventory-table tr.cf th:nth-child(%d) input", col+1) }
	b.do(t, chromedp.SendKeys(chromedp.CSS(colFilter(1)), "sles"))
	got, want := shownRows(t, b, "inventory-table"), keep("sles", 1)
	if len(want) != 7 || !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("OS column filtered for sles: %d rows, want the 7 sles hosts", len(got))
	}
	if wider := keep("sles", -1); len(wider) <= len(want) {
		t.Errorf("the whole-row filter keeps %d rows for sles, the OS column %d: the test shows nothing", len(wider), len(want))
	}
	b.do(t, clear(colFilter(1)), chromedp.SendKeys(chromedp.CSS(colFilter(5)), ">0"))
	behind := shownRows(t, b, "inventory-table")
	for _, r := range behind {
		if n, err := strconv.Atoi(strings.SplitN(r[5], ":", 2)[0]); err != nil || n == 0 {
			t.Errorf("missing updates >0 shows %q", r[5])
		}
	}
	b.do(t, clear(colFilter(5)))

	// The attention list's links show the rows they are about.
	link := `#attention a[data-tag="behind"]`
	b.do(t, chromedp.Click(chromedp.CSS(link)))
	shown := shownRows(t, b, "inventory-table")
	if len(shown) != 10 || !slices.EqualFunc(shown, behind, slices.Equal) {
		t.Errorf("the link to the hosts behind on updates shows %d rows, want the 10 the column filter keeps", len(shown))
	}
	chip := eval[string](t, b, `document.querySelector("#inventory-table .dt-tag").textContent`)
	if !strings.Contains(chip, "showing: hosts behind on updates") {
		t.Errorf("tag filter chip %q", chip)
	}
	b.do(t, chromedp.Click(chromedp.CSS(`#attention a[data-tag="no-os-unresolved-connections"]`)))
	for _, r := range shownRows(t, b, "inventory-table") {
		if r[1] != "unknown" || !strings.Contains(r[3], "unresolved connections") {
			t.Errorf("unresolved connections link shows %q %q", r[1], r[3])
		}
	}
	b.do(t, chromedp.Click(chromedp.CSS("#inventory-table .dt-tag button")))
	if rows := shownRows(t, b, "inventory-table"); len(rows) != len(hosts) {
		t.Errorf("after show all: %d rows, want %d", len(rows), len(hosts))
	}

	// Sorting: a number column sorts largest first, then the other way;
	// hosts without a verdict ("—") last; a text column A to Z.
	confidence := func() []string {
		var out []string
		for _, r := range shownRows(t, b, "inventory-table") {
			out = append(out, r[2])
		}
		return out
	}
	header := func(col int) chromedp.Action[chromedp.Void] {
		return chromedp.Click(chromedp.CSS(fmt.Sprintf("#inventory-table tr.ch th:nth-child(%d) button", col)))
	}
	b.do(t, header(3))
	if got := confidence(); got[0] != ">99.9%" || got[len(got)-1] != "—" {
		t.Errorf("sorted by confidence, first click: %q, want >99.9%% first and — last", got)
	}
	b.do(t, header(3))
	if got := confidence(); got[0] != "—" || got[len(got)-1] != ">99.9%" {
		t.Errorf("sorted by confidence, second click: %q, want — first", got)
	}
	if s := eval[string](t, b, `document.querySelector("#inventory-table tr.ch th:nth-child(3)").getAttribute("aria-sort")`); s != "ascending" {
		t.Errorf("confidence header aria-sort %q, want ascending", s)
	}
	b.do(t, header(1))
	if rows := shownRows(t, b, "inventory-table"); rows[0][0] != "10.77.0.1" || rows[len(rows)-1][0] != "10.77.1.33" {
		t.Errorf("sorted by host: %s first, %s last; want 10.77.0.1 and 10.77.1.33", rows[0][0], rows[len(rows)-1][0])
	}
	b.check(t)
}

// TestBrowserNoFalseAbsence: with the night's debian hosts made
// unidentified, the page as Chromium shows it never says there is no
// debian host, and its attention section says what the unidentified
// hosts did with debian files.
func TestBrowserNoFalseAbsence(t *testing.T) {
	b := newBrowser(t)
	dir := copyNight(t)
	editInventory(t, dir, func(hosts []nightdir.Host) {
		for i := range hosts {
			if v := &hosts[i].Verdict; v.OS == "debian" {
				v.OS, v.OSVersion, v.Confidence, v.Updates = inventory.Unknown, "", 0, nil
				v.Why = inventory.WhyUnresolved
			}
		}
	})
	rep, err := WriteMorningReport(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	b.do(t, resize(1000, 900))
	b.open(t, rep.Path)
	text := eval[string](t, b, `document.body.innerText`)
	if w := falseAbsence(text, []string{"debian"}); len(w) > 0 {
		t.Errorf("the page shows %q while the debian hosts are unidentified", w)
	}
	att := eval[string](t, b, `document.querySelector("#attention").innerText`)
	if !strings.Contains(att, "debian: OS not identified: ") {
		t.Errorf("the attention section does not say what hosts without an OS did with debian files:\n%s", att)
	}
	b.check(t)
}

// TestBrowserBigNight: the report of a 5,000-host night shows its
// inventory and pages through it.
func TestBrowserBigNight(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and opens a 5,000-host report")
	}
	b := newBrowser(t)
	dir := t.TempDir()
	writeBigNight(t, dir, 5000, 100_000)
	rep, err := WriteMorningReport(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	// A first load warms the browser up; the second is what a reader
	// waits for.
	b.open(t, rep.Path)
	took := b.open(t, rep.Path)
	loaded := eval[float64](t, b, `performance.getEntriesByType("navigation")[0].loadEventEnd`)
	t.Logf("5,000-host report (%.2f MB) shown in %v (load event after %.0f ms)", float64(rep.Bytes)/1e6, took.Round(time.Millisecond), loaded)
	if took > hangGuard {
		t.Errorf("the inventory took %v to show", took)
	}
	if rows := shownRows(t, b, "inventory-table"); len(rows) != inventoryRows {
		t.Errorf("first page: %d rows, want %d", len(rows), inventoryRows)
	}
	b.do(t, chromedp.Click(chromedp.CSS("#inventory-table button.dt-next")))
	status := eval[string](t, b, `document.querySelector("#inventory-table .dt-count").textContent`)
	if want := fmt.Sprintf("%d–%d of 5000 rows, page 2 of %d", inventoryRows+1, 2*inventoryRows, 5000/inventoryRows); !strings.Contains(status, want) {
		t.Errorf("after next: %q, want %q", status, want)
	}
	b.screenshot(t, filepath.Join(outDir(t), "morning-5000-hosts.jpg"), false)
	b.check(t)
}

// TestBrowserReadmeScreenshot writes the README's screenshot of the sample
// population's report, its first screen at 1400 px, when
// FINGERFLOW_README_SCREENSHOT names a file.
func TestBrowserReadmeScreenshot(t *testing.T) {
	dest := os.Getenv("FINGERFLOW_README_SCREENSHOT")
	if dest == "" {
		t.Skip("set FINGERFLOW_README_SCREENSHOT=FILE.jpg to write the README's screenshot")
	}
	b := newBrowser(t)
	dir := copyNight(t)
	rep, err := WriteMorningReport(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	b.do(t, resize(1400, 1000))
	b.open(t, rep.Path)
	var shot []byte
	q := int64(75)
	b.do(t, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		r, err := cdp.Call(ctx, tg, cdppage.CaptureScreenshot, cdppage.CaptureScreenshotParams{
			Format: cdppage.CaptureScreenshotFormatJpeg, Quality: &q,
			Clip: &cdppage.Viewport{Width: 1400, Height: 1000, Scale: 0.75},
		})
		shot = r.Data
		return err
	}))
	if err := os.WriteFile(dest, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", dest, len(shot))
	b.check(t)
}

func ptrTo[T any](v T) *T { return &v }

package reports

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
//	FINGERFLOW_README_SCREENSHOT=$PWD/reports/screenshot.jpg go test ./reports -run Browser

// maxLoadTime is how long the report of a 5,000-host night may take to
// show its inventory table.
const maxLoadTime = 5 * time.Second

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
	b.do(t, chromedp.Navigate("file://"+filepath.ToSlash(abs)), chromedp.WaitVisible(chromedp.CSS("#inventory-table tbody tr")))
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

// TestBrowserMorningReport opens the sample night's report: it renders
// without console errors or requests elsewhere, every image loads, and
// the inventory's filter and sort work when typed into and clicked.
func TestBrowserMorningReport(t *testing.T) {
	b := newBrowser(t)
	dir := richNight(t)
	rep, err := WriteMorningReport(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	took := b.open(t, rep.Path)
	t.Logf("sample report (%.2f MB) shown in %v", float64(rep.Bytes)/1e6, took.Round(time.Millisecond))

	broken := eval[[]string](t, b, `Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt)`)
	if len(broken) > 0 {
		t.Errorf("images not shown: %q", broken)
	}
	if n := eval[int](t, b, `document.images.length`); n != len(rep.Charts)-len(rep.Empty) {
		t.Errorf("%d images, want %d", n, len(rep.Charts)-len(rep.Empty))
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
	keep := func(typed string) [][]string {
		var out [][]string
		for _, r := range all {
			text := strings.ToLower(strings.Join(r, "\x01"))
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
	clear := chromedp.SendKeys(chromedp.CSS(filter), strings.Repeat(kb.Backspace, 30))
	for _, typed := range []string{"debian", "SLES 10.77.1.2", "cat-035.bin", "no such host"} {
		b.do(t, clear, chromedp.SendKeys(chromedp.CSS(filter), typed))
		got, want := shownRows(t, b, "inventory-table"), keep(typed)
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
	}
	b.do(t, clear)
	if rows := shownRows(t, b, "inventory-table"); len(rows) != len(hosts) {
		t.Errorf("cleared filter: %d rows, want %d", len(rows), len(hosts))
	}

	// Sorting: a number column sorts largest first, then the other way;
	// a text column A to Z.
	confidence := func() []float64 {
		var out []float64
		for _, r := range shownRows(t, b, "inventory-table") {
			v, err := strconv.ParseFloat(r[3], 64)
			if err != nil {
				t.Fatalf("confidence %q: %v", r[3], err)
			}
			out = append(out, v)
		}
		return out
	}
	header := func(col int) chromedp.Action[chromedp.Void] {
		return chromedp.Click(chromedp.CSS(fmt.Sprintf("#inventory-table thead th:nth-child(%d) button", col)))
	}
	b.do(t, header(4))
	if got := confidence(); !slices.IsSortedFunc(got, func(a, b float64) int { return int(b*1e4) - int(a*1e4) }) || got[0] == got[len(got)-1] {
		t.Errorf("sorted by confidence, first click: %v, want largest first", got)
	}
	b.do(t, header(4))
	if got := confidence(); !slices.IsSorted(got) {
		t.Errorf("sorted by confidence, second click: %v, want smallest first", got)
	}
	if s := eval[string](t, b, `document.querySelector("#inventory-table thead th:nth-child(4)").getAttribute("aria-sort")`); s != "ascending" {
		t.Errorf("confidence header aria-sort %q, want ascending", s)
	}
	b.do(t, header(1))
	if rows := shownRows(t, b, "inventory-table"); rows[0][0] != "10.77.0.1" || rows[len(rows)-1][0] != "10.77.1.33" {
		t.Errorf("sorted by host: %s first, %s last; want 10.77.0.1 and 10.77.1.33", rows[0][0], rows[len(rows)-1][0])
	}
	// The record tables of alarms.json work the same way.
	b.do(t, chromedp.SendKeys(chromedp.CSS("#alarms-0-filter"), "flood"))
	if rows := shownRows(t, b, "alarms-0"); len(rows) != 1 || rows[0][0] != "flood" {
		t.Errorf("alarms filtered for flood: %q", rows)
	}
	b.check(t)

	dirOut := outDir(t)
	var shot []byte
	b.do(t, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		var err error
		shot, err = chromedp.FullScreenshot(85)(ctx, tg)
		return err
	}))
	path := filepath.Join(dirOut, "morning-report.jpg")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// TestBrowserBigNight: the report of a 5,000-host night shows its
// inventory within maxLoadTime and pages through it.
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
	if took > maxLoadTime {
		t.Errorf("the inventory took %v to show, want at most %v", took, maxLoadTime)
	}
	if rows := shownRows(t, b, "inventory-table"); len(rows) != pageRows {
		t.Errorf("first page: %d rows, want %d", len(rows), pageRows)
	}
	b.do(t, chromedp.Click(chromedp.CSS("#inventory-table button.dt-next")))
	status := eval[string](t, b, `document.querySelector("#inventory-table .dt-count").textContent`)
	if !strings.Contains(status, "51–100 of 5000 rows, page 2 of 100") {
		t.Errorf("after next: %q", status)
	}
	b.check(t)
}

// TestBrowserReadmeScreenshot writes the README's screenshot of the sample
// population's report when FINGERFLOW_README_SCREENSHOT names a file.
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
	b.open(t, rep.Path)
	var shot []byte
	q := int64(70)
	b.do(t, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		r, err := cdp.Call(ctx, tg, cdppage.CaptureScreenshot, cdppage.CaptureScreenshotParams{
			Format: cdppage.CaptureScreenshotFormatJpeg, Quality: &q, CaptureBeyondViewport: ptrTo(true),
			Clip: &cdppage.Viewport{Width: 1280, Height: 1500, Scale: 0.7},
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

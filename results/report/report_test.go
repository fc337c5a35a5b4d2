package report

import (
	"bytes"
	"flag"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/results"

	"gonum.org/v1/plot/vg"
)

var keepReport = flag.String("keep-report", "", "also write the test report into this directory, for viewing")

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	if *keepReport != "" {
		dir = *keepReport
	}
	rows := fixtureRun(t, dir)
	if err := Write(dir, rows); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	report := string(md)
	for _, want := range []string{
		"| run | 20250101T000000Z |",
		"| plan | quick |",
		"| CPU | Test CPU @ 3.0GHz |",
		"| server CPUs | 0 (GOMAXPROCS 1) |",
		"| generator CPUs | 1 |",
		"| Go | go1.26.0 |",
		"| kernel | 6.8.0 |",
		"| date (UTC) | 2025-01-01T00:00:00Z – 2025-01-01T00:30:00Z |",
		"rows | 31: 29 ok, 1 saturated, 1 failed |",
		"## http plaintext, pipeline 1, closed loop",
		"## echo echo, 64 B payload, pipeline 1, open loop at 20000 req/s",
		"At 256 connections, gnet has the highest median throughput: 168,000 req/s against 133,000 req/s for fasthttp, the next best (1.26×).",
		"At 256 connections, gnet has the lowest median p99 latency: 748 µs against 982 µs for fasthttp, the next best (0.76×).",
		"| 256 | 133,000 ±2% | 992 [961, 1,032] | 168,000 ±2% | 751 [722, 790] | 97,020 ±1% (1 failed) | 1,346 [1,291, 1,377] (1 failed) |",
		"20,001 (1 sat.)",
		"| **failed** | stdlib/http/plaintext/c256/p1 | stdlib | 256 | 3 | connect: connection refused |",
		"| **saturated** | stdlib/echo/echo/c64/p1/r20000 | stdlib | 64 | 2 | send lag p99 12ms > 1ms |",
		"(1 failed)",
		"![Throughput vs connections](plots/http-plaintext-p1-closed-rps.png)",
		"[SVG](plots/http-plaintext-p1-closed-spectrum.svg)",
		"echo-echo-p1-b64-r20000-spectrum.png",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	// The open-loop group has one rep of stdlib: the verdict must say so
	// or find no difference; it must not hide the caveat.
	if !strings.Contains(report, "At 64 connections") {
		t.Error("open-loop group has no verdict at 64 connections")
	}
	for _, l := range strings.Split(report, "\n") {
		if strings.HasPrefix(l, "- At 64 connections") && !strings.HasSuffix(l, "; a single repetition, so no spread to judge by.") {
			t.Errorf("open-loop verdict hides the single-repetition caveat: %q", l)
		}
	}

	links := regexp.MustCompile(`\]\((plots/[^)]+)\)`).FindAllStringSubmatch(report, -1)
	if len(links) != 18 { // 2 groups × 4 plots × (png + svg), and the headline's plot again
		t.Errorf("report links %d plot files, want 18", len(links))
	}
	for _, l := range links {
		checkPlotFile(t, filepath.Join(dir, l[1]))
	}
}

// checkPlotFile asserts a PNG decodes at the configured size and an SVG
// looks like SVG.
func checkPlotFile(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
		return
	}
	if len(data) == 0 {
		t.Errorf("%s is empty", path)
		return
	}
	switch filepath.Ext(path) {
	case ".png":
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return
		}
		wantW := int(math.Round(float64(PlotWidth/vg.Inch) * PlotDPI))
		wantH := int(math.Round(float64(PlotHeight/vg.Inch) * PlotDPI))
		if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
			t.Errorf("%s is %dx%d, want %dx%d", path, b.Dx(), b.Dy(), wantW, wantH)
		}
	case ".svg":
		if !bytes.HasPrefix(data, []byte("<?xml")) && !bytes.HasPrefix(data, []byte("<svg")) {
			t.Errorf("%s does not start like SVG: %q", path, data[:min(len(data), 20)])
		}
	default:
		t.Errorf("unexpected plot file %s", path)
	}
}

func TestWriteReportNoRows(t *testing.T) {
	if err := Write(t.TempDir(), nil); err == nil {
		t.Fatal("want error for no rows")
	}
}

func TestWriteReportMissingHlog(t *testing.T) {
	dir := t.TempDir()
	rows := []results.Row{
		{Cell: "a", Backend: "gnet", Proto: "http", Workload: "plaintext", Conns: 8, Pipeline: 1, Status: results.StatusOK, RPS: 10, P99Us: 100, Hlog: "missing.hlog"},
		{Cell: "b", Backend: "stdlib", Proto: "http", Workload: "plaintext", Conns: 8, Pipeline: 1, Status: results.StatusOK, RPS: 20, P99Us: 90},
	}
	if err := Write(dir, rows); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"No latency spectrum for gnet at 8 connections",
		"No latency spectrum for stdlib at 8 connections: rep 0 has no hlog.",
		"At 8 connections, stdlib has the highest median throughput: 20 req/s against 10 req/s for gnet, the next best (2.00×); a single repetition, so no spread to judge by.",
		"plots/http-plaintext-p1-closed-rps.png",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if strings.Contains(string(md), "spectrum.png") {
		t.Error("report links a spectrum without any histogram")
	}
	if strings.Contains(string(md), "-rss.png") {
		t.Error("report links an RSS plot though no RSS was recorded")
	}
	checkPlotFile(t, filepath.Join(dir, "plots", "http-plaintext-p1-closed-rps.png"))
}

func TestVerdictLine(t *testing.T) {
	tests := []struct {
		name         string
		rk           []ranked
		higherBetter bool
		want         string
	}{
		{
			name: "separated, higher better",
			rk: []ranked{
				{"a", summarize([]float64{90, 100, 110})},
				{"b", summarize([]float64{150, 160, 170})},
			},
			higherBetter: true,
			want:         "At 64 connections, b has the highest median throughput: 160 req/s against 100 req/s for a, the next best (1.60×).",
		},
		{
			name: "overlapping",
			rk: []ranked{
				{"a", summarize([]float64{90, 100, 160})},
				{"b", summarize([]float64{150, 160, 170})},
			},
			higherBetter: true,
			want:         "At 64 connections, throughput: no clear difference between b (160 req/s) and a (100 req/s); their ranges overlap.",
		},
		{
			name: "lower better",
			rk: []ranked{
				{"a", summarize([]float64{200, 210})},
				{"b", summarize([]float64{100, 105})},
				{"c", summarize([]float64{400, 410})},
			},
			higherBetter: false,
			want:         "At 64 connections, b has the lowest median throughput: 103 req/s against 205 req/s for a, the next best (0.50×).",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := verdictLine(tt.rk, 64, tt.higherBetter, "throughput", "req/s", "")
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestGroupRows(t *testing.T) {
	rows := []results.Row{
		{Backend: "z", Proto: "http", Workload: "w", Conns: 64, Pipeline: 1, Status: results.StatusOK},
		{Backend: "a", Proto: "http", Workload: "w", Conns: 8, Pipeline: 1, Status: results.StatusFailed},
		{Backend: "a", Proto: "echo", Workload: "echo", Conns: 8, Pipeline: 1, Status: results.StatusOK},
		{Backend: "a", Proto: "http", Workload: "w", Conns: 8, Pipeline: 1, Status: results.StatusOK},
		{Backend: "a", Proto: "http", Workload: "w", Conns: 8, Pipeline: 1, Status: results.StatusSaturated},
	}
	gs := groupRows(rows)
	if len(gs) != 2 || gs[0].key.proto != "echo" || gs[1].key.proto != "http" {
		t.Fatalf("groups = %+v", gs)
	}
	g := gs[1]
	if strings.Join(g.backends, ",") != "a,z" || len(g.conns) != 2 || g.conns[0] != 8 || g.conns[1] != 64 {
		t.Errorf("backends %v conns %v", g.backends, g.conns)
	}
	c := g.at("a", 8)
	if len(c.ok) != 1 || len(c.failed) != 1 || len(c.saturated) != 1 {
		t.Errorf("cell a/8 = %d ok, %d failed, %d saturated", len(c.ok), len(c.failed), len(c.saturated))
	}
	// a is ok only at 8 and z only at 64: no count has two backends, so
	// the largest count with one is judged.
	if conns, n := g.judgeConns(); conns != 64 || n != 1 {
		t.Errorf("judgeConns = %d, %d; want 64, 1", conns, n)
	}
}

func TestGroupKeySlug(t *testing.T) {
	k := groupKey{proto: "http", workload: "post/x", pipeline: 16, rate: 2500.5, payload: 1024}
	if got, want := k.Slug(), "http-post_x-p16-b1024-r2500.5"; got != want {
		t.Errorf("Slug = %q, want %q", got, want)
	}
}

// TestWriteReportNonFinite: a NaN or infinite value must neither reach a
// verdict nor break the plots; the value is left out like an unmeasured one.
func TestWriteReportNonFinite(t *testing.T) {
	dir := t.TempDir()
	var rows []results.Row
	for i, rps := range []float64{100, math.NaN(), math.Inf(1), 110} {
		rows = append(rows, results.Row{Cell: "a", Rep: i + 1, Backend: []string{"gnet", "stdlib"}[i%2], Proto: "http",
			Workload: "plaintext", Conns: 8, Pipeline: 1, Status: results.StatusOK, RPS: rps, P99Us: 100,
			RSSPeakKiB: new(int64(1000)), ReqPerServerCPUSecond: new(math.NaN())})
	}
	if err := Write(dir, rows); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if s := string(md); strings.Contains(s, "NaN") || strings.Contains(s, "Inf") {
		t.Errorf("report shows a non-finite value:\n%s", s)
	}
}

// TestFmtCellGeneratorBound: generator-bound closed-loop rows give a
// lower bound on throughput, the median of their figures; other columns
// and other saturated rows say nothing more than before.
func TestFmtCellGeneratorBound(t *testing.T) {
	bound := func(rps float64) results.Row {
		return results.Row{Status: results.StatusSaturated, Bottleneck: "generator", RPS: rps}
	}
	lagging := results.Row{Status: results.StatusSaturated, Bottleneck: "server", RPS: 5000, Rate: 10000}
	ok := func(rps float64) results.Row { return results.Row{Status: results.StatusOK, RPS: rps} }
	cell := func(rows ...results.Row) *cellRows {
		c := &cellRows{}
		for _, r := range rows {
			if r.Status == results.StatusOK {
				c.ok = append(c.ok, r)
			} else {
				c.saturated = append(c.saturated, r)
			}
		}
		return c
	}
	tests := []struct {
		name  string
		c     *cellRows
		lower func(results.Row) float64
		want  string
	}{
		{"bound only", cell(bound(90000), bound(95000), bound(92000)), getRPS, "≥ 92,000 (generator-bound)"},
		{"not a throughput column", cell(bound(90000)), nil, "saturated"},
		{"ok and bound", cell(ok(100000), ok(110000), bound(90000), bound(91000)), getRPS, "105,000 ±5% (2 generator-bound ≥ 90,500)"},
		{"bound and lagging", cell(bound(90000), lagging), getRPS, "≥ 90,000 (generator-bound) (1 sat.)"},
		{"lagging only", cell(lagging), getRPS, "saturated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmtCell(tt.c, summarize(values(tt.c.ok, getRPS)), fmtCount, tt.lower); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestWriteServers: the report lists what ran as each label's server, from
// the first row that says; rows without the columns list nothing.
func TestWriteServers(t *testing.T) {
	rows := []results.Row{
		{Backend: "threads", Label: "threads-gmp1024", ServerCommand: "server -backend threads -proto http -addr 127.0.0.1:0", ServerEnv: "GOMAXPROCS=1024", ServerSHA256: "0123456789ab"},
		{Backend: "threads", Label: "threads-gmp1024", ServerCommand: "other"},
		{Backend: "command", Label: "nginx", ServerCommand: "sh -c 'a | b'", ServerEnv: "GOMAXPROCS=1"},
		{Backend: "stdlib"},
	}
	var b bytes.Buffer
	writeServers(&b, rows)
	want := "| label | backend | server command (first cell) | environment | sha256 |\n|---|---|---|---|---|\n" +
		"| threads-gmp1024 | threads | `server -backend threads -proto http -addr 127.0.0.1:0` | GOMAXPROCS=1024 | 0123456789ab |\n" +
		"| nginx | command | `sh -c 'a \\| b'` | GOMAXPROCS=1 |  |\n\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	writeServers(&b, rows[3:])
	if b.Len() != 0 {
		t.Errorf("rows without server columns: %q", b.String())
	}
}

// writeServers writes serversTable as markdown, nothing without servers.
func writeServers(b *bytes.Buffer, rows []results.Row) {
	if t, ok := serversTable(rows); ok {
		t.markdown(b)
	}
}

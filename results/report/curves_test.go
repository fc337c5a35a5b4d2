package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/results"
)

// curveRows is a run with closed loop, three absolute open-loop rates and
// one fraction per backend, two rounds each; gnet's top rate saturated in
// both rounds, stdlib's in one; gnet's server fell behind at 40,000 req/s.
func curveRows() []results.Row {
	var rows []results.Row
	add := func(b string, rate float64, frac *float64, rep int, status results.Status, rps float64, p99 int64) {
		rows = append(rows, results.Row{
			RunID: "c", Cell: b + "/x", Rep: rep, Backend: b, Proto: "http", Workload: "plaintext", Conns: 64, Pipeline: 1,
			Rate: rate, RateFraction: frac, Status: status, RPS: rps, P50Us: p99 / 4, P90Us: p99 / 2, P99Us: p99, P999Us: 2 * p99,
			StartTime: "2026-01-01T00:00:00Z",
		})
	}
	half := 0.5
	for rep := 1; rep <= 2; rep++ {
		for _, b := range []string{"gnet", "stdlib"} {
			add(b, 0, nil, rep, results.StatusOK, 60_000, 3000)
			add(b, 10_000, nil, rep, results.StatusOK, 10_000, 200)
			add(b, 20_000, nil, rep, results.StatusOK, 20_000, 400)
			add(b, 30_000+float64(rep), &half, rep, results.StatusOK, 30_000, 500)
		}
		add("gnet", 80_000, nil, rep, results.StatusSaturated, 61_000, 90_000)
		add("gnet", 40_000, nil, rep, results.StatusOK, 30_000, 70_000) // the server fell behind
		st, rps := results.StatusOK, 79_500.0
		if rep == 2 {
			st, rps = results.StatusSaturated, 58_000
		}
		add("stdlib", 80_000, nil, rep, st, rps, 50_000)
	}
	return rows
}

func TestCurves(t *testing.T) {
	curves := buildCurves(curveRows())
	if len(curves) != 1 {
		t.Fatalf("%d curves", len(curves))
	}
	c := curves[0]
	g, s := c.points["gnet"], c.points["stdlib"]
	if len(g) != 5 || len(s) != 4 {
		t.Fatalf("points: gnet %d, stdlib %d", len(g), len(s))
	}
	// Sorted by rate, the fraction (its rate differs by round) last.
	if g[0].offered != "10,000 req/s" || g[4].offered != "50% of capacity" || g[4].okRounds != 2 {
		t.Errorf("gnet points %+v", g)
	}
	if !g[3].saturated || g[3].p99 != 90_000 || s[2].saturated || s[2].p99 != 50_000 || s[2].satRounds != 1 {
		t.Errorf("saturated points: gnet %+v stdlib %+v", g[3], s[2])
	}
	if !g[2].saturated || g[2].okRounds != 0 || g[2].satRounds != 2 || g[2].rps != 30_000 {
		t.Errorf("a server that fell behind: %+v", g[2])
	}

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "plots"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, curveRows()); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	report := string(md)
	for _, want := range []string{
		"## Latency against throughput",
		"### http plaintext, pipeline 1, 64 connections",
		"| gnet | 80,000 req/s | 61,000 | 22,500 | 90,000 | 180,000 | **not steady** (2 saturated or server behind) |",
		"| stdlib | 50% of capacity | 30,000 | 125 | 500 | 1,000 | 2 ok |",
		"plots/http-plaintext-p1-c64-curve.png",
		"## http plaintext, pipeline 1, open loop at 50% of closed-loop capacity",
		"## http plaintext, pipeline 1, closed loop\n\n" + LittleNote,
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Count(report, "Little's law") < 3 {
		t.Errorf("Little's law said %d times", strings.Count(report, "Little's law"))
	}
	for _, ext := range []string{".png", ".svg"} {
		checkPlotFile(t, filepath.Join(dir, "plots", "http-plaintext-p1-c64-curve"+ext))
	}
	// Fraction rows make no verdicts: each backend ran at its own rate.
	for _, v := range Verdicts(curveRows(), "stdlib") {
		if v.Rate > 30_000 && v.Rate < 30_003 {
			t.Errorf("verdict at a resolved fraction rate: %+v", v)
		}
	}
}

func TestSLOPlot(t *testing.T) {
	dir := t.TempDir()
	rows := curveRows()
	rate := 20_000.0
	answers := []results.SLORow{{Backend: "gnet", MaxRate: &rate}, {Backend: "stdlib"}}
	if err := WriteSLOPlot(dir, time.Millisecond, rows, answers); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".png", ".svg"} {
		checkPlotFile(t, filepath.Join(dir, "plots", SLOPlotBase+ext))
	}
}

// TestReportSLOSection: a run directory with slo.csv gets the answers and
// the plot in report.md, also when re-rendered (bench report, publish).
func TestReportSLOSection(t *testing.T) {
	dir := t.TempDir()
	rows := curveRows()
	rate, p99, low, high, lo, hi, runs, closeCall := 20_000.0, int64(870), 20_000.0, 20_400.0, int64(790), int64(1012), 3, true
	uLow, uHigh, none := 19_500.0, 21_000.0, 0.0
	answers := []results.SLORow{
		{Backend: "gnet", Workload: "plaintext", Conns: 64, TargetP99Us: 1000, MaxRate: &rate, P99AtMaxUs: &p99, BracketLow: &low, BracketHigh: &high, Steps: 9, Reason: "confirmed by a second run",
			P99LoUs: &lo, P99HiUs: &hi, Runs: &runs, Close: &closeCall, UndecidedLow: &uLow, UndecidedHigh: &uHigh},
		{Backend: "stdlib", Workload: "plaintext", Conns: 64, TargetP99Us: 1000, Steps: 13, Reason: "target p99 ≤ 1ms not met even at 100 req/s (3 errors)",
			UndecidedLow: &none, UndecidedHigh: &none},
		{Backend: "fasthttp", Workload: "plaintext", Conns: 64, TargetP99Us: 1000, Steps: 2, Reason: "from a file without the undecided columns"},
	}
	if err := results.WriteSLOFile(filepath.Join(dir, results.SLOFile), answers); err != nil {
		t.Fatal(err)
	}
	if err := WriteWith(dir, rows, Options{}); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"## Highest rate under a p99 target",
		"stayed at or under 1ms",
		"| gnet | plaintext | 64 | 20,000 | 20,000–20,400 | 19,500–21,000 | 870 | 790–1,012 | 3, close | 9 | confirmed by a second run |",
		"| stdlib | plaintext | 64 | none | – | none | – | – | – | 13 | target p99 ≤ 1ms not met even at 100 req/s (3 errors) |",
		"| fasthttp | plaintext | 64 | none | – | – | – | – | – | 2 | from a file without the undecided columns |",
		"the bracket (highest rate that met – lowest that missed) is the resolution of the answer",
		"(plots/slo-p99.png)",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	checkPlotFile(t, filepath.Join(dir, "plots", SLOPlotBase+".png"))

	// Without slo.csv there is no such section.
	other := t.TempDir()
	if err := WriteWith(other, rows, Options{}); err != nil {
		t.Fatal(err)
	}
	if md, _ := os.ReadFile(filepath.Join(other, "report.md")); strings.Contains(string(md), "p99 target") {
		t.Error("a section without slo.csv")
	}
}

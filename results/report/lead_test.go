package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/results"
)

// TestLeftOutByReason: left-out rows group by status and the text of
// their reason before the first ";", figures masked; failed lines come
// first; a cell repeated over rounds is named once.
func TestLeftOutByReason(t *testing.T) {
	rows := []results.Row{
		{Backend: "a", Proto: "http", Workload: "plaintext", Conns: 64, Rep: 1, Status: results.StatusSaturated, Reason: "generator-bound"},
		{Backend: "b", Proto: "http", Workload: "plaintext", Conns: 10000, Rep: 1, Status: results.StatusFailed, Reason: "connections failed; 9176 errors (connect=5275)"},
		{Backend: "b", Proto: "http", Workload: "plaintext", Conns: 10000, Rep: 2, Status: results.StatusFailed, Reason: "connections failed; 11640 errors"},
		{Backend: "c", Proto: "http", Workload: "plaintext", Conns: 64, Rep: 1, Status: results.StatusOK},
		{Backend: "c", Proto: "http", Workload: "plaintext", Conns: 1024, Rep: 1, Status: results.StatusSaturated, Reason: "send lag p99 12ms > 1ms"},
		{Backend: "d", Proto: "http", Workload: "plaintext", Conns: 1024, Rep: 1, Status: results.StatusSaturated, Reason: "send lag p99 30ms > 1ms"},
	}
	var got []string
	for _, l := range leftOutByReason(rows) {
		got = append(got, string(l.status)+"|"+l.reason+"|"+strings.Join(l.cells, ",")+"|"+strconv.Itoa(l.rows))
	}
	want := []string{
		"failed|connections failed|b plaintext c10000|2",
		"saturated|generator-bound|a plaintext c64|1",
		"saturated|send lag p99 … > …|c plaintext c1024,d plaintext c1024|2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	list := leftOutList(leftOutByReason(rows))
	var b bytes.Buffer
	list.markdown(&b)
	if w := "- 2 failed: connections failed (b plaintext c10000)\n"; !strings.HasPrefix(b.String(), w) {
		t.Errorf("left-out list starts %q, want %q", b.String(), w)
	}
}

// TestTableMarkdown: a table renders as a pipe table, "| | |" for a header
// without headings, right-aligned columns marked.
func TestTableMarkdown(t *testing.T) {
	var b bytes.Buffer
	table{head: []string{"", ""}, rows: [][]string{{"run", "x"}}}.markdown(&b)
	table{head: []string{"a", "n"}, right: []bool{false, true}, rows: [][]string{{"b", ""}}}.markdown(&b)
	want := "| | |\n|---|---|\n| run | x |\n\n| a | n |\n|---|---:|\n| b |  |\n\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
}

// TestReportLeads: report.md opens with the title, the answer, the
// headline table and its plot, and the left-out lines; the run's details
// follow, and the full list of left-out rows is last.
func TestReportLeads(t *testing.T) {
	dir := t.TempDir()
	rows := fixtureRun(t, dir)
	if err := Write(dir, rows); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(md)
	order := []string{
		"# asyncbench report: quick, run 20250101T000000Z\n\n",
		"rows: ",
		"On http plaintext, pipeline 1, closed loop at 256 connections, gnet served the most: 168,000 req/s.",
		"| label | rounds | req/s | 95% CI, or min–max | vs stdlib |\n",
		"| gnet | 3 | 168,000 | min–max ",
		"| stdlib | ",
		"![Throughput vs connections](plots/http-plaintext-p1-closed-rps.png)",
		"Left out (every row in the last section):",
		"- 1 failed: connect: connection refused (stdlib plaintext c256)",
		"## Run\n\n",
		"## At a glance",
		"## http plaintext, pipeline 1, closed loop",
		"## Saturated, noisy and failed rows",
	}
	at := 0
	for _, w := range order {
		i := strings.Index(s[at:], w)
		if i < 0 {
			t.Fatalf("report.md lacks %q after byte %d", w, at)
		}
		at += i + len(w)
	}
}

// TestCalibrationSentenceCountsLatency: the lead counts the latency
// calibration checks with the throughput ones, so a failed A/A p99 check
// is never hidden behind "all as expected".
func TestCalibrationSentenceCountsLatency(t *testing.T) {
	l := &lead{checks: []calCheck{{mark: calExpected}, {mark: calExpected}}, tailChecks: []string{calExpected, calNotExpected}}
	if got, want := l.calibrationSentence(), "Calibration: 3 of 4 checks as expected, **1 not as expected**."; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := (&lead{tailChecks: []string{calExpected}}).calibrationSentence(); got != "Calibration: 1 of 1 checks as expected." {
		t.Fatalf("latency checks alone: %q", got)
	}
	if got := (&lead{}).calibrationSentence(); got != "" {
		t.Fatalf("no checks: %q", got)
	}
}

// A row whose rate was a share of capacity has no verdict, even where it
// resolved to the rate of an absolute-rate configuration that has one.
func TestFindVerdictRateFraction(t *testing.T) {
	var rows []results.Row
	for rep := 1; rep <= 3; rep++ {
		for _, b := range []string{"stdlib", "gnet"} {
			rows = append(rows, results.Row{Backend: b, Rep: rep, Proto: "http", Workload: "plaintext", Conns: 64, Pipeline: 1,
				Rate: 2000, Status: results.StatusOK, RPS: 2000, P99Us: int64(100 * rep)})
		}
	}
	vs := Verdicts(rows, "stdlib")
	abs := rows[1]
	if findVerdict(vs, abs, "p99_us") == nil {
		t.Fatalf("no verdict for %+v in %+v", abs, vs)
	}
	share := abs
	share.RateFraction = new(0.5)
	if v := findVerdict(vs, share, "p99_us"); v != nil {
		t.Errorf("a row at a share of capacity found %+v", *v)
	}
}

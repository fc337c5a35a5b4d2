package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncbench/asyncbench/internal/cli"
	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/runner"
	"github.com/asyncbench/asyncbench/runner/fakechild"
)

func readSLO(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestSLOEndToEnd runs bench slo against the fake children, whose p99 is
// always 812 µs, in the summary and in the .hlog: a 1 ms target is met up
// to -max-rate, a 500 µs target never, whatever the rate. The
// confirmation runs twice -duration and is pooled with the first run.
func TestSLOEndToEnd(t *testing.T) {
	t.Setenv(fakechild.EnvFake, "1")
	out := t.TempDir()
	bin := os.Args[0]
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"slo", "-p99", "1ms", "-backends", "stdlib,gnet", "-conns", "2",
		"-start", "1000", "-max-rate", "4000", "-duration", "1s", "-warmup", "0s",
		"-out", out, "-run-id", "s1", "-server", bin, "-loadgen", bin}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	dir := filepath.Join(out, "s1")
	recs := readSLO(t, filepath.Join(dir, results.SLOFile))
	if strings.Join(recs[0], ",") != "backend,workload,conns,target_p99_us,max_rate,p99_at_max_us,bracket_low,bracket_high,steps,reason,p99_lo_us,p99_hi_us,runs,close,undecided_low,undecided_high" || len(recs) != 3 {
		t.Fatalf("slo.csv: %q", recs)
	}
	for _, r := range recs[1:] {
		// 1000, 2000, 4000 (met at the maximum), then the confirmation,
		// pooled: two runs.
		if r[4] != "4000" || r[5] != "812" || r[6] != "4000" || r[7] != "" || r[8] != "4" ||
			r[10] != "812" || r[11] != "812" || r[12] != "2" || r[13] != "false" || r[14] != "0" || r[15] != "0" ||
			r[9] != "p99 812 µs (95% interval 812–812 µs, 2 runs)" {
			t.Errorf("answer %q", r)
		}
	}
	if !strings.Contains(stderr.String(), "4000 req/s run 2 (confirmation, 2s): ok") ||
		!strings.Contains(stderr.String(), "→ pooled p99 812 µs (95% interval 812–812 µs) over 2 run(s): meets") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	rows := csvRows(t, filepath.Join(dir, "summary.csv"))
	if len(rows) != 8 || rows[3].Rate != 4000 || rows[3].Rep != 2 {
		t.Fatalf("%d rows; fourth %+v", len(rows), rows[3])
	}
	for i, r := range rows[:4] {
		if want := []float64{1, 1, 1, 2}[i]; r.DurationS != want {
			t.Errorf("row %d (%g req/s, rep %d): duration %gs, want %gs", i, r.Rate, r.Rep, r.DurationS, want)
		}
	}
	for _, ext := range []string{".png", ".svg"} {
		if _, err := os.Stat(filepath.Join(dir, "plots", "slo-p99"+ext)); err != nil {
			t.Error(err)
		}
	}
	if md, err := os.ReadFile(filepath.Join(dir, "report.md")); err != nil || !strings.Contains(string(md), "## Highest rate under a p99 target") {
		t.Errorf("report.md: %v", err)
	}
	if !strings.Contains(stdout.String(), "max rate") || !strings.Contains(stdout.String(), "95% interval") ||
		!strings.Contains(stdout.String(), "812–812") || !strings.HasSuffix(stdout.String(), dir+"\n") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	if l, err := os.Readlink(filepath.Join(out, "latest")); err != nil || l != "s1" {
		t.Errorf("latest -> %q, %v", l, err)
	}

	// Never met: the capacity probe (1000 req/s per connection) starts the
	// search at 500 req/s, which halves down to -min-rate.
	stdout.Reset()
	stderr.Reset()
	err = run(context.Background(), []string{"slo", "-p99", "500us", "-backends", "stdlib", "-conns", "1",
		"-min-rate", "100", "-duration", "1s", "-warmup", "0s",
		"-out", out, "-run-id", "s2", "-server", bin, "-loadgen", bin}, &stdout, &stderr)
	if cli.Code(err) != cli.ExitFailed {
		t.Fatalf("exit %d (%v), want %d\n%s", cli.Code(err), err, cli.ExitFailed, stderr.String())
	}
	recs = readSLO(t, filepath.Join(out, "s2", results.SLOFile))
	if len(recs) != 2 || recs[1][4] != "" || recs[1][7] != "100" || !strings.Contains(recs[1][9], "not met even at 100 req/s (p99 812 µs") ||
		recs[1][10] != "" || recs[1][12] != "" || recs[1][13] != "" {
		t.Fatalf("slo.csv: %q", recs)
	}
	if rows := csvRows(t, filepath.Join(out, "s2", "summary.csv")); len(rows) != 5 || rows[0].Rate != 0 || rows[1].Rate != 500 {
		t.Errorf("rows: %d, first rates %v %v", len(rows), rows[0].Rate, rows[1].Rate)
	}
}

func TestSLOUsage(t *testing.T) {
	for _, tc := range []struct{ args, want string }{
		{"slo", "-p99 is required"},
		{"slo -p99 1ms -start 5 -min-rate 10", "-start must lie within"},
		{"slo -p99 1ms -backends nosuch", "nosuch"},
		{"slo -p99 1ms extra", "unexpected argument"},
		{"slo -p99 1ms -confirm-duration 0s", "-confirm-duration must be positive"},
		{"slo -p99 1ms -confirm-duration -1s", "-confirm-duration must be positive"},
	} {
		var stdout bytes.Buffer
		err := run(context.Background(), strings.Fields(tc.args), &stdout, &stdout)
		if cli.Code(err) != cli.ExitUsage || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: exit %d, %v; want usage error with %q", tc.args, cli.Code(err), err, tc.want)
		}
	}
}

// TestSLOInterrupted: a search stopped by a signal exits 130 and says so
// in slo.csv.
func TestSLOInterrupted(t *testing.T) {
	t.Setenv(fakechild.EnvFake, "1")
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"slo", "-p99", "1ms", "-backends", "gnet", "-conns", "1", "-start", "1000",
		"-out", out, "-run-id", "i", "-server", os.Args[0], "-loadgen", os.Args[0]}, &stdout, &stderr)
	if cli.Code(err) != cli.ExitInterrupted {
		t.Fatalf("exit %d (%v)", cli.Code(err), err)
	}
	recs := readSLO(t, filepath.Join(out, "i", results.SLOFile))
	if len(recs) != 2 || recs[1][9] != "search stopped: interrupted" || recs[1][14] != "" || recs[1][15] != "" {
		t.Fatalf("slo.csv (no rate judged, so no undecided range): %q", recs)
	}
}

func TestSLOConfirmDuration(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{
		{[]string{"-p99", "1ms"}, 6 * time.Second},
		{[]string{"-p99", "1ms", "-duration", "2s"}, 4 * time.Second},
		{[]string{"-p99", "1ms", "-duration", "2s", "-confirm-duration", "5s"}, 5 * time.Second},
	} {
		f, err := parseSLOFlags(tc.args, io.Discard)
		if err != nil || f.confirm != tc.want {
			t.Errorf("%q: confirm %v, %v; want %v", tc.args, f.confirm, err, tc.want)
		}
	}
	s := &sloRun{cfg: runner.Config{Plan: runner.Plan{Duration: 2 * time.Second}}, confirm: 5 * time.Second}
	if d := s.config(runner.SearchStep).Plan.Duration; d != 2*time.Second {
		t.Errorf("search step measured for %v", d)
	}
	if d := s.config(runner.Confirmation).Plan.Duration; d != 5*time.Second || s.cfg.Plan.Duration != 2*time.Second {
		t.Errorf("confirmation measured for %v (search steps now %v)", d, s.cfg.Plan.Duration)
	}
}

func TestSLOStartRate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		row   results.Row
		start float64
		note  string // "" = none expected
	}{
		{"capacity", results.Row{Status: results.StatusOK, RPS: 30_001}, 15_001, ""},
		{"saturated capacity", results.Row{Status: results.StatusSaturated, RPS: 8000}, 4000, ""},
		{"clamped up", results.Row{Status: results.StatusOK, RPS: 50}, 100, ""},
		{"clamped down", results.Row{Status: results.StatusOK, RPS: 90_000}, 20_000, ""},
		{"failed with throughput", results.Row{Status: results.StatusFailed, RPS: 12_000, Reason: "3% of requests failed"}, 6000,
			"capacity probe failed (3% of requests failed) at 12000 req/s; started at 6000 req/s"},
		{"failed, half below min", results.Row{Status: results.StatusFailed, RPS: 120, Reason: "x"}, 100,
			"capacity probe failed (x) at 120 req/s; started at 100 req/s"},
		{"failed without throughput", results.Row{Status: results.StatusFailed, Reason: "loadgen did not finish in time"}, 100,
			"capacity probe failed (loadgen did not finish in time); started at -min-rate, 100 req/s"},
		{"no throughput", results.Row{Status: results.StatusOK}, 100,
			"capacity probe failed (no throughput measured); started at -min-rate, 100 req/s"},
	} {
		start, note := startRate(tc.row, 100, 20_000)
		if start != tc.start || note != tc.note {
			t.Errorf("%s: start %g, note %q; want %g, %q", tc.name, start, note, tc.start, tc.note)
		}
	}
}

// TestSLOProbeFailed: a capacity probe that fails (the fake generator
// reports 90% timeouts on /delay) still starts the search, at half the
// throughput it measured, and the answer's reason says so.
func TestSLOProbeFailed(t *testing.T) {
	t.Setenv(fakechild.EnvFake, "1")
	t.Setenv(fakechild.EnvTimeouts, "1")
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"slo", "-p99", "1ms", "-backends", "gnet", "-conns", "1",
		"-workload", "delay:100", "-min-rate", "250", "-duration", "1s", "-warmup", "0s",
		"-out", out, "-run-id", "p", "-server", os.Args[0], "-loadgen", os.Args[0]}, &stdout, &stderr)
	if cli.Code(err) != cli.ExitFailed {
		t.Fatalf("exit %d (%v), want %d\n%s", cli.Code(err), err, cli.ExitFailed, stderr.String())
	}
	recs := readSLO(t, filepath.Join(out, "p", results.SLOFile))
	if len(recs) != 2 || !strings.HasPrefix(recs[1][9], "capacity probe failed (") ||
		!strings.Contains(recs[1][9], "at 1000 req/s; started at 500 req/s; target p99 ≤ 1ms not met even at 250 req/s") {
		t.Fatalf("slo.csv: %q", recs)
	}
	// The probe, 500 and 250 req/s.
	if rows := csvRows(t, filepath.Join(out, "p", "summary.csv")); len(rows) != 3 || rows[1].Rate != 500 || rows[2].Rate != 250 {
		t.Errorf("%d rows: %+v", len(rows), rows)
	}
}

// TestStepIntervals: a run's intervals come from its .hlog; a last
// interval of a few milliseconds joins the one before it.
func TestStepIntervals(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "a.hlog"))
	if err != nil {
		t.Fatal(err)
	}
	lw := hdrhistogram.NewHistogramLogWriter(f)
	base := int64(1_700_000_000_000)
	for i, ms := range []int64{1000, 1000, 1000, 4} {
		h := hdrhistogram.New(1, 60_000_000, 3)
		_ = h.RecordValues(100*int64(i+1), 50)
		h.SetStartTimeMs(base)
		h.SetEndTimeMs(base + ms)
		base += ms
		if err := lw.OutputIntervalHistogram(h); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	ivs, err := stepIntervals(dir, results.Row{Hlog: "a.hlog"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ivs) != 3 || ivs[2].TotalCount() != 100 || ivs[2].Max() < 400 || ivs[0].TotalCount() != 50 {
		t.Fatalf("%d intervals, last %d samples", len(ivs), ivs[len(ivs)-1].TotalCount())
	}
	if _, err := stepIntervals(dir, results.Row{}); err == nil || !strings.Contains(err.Error(), "no interval log") {
		t.Errorf("no hlog: %v", err)
	}
	if _, err := stepIntervals(dir, results.Row{Hlog: "missing.hlog"}); err == nil {
		t.Error("missing hlog read")
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/internal/cli"
	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/runner"
	"github.com/asyncbench/asyncbench/runner/cpuset"
	"github.com/asyncbench/asyncbench/runner/fakechild"
)

func TestChooseCPUs(t *testing.T) {
	avail, err := cpuset.Available()
	if err != nil {
		t.Fatal(err)
	}
	s, g, warn, err := chooseCPUs("", "")
	if err != nil {
		t.Fatal(err)
	}
	if s[0] != avail[0] || (len(avail) > 1 && (g[0] != avail[1] || warn != "")) || (len(avail) == 1 && warn == "") {
		t.Fatalf("defaults %s %s %q with %s available", s, g, warn, avail)
	}
	if _, _, _, err := chooseCPUs("1023", ""); err == nil || !strings.Contains(err.Error(), "not available") {
		t.Fatalf("unavailable CPU accepted: %v", err)
	}
	if _, _, _, err := chooseCPUs("", "x"); err == nil || cli.Code(err) != cli.ExitUsage {
		t.Fatalf("bad list: %v", err)
	}
	if _, _, warn, _ := chooseCPUs(avail.String(), avail.String()); warn == "" {
		t.Fatal("no warning for shared CPUs")
	}
}

// TestRunCountsReruns runs a plan in-process on fake children whose
// second generator run is generator-bound: the cell is re-run, and the
// end of the run, the report and bench report count it.
func TestRunCountsReruns(t *testing.T) {
	planFile := filepath.Join(t.TempDir(), "p.yaml")
	plan := "name: rr\nbackends: [stdlib, gnet]\nworkloads: [plaintext]\nconnections: [2]\npipeline: [1]\nrates: [0]\nrepetitions: 1\nduration: 1s\nwarmup: 0s\nseed: 1\n"
	if err := os.WriteFile(planFile, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakechild.EnvFake, "1")
	t.Setenv(fakechild.EnvDir, t.TempDir())
	t.Setenv(fakechild.EnvGenBound, "1")
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	out := filepath.Join(t.TempDir(), "runs")
	var stdout, stderr bytes.Buffer
	args := []string{"run", "-plan", planFile, "-out", out, "-run-id", "r", "-server", os.Args[0], "-loadgen", os.Args[0]}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	dir := filepath.Join(out, "r")
	rows := csvRows(t, filepath.Join(dir, "summary.csv"))
	if len(rows) != 3 || rows[1].Status != results.StatusSaturated || rows[2].Attempt != 2 || rows[2].Status != results.StatusOK || rows[2].Cell != rows[1].Cell {
		t.Fatalf("rows %+v", rows)
	}
	for _, want := range []string{
		"re-run 1: ",
		"done: 3 cells, 0 failed; 1 of them re-runs of noisy or generator-bound cells, 1 ok\n",
		"verdicts: 0 decided, 0 no clear difference, 4 too few rounds; throughput intervals narrower than 20%: 0 of 0 (closed loop: 0 of 0)\n",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Fatalf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil || !strings.Contains(string(md), "| re-runs | 1 of noisy or generator-bound cells, at the end of their round; 1 came out ok") {
		t.Fatalf("report.md: %v\n%s", err, md)
	}
	stderr.Reset()
	if err := run(context.Background(), []string{"report", dir}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stderr.String(), "verdicts: 0 decided") {
		t.Fatalf("bench report stderr: %q", stderr.String())
	}
}

// TestRunAdaptiveRounds: with max_repetitions above repetitions, bench run
// adds rounds one at a time while verdicts lack rounds, and stops at the
// maximum; the run's plan.yaml says how many rounds there were.
func TestRunAdaptiveRounds(t *testing.T) {
	planFile := filepath.Join(t.TempDir(), "p.yaml")
	plan := "name: ad\nbackends: [stdlib, gnet]\nworkloads: [plaintext]\nconnections: [2]\npipeline: [1]\nrates: [0]\nrepetitions: 2\nmax_repetitions: 4\nretries: 0\nduration: 1s\nwarmup: 0s\nseed: 1\n"
	if err := os.WriteFile(planFile, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakechild.EnvFake, "1")
	t.Setenv(fakechild.EnvDir, t.TempDir())
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	out := filepath.Join(t.TempDir(), "runs")
	var stdout, stderr bytes.Buffer
	args := []string{"run", "-plan", planFile, "-out", out, "-run-id", "r", "-server", os.Args[0], "-loadgen", os.Args[0]}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	dir := filepath.Join(out, "r")
	rows := csvRows(t, filepath.Join(dir, "summary.csv"))
	reps := map[int]int{}
	for _, r := range rows {
		reps[r.Rep]++
	}
	if len(rows) != 8 || reps[1] != 2 || reps[4] != 2 {
		t.Fatalf("%d rows, rounds %v: want 2 cells × 4 rounds", len(rows), reps)
	}
	for _, want := range []string{"round 3 of at most 4: ", "round 4 of at most 4: ", "too few rounds"} {
		if !strings.Contains(stderr.String(), want) {
			t.Fatalf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if p, err := os.ReadFile(filepath.Join(dir, "plan.yaml")); err != nil || !strings.Contains(string(p), "repetitions: 4\n") {
		t.Fatalf("plan.yaml: %v\n%s", err, p)
	}
	// Settled early: six identical rounds decide every verdict (the fake
	// servers are equal), so no seventh runs.
	plan = strings.Replace(strings.Replace(plan, "repetitions: 2\n", "repetitions: 6\n", 1), "max_repetitions: 4", "max_repetitions: 9", 1)
	if err := os.WriteFile(planFile, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	args[len(args)-5] = "r2" // -run-id
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if rows := csvRows(t, filepath.Join(out, "r2", "summary.csv")); len(rows) != 12 || strings.Contains(stderr.String(), "round 7") {
		t.Fatalf("%d rows, want 12 (6 rounds); stderr:\n%s", len(rows), stderr.String())
	}
}

// TestWarnPartial: a probe that sees only its own PID namespace is said
// once, with what to do; one that sees the host is not.
func TestWarnPartial(t *testing.T) {
	var b bytes.Buffer
	if p := warnPartial(&runner.HostProbe{}, &b); p == nil || b.Len() != 0 {
		t.Fatalf("host view: %q", b.String())
	}
	p := &runner.HostProbe{Partial: true}
	if got := warnPartial(p, &b); got != p || strings.Count(b.String(), "\n") != 1 ||
		!strings.HasPrefix(b.String(), "warning: /proc lists only this PID namespace's processes") || !strings.Contains(b.String(), "--pid=host") {
		t.Fatalf("partial view: %q", b.String())
	}
}

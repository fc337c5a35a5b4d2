package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/internal/cli"
	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/runner"
	"github.com/asyncbench/asyncbench/runner/costs"
	"github.com/asyncbench/asyncbench/runner/fakechild"
)

func TestMain(m *testing.M) {
	costs.ChildMain()
	fakechild.Main()
	os.Exit(m.Run())
}

// buildBench compiles cmd/bench into a temporary directory.
func buildBench(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	bin := filepath.Join(t.TempDir(), "bench")
	out, err := exec.Command(goBin, "build", "-o", bin, "github.com/asyncbench/asyncbench/cmd/bench").CombinedOutput()
	if err != nil {
		t.Fatalf("build bench: %v\n%s", err, out)
	}
	return bin
}

func csvRows(t *testing.T, path string) []results.Row {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := results.ReadCSV(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestInterruptAndResume runs bench as a subprocess, interrupts it with
// SIGINT during its second cell, checks that it exits promptly with 130
// and leaves no process behind, then resumes the run to completion.
func TestInterruptAndResume(t *testing.T) {
	bench := buildBench(t)
	planFile := filepath.Join(t.TempDir(), "p.yaml")
	plan := "name: sig\nbackends: [stdlib, gnet]\nworkloads: [plaintext]\nconnections: [1, 2]\npipeline: [1]\nrates: [0]\nrepetitions: 1\nduration: 1s\nwarmup: 0s\n"
	if err := os.WriteFile(planFile, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "runs")
	dir := filepath.Join(out, "r1")
	pids := t.TempDir()
	t.Setenv(fakechild.EnvFake, "1")
	t.Setenv(fakechild.EnvDir, pids)
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	fakes := []string{"-server", os.Args[0], "-loadgen", os.Args[0]}

	cmd := exec.Command(bench, append([]string{"run", "-plan", planFile, "-out", out, "-run-id", "r1"}, fakes...)...)
	cmd.Env = append(os.Environ(), fakechild.EnvSlowAfter+"=1", fakechild.EnvStubborn+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	csvPath := filepath.Join(dir, "summary.csv")
	// Into the second cell: its generator (the second fake loadgen, slow)
	// has written its pid file. Cells run one after the other, so the
	// first cell's row is written by then.
	deadline := time.Now().Add(2 * time.Minute) // a hang, not a speed limit
	for {
		if m, _ := filepath.Glob(filepath.Join(pids, "loadgen-*.pid")); len(m) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no second cell in 2 minutes; stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute): // a hang, not a speed limit
		_ = cmd.Process.Kill()
		t.Fatalf("bench still running 2 minutes after SIGINT; stderr:\n%s", stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit = %v, want status 130; stderr:\n%s", err, stderr.String())
	}
	t.Logf("exited %v after SIGINT", time.Since(sent).Round(time.Millisecond))
	if err := fakechild.WaitGone(pids, time.Minute); err != nil { // a leak, not a speed limit
		t.Fatal(err)
	}
	// The plan had no seed: bench picked one and wrote it into plan.yaml.
	written, err := runner.LoadPlan(filepath.Join(dir, "plan.yaml"))
	if err != nil || written.Seed == 0 {
		t.Fatalf("plan.yaml: seed %d, %v", written.Seed, err)
	}
	order, _ := written.Expand()
	rows := csvRows(t, csvPath)
	if len(rows) != 1 || rows[0].Status != results.StatusOK || rows[0].Cell != order[0].Key() {
		t.Fatalf("rows after interrupt: %+v, want first %s", rows, order[0].Key())
	}
	if _, err := os.Stat(filepath.Join(dir, "report.md")); err != nil {
		t.Fatalf("no report after interrupt: %v", err)
	}
	if !strings.Contains(stderr.String(), "bench run -resume "+dir) {
		t.Fatalf("no resume hint; stderr:\n%s", stderr.String())
	}

	// Resume: the three remaining cells, no duplicates.
	res := exec.Command(bench, append([]string{"run", "-resume", dir}, fakes...)...)
	if b, err := res.CombinedOutput(); err != nil {
		t.Fatalf("resume: %v\n%s", err, b)
	}
	rows = csvRows(t, csvPath)
	seen := map[string]bool{}
	for _, r := range rows {
		id := fmt.Sprintf("%s#%d", r.Cell, r.Rep)
		if seen[id] || r.Status != results.StatusOK || r.RunID != "r1" {
			t.Fatalf("row %s: duplicate %v, status %s, run %s", id, seen[id], r.Status, r.RunID)
		}
		seen[id] = true
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows after resume, want 4", len(rows))
	}
	for i, r := range rows { // the resumed run kept the seed's order
		if r.Cell != order[i].Key() {
			t.Fatalf("row %d is %s, want %s (order of seed %d)", i, r.Cell, order[i].Key(), written.Seed)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "verdicts.csv")); err != nil {
		t.Fatal(err)
	}
	if l, _ := os.Readlink(filepath.Join(out, "latest")); l != "r1" {
		t.Fatalf("latest → %q", l)
	}

	// The other subcommands on the finished run.
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"report", dir}, &stdout, &stdout); err != nil {
		t.Fatal(err)
	}
	gb := t.TempDir()
	if err := run(context.Background(), []string{"compare", "-gobench", "-out", gb, dir, dir}, &stdout, &stdout); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"old.txt", "new.txt"} {
		if _, err := os.Stat(filepath.Join(gb, f)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "gobench.txt")); err == nil {
		t.Fatal("compare -gobench wrote into the input directory")
	}
	// Four cells of a run one after the other are not one cell.
	merged := filepath.Join(t.TempDir(), "merged.csv")
	err = run(context.Background(), []string{"merge", "-backend", "stdlib", "-out", merged, dir}, &stdout, &stdout)
	if err == nil || cli.Code(err) == 0 || !strings.Contains(err.Error(), "not one cell") {
		t.Fatalf("merge of a whole run directory: %v", err)
	}
}

// TestRunAllFailedExitsNonZero checks that a run in which no cell could be
// measured does not end with status 0.
func TestRunAllFailedExitsNonZero(t *testing.T) {
	planFile := filepath.Join(t.TempDir(), "p.yaml")
	plan := "name: f\nbackends: [stdlib, gnet]\nworkloads: [plaintext]\nconnections: [1]\npipeline: [1]\nrates: [0]\nrepetitions: 1\nduration: 1s\nwarmup: 0s\n"
	if err := os.WriteFile(planFile, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"run", "-plan", planFile, "-out", out, "-run-id", "f1", "-server", "/bin/false", "-loadgen", "/bin/false"}, &stdout, &stderr)
	if err == nil || cli.Code(err) != cli.ExitFailed || !strings.Contains(err.Error(), "all 2 cells failed") {
		t.Fatalf("err = %v (exit %d), want all cells failed, exit %d; stderr:\n%s", err, cli.Code(err), cli.ExitFailed, stderr.String())
	}
	if rows := csvRows(t, filepath.Join(out, "f1", "summary.csv")); len(rows) != 2 || rows[0].Status != results.StatusFailed {
		t.Fatalf("rows: %+v", rows)
	}
}

func TestMainUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "missing command"},
		{[]string{"nosuch"}, 2, `unknown command "nosuch"`},
		{[]string{"run", "-bogus"}, 2, "run: flag provided but not defined: -bogus (see bench run -h)"},
		{[]string{"merge", "-out", "x", "d"}, 2, "-backend is required"},
		{[]string{"compare", "-nope", "a", "b"}, 2, "see bench compare -h"},
		{[]string{"run", "-duration", "x"}, 2, "invalid value"},
		{[]string{"run", "extra"}, 2, "unexpected argument"},
		{[]string{"run", "-resume", "d", "-plan", "quick"}, 2, "-resume takes the plan"},
		{[]string{"run", "-run-id", "a/b"}, 2, "plain directory name"},
		{[]string{"run", "-plan", "nosuch"}, 1, "no built-in plan or file"},
		{[]string{"run", "-server-cpus", "999"}, 2, "not available"},
		{[]string{"run", "-server", "/nonexistent/server"}, 1, "server binary /nonexistent/server"},
		{[]string{"report"}, 2, "one run directory"},
		{[]string{"compare", "a"}, 2, "two run directories"},
		{[]string{"merge"}, 2, "at least one INPUT"},
		{[]string{"plans", "x"}, 2, "no arguments"},
		{[]string{"run", "-quiet-wait", "-1s"}, 2, "-quiet-wait must be 0 to"},
		{[]string{"plans"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stdout)
			if code := cli.Code(err); code != tt.code {
				t.Fatalf("exit %d (%v), want %d", code, err, tt.code)
			}
			if err != nil && (!strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "bench run:")) {
				t.Fatalf("error %q, want one line containing %q", err, tt.want)
			}
		})
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"plans"}, &stdout, &stdout); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout.String(), "calibrate   112 cells") || !strings.Contains(stdout.String(), "\nquick       120 cells") {
		t.Fatalf("plans output:\n%s", stdout.String())
	}
}

// TestHelp: -h on bench and on every command prints complete usage on
// stdout and exits 0, nothing on stderr; an unknown flag is one line on
// stderr with the hint, exit 2, nothing on stdout. It covers every entry of
// commands, so a new command is checked as soon as it exists.
func TestHelp(t *testing.T) {
	var top bytes.Buffer
	for _, h := range []string{"-h", "-help", "--help", "help"} {
		top.Reset()
		var stderr bytes.Buffer
		err := run(context.Background(), []string{h}, &top, &stderr)
		if code := cli.Exit(&stderr, "bench", err); code != cli.ExitOK || stderr.Len() != 0 {
			t.Fatalf("bench %s: exit %d, stderr %q", h, code, stderr.String())
		}
	}
	if len(commands) < 8 {
		t.Fatalf("%d commands", len(commands))
	}
	for name := range commands {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(top.String(), "\n  bench "+name+" ") {
				t.Errorf("bench -h does not list %s:\n%s", name, top.String())
			}
			for _, h := range []string{"-h", "-help", "--help"} {
				var stdout, stderr bytes.Buffer
				err := run(context.Background(), []string{name, h}, &stdout, &stderr)
				if code := cli.Exit(&stderr, "bench", err); code != cli.ExitOK || stderr.Len() != 0 {
					t.Fatalf("%s %s: exit %d, stderr %q", name, h, code, stderr.String())
				}
				out := stdout.String()
				if !strings.HasPrefix(out, "Usage: bench "+name) || strings.Count(out, "Usage:") != 1 {
					t.Fatalf("%s %s: usage:\n%s", name, h, out)
				}
				if name == "run" && !strings.Contains(out, "-resume DIR") || name == "merge" && !strings.Contains(out, "-backend") ||
					name == "slo" && !strings.Contains(out, "-p99") || name == "costs" && !strings.Contains(out, "-reps") {
					t.Fatalf("flags missing from usage:\n%s", out)
				}
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{name, "-no-such-flag"}, &stdout, &stderr)
			want := "bench: " + name + ": flag provided but not defined: -no-such-flag (see bench " + name + " -h)\n"
			if code := cli.Exit(&stderr, "bench", err); code != cli.ExitUsage || stdout.Len() != 0 || stderr.String() != want {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2, stderr %q", code, stdout.String(), stderr.String(), want)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-no-such-flag"}, &stdout, &stderr)
	if code := cli.Exit(&stderr, "bench", err); code != cli.ExitUsage || stdout.Len() != 0 ||
		stderr.String() != "bench: unknown command \"-no-such-flag\" (see bench -h)\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

// TestRunRefusesLockedDir: two bench run -resume DIR at once both ran every
// missing cell; the second must stop at once, naming the holder.
func TestRunRefusesLockedDir(t *testing.T) {
	dir := t.TempDir()
	plan := "name: l\nbackends: [stdlib]\nworkloads: [plaintext]\nconnections: [1]\npipeline: [1]\nrates: [0]\nrepetitions: 1\nduration: 1s\n"
	if err := os.WriteFile(filepath.Join(dir, "plan.yaml"), []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	unlock, err := runner.LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	var stdout, stderr bytes.Buffer
	err = run(context.Background(), []string{"run", "-resume", dir, "-server", os.Args[0], "-loadgen", os.Args[0]}, &stdout, &stderr)
	if cli.Code(err) == cli.ExitOK || !strings.Contains(err.Error(), fmt.Sprintf("held by PID %d", os.Getpid())) {
		t.Fatalf("err = %v, want a refusal naming PID %d", err, os.Getpid())
	}
	if _, err := os.Stat(filepath.Join(dir, "summary.csv")); err == nil {
		t.Fatal("the second writer created summary.csv")
	}
}

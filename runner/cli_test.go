package runner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/runner/internal/fakechild"
)

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
	rows, err := results.ReadCSV(f, os.Stderr)
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
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(csvPath)
		if bytes.Count(data, []byte("\n")) >= 2 { // header and one row
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no row written in 30s; stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // into the second cell
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("bench still running 10s after SIGINT; stderr:\n%s", stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit = %v, want status 130; stderr:\n%s", err, stderr.String())
	}
	t.Logf("exited %v after SIGINT", time.Since(sent).Round(time.Millisecond))
	assertGone(t, pids)
	rows := csvRows(t, csvPath)
	if len(rows) != 1 || rows[0].Status != "ok" || rows[0].Cell != "stdlib/http/plaintext/c1/p1/r0/b0" {
		t.Fatalf("rows after interrupt: %+v", rows)
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
		id := rowID(r.Cell, r.Rep)
		if seen[id] || r.Status != "ok" || r.RunID != "r1" {
			t.Fatalf("row %s: duplicate %v, status %s, run %s", id, seen[id], r.Status, r.RunID)
		}
		seen[id] = true
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows after resume, want 4", len(rows))
	}
	if l, _ := os.Readlink(filepath.Join(out, "latest")); l != "r1" {
		t.Fatalf("latest → %q", l)
	}

	// The other subcommands on the finished run.
	var stdout bytes.Buffer
	if err := Main(context.Background(), []string{"report", dir}, &stdout, &stdout); err != nil {
		t.Fatal(err)
	}
	if err := Main(context.Background(), []string{"compare", "-gobench", dir, dir}, &stdout, &stdout); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "gobench.txt")); err != nil {
		t.Fatal(err)
	}
	merged := filepath.Join(t.TempDir(), "merged.csv")
	if err := Main(context.Background(), []string{"merge", "-out", merged, dir}, &stdout, &stdout); err != nil {
		t.Fatal(err)
	}
	m := csvRows(t, merged)
	// Four generators with 1, 2, 1 and 2 connections, 1000 requests per
	// connection each, in 1 s windows.
	if len(m) != 1 || m[0].Requests != 6000 || m[0].RPS != 6000 || m[0].Conns != 6 || m[0].GenCPUs != 1 {
		t.Fatalf("merged row: %+v", m)
	}
	if m[0].P50us < 100 || m[0].P50us > 1100 || m[0].MaxUs < m[0].P99us {
		t.Fatalf("merged percentiles: p50 %d p99 %d max %d", m[0].P50us, m[0].P99us, m[0].MaxUs)
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
	err := Main(context.Background(), []string{"run", "-plan", planFile, "-out", out, "-run-id", "f1", "-server", "/bin/false", "-loadgen", "/bin/false"}, &stdout, &stderr)
	if err == nil || ExitCode(err) != 1 || !strings.Contains(err.Error(), "all 2 cells failed") {
		t.Fatalf("err = %v (exit %d), want all cells failed, exit 1; stderr:\n%s", err, ExitCode(err), stderr.String())
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
		{nil, 2, "missing subcommand"},
		{[]string{"nosuch"}, 2, `unknown subcommand "nosuch"`},
		{[]string{"run", "-bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"run", "-duration", "x"}, 2, "invalid value"},
		{[]string{"run", "extra"}, 2, "unexpected argument"},
		{[]string{"run", "-resume", "d", "-plan", "quick"}, 2, "-resume takes the plan"},
		{[]string{"run", "-run-id", "a/b"}, 2, "plain directory name"},
		{[]string{"run", "-plan", "nosuch"}, 1, "no built-in plan or file"},
		{[]string{"run", "-server-cpus", "999"}, 2, "not available"},
		{[]string{"run", "-server", "/nonexistent/server"}, 1, "server binary /nonexistent/server"},
		{[]string{"report"}, 2, "one run directory"},
		{[]string{"compare", "a"}, 2, "two run directories"},
		{[]string{"merge"}, 2, "at least one directory"},
		{[]string{"plans", "x"}, 2, "no arguments"},
		{[]string{"-h"}, 0, ""},
		{[]string{"run", "-h"}, 0, ""},
		{[]string{"plans"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout bytes.Buffer
			err := Main(context.Background(), tt.args, &stdout, &stdout)
			if code := ExitCode(err); code != tt.code {
				t.Fatalf("exit %d (%v), want %d", code, err, tt.code)
			}
			if err != nil && (!strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n")) {
				t.Fatalf("error %q, want one line containing %q", err, tt.want)
			}
		})
	}
	var stdout bytes.Buffer
	if err := Main(context.Background(), []string{"plans"}, &stdout, &stdout); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout.String(), "full ") || !strings.Contains(stdout.String(), "\nquick      45 cells") {
		t.Fatalf("plans output:\n%s", stdout.String())
	}
}

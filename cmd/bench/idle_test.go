package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/runner/fakechild"
)

// TestRunIdlePlan runs a plan of idle cells end to end through bench run
// with the fake children: every row is ok though nothing completed in its
// window, carries the kernel columns, and the report fits memory per
// connection over the two connection counts.
func TestRunIdlePlan(t *testing.T) {
	planFile := filepath.Join(t.TempDir(), "idle.yaml")
	plan := "name: idle\nbackends: [stdlib, gnet]\nworkloads: [idle]\nconnections: [64, 128]\n" +
		"pipeline: [1]\nrates: [0]\nrepetitions: 1\nduration: 1s\nwarmup: 0s\ndial_rate: 10000\n"
	if err := os.WriteFile(planFile, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	dir := filepath.Join(out, "i1")
	t.Setenv(fakechild.EnvFake, "1")
	t.Setenv(fakechild.EnvDir, t.TempDir())
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	var stdout, stderr bytes.Buffer
	args := []string{"run", "-plan", planFile, "-out", out, "-run-id", "i1", "-server", os.Args[0], "-loadgen", os.Args[0]}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	rows := csvRows(t, filepath.Join(dir, "summary.csv"))
	if len(rows) != 4 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows {
		if r.Status != results.StatusOK || r.Workload != "idle" || r.Requests != 0 {
			t.Errorf("row %s: %s %q, workload %s, requests %d", r.Cell, r.Status, r.Reason, r.Workload, r.Requests)
		}
		if r.RSSPerConnBytes == nil || *r.RSSPerConnBytes != 10240 || r.VmPTEKiB == nil || r.SocketKiB == nil ||
			r.KernelPerConnBytes == nil || r.TotalPerConnBytes == nil || *r.TotalPerConnBytes != 10240+*r.KernelPerConnBytes {
			t.Errorf("row %s idle columns: %+v", r.Cell, r)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	// fakechild.IdleSummary: 10 KiB RSS and 1/4 KiB page tables per
	// connection, threads 5 → 7 at any count, sockets (1/8 + 5) KiB ÷ 2.
	for _, want := range []string{
		"## Memory per idle connection",
		"| gnet | 2 | 64–128 | 10,240 | 2,880 | 13,120 | 256 | 0 | 2,624 |",
		"Not measured at two or more connection counts: threads.",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
}

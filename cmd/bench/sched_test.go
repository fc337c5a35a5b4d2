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

// TestRunMixEndpointsResume runs a plan with a delay and a mix cell whose
// requests time out (the fake generator exits with its failed status),
// checks that both give failed rows with numbers and that the mix's
// endpoint rows are kept; a resume retries them, and endpoints.csv then
// holds the retry's rows only.
func TestRunMixEndpointsResume(t *testing.T) {
	planFile := filepath.Join(t.TempDir(), "p.yaml")
	plan := "name: mixed\nbackends: [gnet]\nworkloads: [plaintext, 'delay:1000', 'mix:/delay?us=1000:1,/plaintext:9']\n" +
		"connections: [2]\npipeline: [1]\nrates: [0]\nrepetitions: 1\nduration: 1s\nwarmup: 0s\ndial_rate: 5000\n"
	if err := os.WriteFile(planFile, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	dir := filepath.Join(out, "m1")
	t.Setenv(fakechild.EnvFake, "1")
	t.Setenv(fakechild.EnvDir, t.TempDir())
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	fakes := []string{"-server", os.Args[0], "-loadgen", os.Args[0]}
	t.Setenv(fakechild.EnvTimeouts, "1")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), append([]string{"run", "-plan", planFile, "-out", out, "-run-id", "m1"}, fakes...), &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	// The plan has no seed, so bench shuffles the cells: find rows by workload.
	byWorkload := map[string]results.Row{}
	for _, r := range csvRows(t, filepath.Join(dir, "summary.csv")) {
		byWorkload[r.Workload] = r
	}
	if len(byWorkload) != 3 || byWorkload["plaintext"].Status != results.StatusOK {
		t.Fatalf("rows %+v", byWorkload)
	}
	for _, w := range []string{"delay", "mix"} {
		r := byWorkload[w]
		if r.Status != results.StatusFailed || r.RPS == 0 || r.Errors == 0 {
			t.Fatalf("slow cell %s: status %s rps %v errors %d", r.Cell, r.Status, r.RPS, r.Errors)
		}
	}
	mix := byWorkload["mix"]
	if mix.Mix != "/delay?us=1000:1,/plaintext:9" || mix.Seed == nil || *mix.Seed != 1 {
		t.Fatalf("mix row %+v", mix)
	}
	eps := readEndpoints(t, dir)
	if len(eps) != 2 || eps[0].Cell != mix.Cell || eps[1].Path != "/plaintext" || eps[1].Weight != 9 {
		t.Fatalf("endpoints %+v", eps)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if !strings.Contains(string(md), "## Threads, goroutines or an event loop") || !strings.Contains(string(md), "(**90% err, 1/1 failed**)") {
		t.Fatalf("report:\n%s", md)
	}

	// Resume without timeouts: the two failed cells run again.
	t.Setenv(fakechild.EnvTimeouts, "0")
	stdout.Reset()
	stderr.Reset()
	if err := run(context.Background(), append([]string{"run", "-resume", dir}, fakes...), &stdout, &stderr); err != nil {
		t.Fatalf("resume: %v\n%s", err, stderr.String())
	}
	eps = readEndpoints(t, dir)
	if len(eps) != 2 || eps[0].Errors != 0 || eps[0].Requests+eps[1].Requests != 2000 {
		t.Fatalf("endpoints after resume %+v", eps)
	}
	rows := csvRows(t, filepath.Join(dir, "summary.csv"))
	if len(rows) != 5 || rows[3].Status != results.StatusOK || rows[4].Status != results.StatusOK {
		t.Fatalf("rows after resume %+v", rows)
	}
}

func readEndpoints(t *testing.T, dir string) []results.EndpointRow {
	t.Helper()
	eps, err := results.ReadEndpointsFile(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return eps
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/internal/cli"
)

// TestCosts runs bench costs at a tiny size: the measuring children are
// this test binary re-executed (TestMain plays them). With -json it prints
// one JSON object with the keys scripts read, and -out writes the same
// object; with -threadcost (built here when a C compiler exists) the C
// thread figures are among them, and perf's when perf is installed.
// Without, the table: with no threadcost beside the test binary and no
// perf on PATH, their rows say why and stderr says so.
func TestCosts(t *testing.T) {
	out := filepath.Join(t.TempDir(), "costs.json")
	args := []string{"costs", "-json", "-reps", "1", "-tasks", "8", "-out", out}
	threadCost := ""
	if cc, err := exec.LookPath("cc"); err == nil {
		threadCost = filepath.Join(t.TempDir(), "threadcost")
		if b, err := exec.Command(cc, "-O2", "-pthread", "-o", threadCost, "../../runner/costs/threadcost/threadcost.c").CombinedOutput(); err != nil {
			t.Fatalf("cc: %v\n%s", err, b)
		}
		args = append(args, "-threadcost", threadCost)
	} else {
		t.Log("no C compiler (cc): the C thread figures are not checked")
	}
	_, perfErr := exec.LookPath("perf")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, stderr.String())
	}
	if n := strings.Count(strings.TrimSpace(stdout.String()), "\n"); n != 0 {
		t.Fatalf("-json printed %d lines, want one object:\n%s", n+1, stdout.String())
	}
	var sum struct {
		CreateUs map[string]float64 `json:"create_us"`
		SwitchUs map[string]float64 `json:"switch_us"`
		MemBytes map[string]float64 `json:"task_memory_bytes"`
		Report   struct {
			CPUModel string `json:"cpu_model"`
			Kernel   string `json:"kernel"`
			Options  struct {
				Reps, Tasks int
			} `json:"options"`
		} `json:"report"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	for _, m := range []map[string]float64{sum.CreateUs, sum.SwitchUs, sum.MemBytes} {
		for _, k := range []string{"goroutine", "thread"} {
			if _, ok := m[k]; !ok {
				t.Errorf("summary lacks %q in %v", k, m)
			}
		}
		if _, ok := m["thread_no_runtime"]; (threadCost != "") != ok {
			t.Errorf("thread_no_runtime present %v with threadcost %q: %v", ok, threadCost, m)
		}
	}
	if threadCost != "" && !(sum.CreateUs["thread_no_runtime"] > 0 && sum.SwitchUs["thread_no_runtime_pinned"] > 0) {
		t.Errorf("C thread figures not positive: %v, %v", sum.CreateUs, sum.SwitchUs)
	}
	if v, ok := sum.SwitchUs["perf_sched_pipe"]; ok != (perfErr == nil) || (ok && !(v > 0)) {
		t.Errorf("perf_sched_pipe = %v, %v; perf on PATH: %v", v, ok, perfErr == nil)
	}
	if sum.Report.CPUModel == "" || sum.Report.Kernel == "" || sum.Report.Options.Reps != 1 || sum.Report.Options.Tasks != 8 {
		t.Errorf("report: %+v", sum.Report)
	}
	file, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if json.Unmarshal(file, &a) != nil || json.Unmarshal(stdout.Bytes(), &b) != nil || !jsonEqual(a, b) {
		t.Errorf("-out file differs from stdout:\n%s", file)
	}
	if !strings.Contains(stderr.String(), "costs: memory of idle OS threads") {
		t.Errorf("no progress on stderr: %q", stderr.String())
	}

	stdout.Reset()
	stderr.Reset()
	t.Setenv("PATH", t.TempDir())
	if err := run(context.Background(), []string{"costs", "-reps", "1", "-tasks", "8"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "What concurrency costs") || !strings.Contains(stdout.String(), "OS thread") {
		t.Errorf("table:\n%s", stdout.String())
	}
	for _, want := range []string{"OS thread in C, no runtime  17.0 µs  not built (make build needs a C compiler)",
		"-T, ½ round trip  –  perf not installed"} {
		if !strings.Contains(regexp.MustCompile(`\s{2,}`).ReplaceAllString(stdout.String(), "  "), want) {
			t.Errorf("table lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, want := range []string{"costs: C threads (no runtime): not built (make build needs a C compiler)", "costs: perf bench sched pipe: perf not installed"} {
		if strings.Count(stderr.String(), want) != 1 {
			t.Errorf("stderr does not say once %q:\n%s", want, stderr.String())
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestCostsUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"costs", "x"}, "unexpected argument"},
		{[]string{"costs", "-reps", "0"}, "-reps 0"},
		{[]string{"costs", "-tasks", "4"}, "-tasks 4: at least 8"},
		{[]string{"costs", "-tasks", "100000"}, "raise ulimit -n"},
		{[]string{"costs", "-cpu", "1023"}, "-cpu 1023: not available"},
		{[]string{"costs", "-threadcost", "/nonexistent/threadcost"}, "-threadcost: threadcost binary /nonexistent/threadcost"},
		{[]string{"costs", "-bogus"}, "see bench costs -h"},
	} {
		var stdout bytes.Buffer
		err := run(context.Background(), tt.args, &stdout, &stdout)
		if cli.Code(err) != cli.ExitUsage || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: exit %d, %v; want a one-line usage error with %q", tt.args, cli.Code(err), err, tt.want)
		}
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"costs", "-h"}, &stdout, &stdout); cli.Code(err) != 0 {
		t.Fatal(err)
	}
	for _, s := range []string{"Usage: bench costs [-json] [-reps N] [-tasks N] [-cpu N] [-out FILE]", "-json", "-reps", "-tasks", "-cpu", "-out FILE", "Exit status"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("usage lacks %q:\n%s", s, stdout.String())
		}
	}
}

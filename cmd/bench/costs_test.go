package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/internal/cli"
)

// TestCosts runs bench costs at a tiny size: the measuring children are
// this test binary re-executed (TestMain plays them). With -json it prints
// one JSON object with the keys scripts read, and -out writes the same
// object; without, the table.
func TestCosts(t *testing.T) {
	out := filepath.Join(t.TempDir(), "costs.json")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"costs", "-json", "-reps", "1", "-tasks", "8", "-out", out}, &stdout, &stderr)
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
	if err := run(context.Background(), []string{"costs", "-reps", "1", "-tasks", "8"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "What concurrency costs") || !strings.Contains(stdout.String(), "OS thread") {
		t.Errorf("table:\n%s", stdout.String())
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

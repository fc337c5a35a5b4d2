package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/internal/cli"
	"github.com/asyncbench/asyncbench/results"
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
// always 812 µs: a 1 ms target is met up to -max-rate, a 500 µs target
// never, whatever the rate.
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
	if strings.Join(recs[0], ",") != "backend,workload,conns,target_p99_us,max_rate,p99_at_max_us,bracket_low,bracket_high,steps,reason" || len(recs) != 3 {
		t.Fatalf("slo.csv: %q", recs)
	}
	for _, r := range recs[1:] {
		// 1000, 2000, 4000 (met at the maximum), then the confirmation.
		if r[4] != "4000" || r[5] != "812" || r[6] != "4000" || r[7] != "" || r[8] != "4" {
			t.Errorf("answer %q", r)
		}
	}
	if rows := csvRows(t, filepath.Join(dir, "summary.csv")); len(rows) != 8 || rows[3].Rate != 4000 || rows[3].Rep != 2 {
		t.Errorf("%d rows; fourth %+v", len(rows), rows[3])
	}
	for _, ext := range []string{".png", ".svg"} {
		if _, err := os.Stat(filepath.Join(dir, "plots", "slo-p99"+ext)); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(stdout.String(), "max rate") || !strings.HasSuffix(stdout.String(), dir+"\n") {
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
	if len(recs) != 2 || recs[1][4] != "" || recs[1][7] != "100" || !strings.Contains(recs[1][9], "not met even at 100 req/s") {
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
	if len(recs) != 2 || recs[1][9] != "search stopped: interrupted" {
		t.Fatalf("slo.csv: %q", recs)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncbench/asyncbench/internal/cli"
	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/runner"
	"github.com/asyncbench/asyncbench/runner/swarm"
)

func TestSwarmUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-replicas", "0"}, "-replicas must be at least 1, got 0"},
		{[]string{"-collect", "nfs"}, "-collect must be mount, logs or auto"},
		{[]string{"-workload", "idle"}, "an idle run measures one server's memory"},
		{[]string{"-workload", "post"}, `unknown workload "post"`},
		{[]string{"-proto", "echo"}, "-proto echo: workload plaintext is http"},
		{[]string{"-backend", "fasthttp", "-workload", "echo"}, "backend fasthttp does not serve echo"},
		{[]string{"-backend", "nope"}, "-backend:"},
		{[]string{"-duration", "0s"}, "-duration must be positive"},
		{[]string{"-run-id", "../x"}, "plain directory name"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), append([]string{"swarm"}, tt.args...), &out, &out)
			if cli.Code(err) != cli.ExitUsage || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v (exit %d), want one usage line containing %q", err, cli.Code(err), tt.want)
			}
		})
	}
}

// TestSwarmOptions: the flags become the server's and the generators'
// command lines, per generator.
func TestSwarmOptions(t *testing.T) {
	f, err := parseSwarmFlags([]string{"-backend", "gnet", "-workload", "echo", "-conns", "8", "-rate", "1000", "-replicas", "4",
		"-duration", "3s", "-addr", "10.0.0.5:9000", "-listen", "0.0.0.0:9000", "-image-repo", "reg/ab", "-image-tag", "v2",
		"-gen-constraint", "node.labels.asyncbench.role == generator", "-gen-constraint", "node.role == worker"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	o, _, err := f.options()
	if err != nil {
		t.Fatal(err)
	}
	st := o.Stack
	if st.ServerImage != "reg/ab/server:v2" || st.LoadgenImage != "reg/ab/loadgen:v2" ||
		strings.Join(st.ServerArgs, " ") != "-backend gnet -proto echo -addr 0.0.0.0:9000" || len(st.GenConstraints) != 2 {
		t.Fatalf("stack %+v", st)
	}
	if strings.Join(o.Flags, " ") != "-c 8 -P 1 -R 1000 -d 3s -warmup 1s -payload 64" || o.Target != "tcp://10.0.0.5:9000" ||
		o.Addr != "10.0.0.5:9000" || o.Replicas != 4 || o.Deadline != 5*time.Second+time.Second+3*time.Second+30*time.Second {
		t.Fatalf("options %+v", o)
	}
}

// writeReplica writes a generator's summary and interval log (latencies
// 100..199 µs) into dir/replica-slot and returns it as a swarm.Replica.
func writeReplica(t *testing.T, dir string, slot int, requests uint64, skew int64) swarm.Replica {
	t.Helper()
	d := filepath.Join(dir, "replica-"+string(rune('0'+slot)))
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	s := summary.Summary{
		Target: "http://127.0.0.1:8080/plaintext", Workload: summary.WorkloadHTTP, Conns: 4, Pipeline: 1,
		Requests: requests, DurationSeconds: 2, StartTime: "2026-12-04T22:00:01." + strings.Repeat(string(rune('0'+slot)), 3) + "Z",
		StopReason: summary.StopDuration, StartAt: "2026-12-04T22:00:00Z", StartSkewUs: &skew,
	}
	data, _ := json.Marshal(s)
	r := swarm.Replica{Slot: slot, Node: "n", Task: "t", JSON: filepath.Join(d, "gen.json"), Hlog: filepath.Join(d, "gen.hlog"), Summary: s}
	if err := os.WriteFile(r.JSON, data, 0o644); err != nil {
		t.Fatal(err)
	}
	h := hdrhistogram.New(1, 60_000_000, 3)
	for i := range requests {
		_ = h.RecordValue(int64(100 + i%100))
	}
	var b bytes.Buffer
	if err := hdrhistogram.NewHistogramLogWriter(&b).OutputIntervalHistogram(h); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.Hlog, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestWriteSwarmRun: the replicas' files merge into one summary.csv row
// whose requests are their sum, with replicas.csv and report.md beside it.
func TestWriteSwarmRun(t *testing.T) {
	dir := t.TempDir()
	reps := []swarm.Replica{writeReplica(t, dir, 1, 1200, 800), writeReplica(t, dir, 2, 3400, 1500), writeReplica(t, dir, 3, 500, -20)}
	var stderr bytes.Buffer
	if err := writeSwarmRun(dir, "sw1", "stdlib", mustWorkload(t, "plaintext"), reps, &stderr); err != nil {
		t.Fatal(err)
	}
	rows := csvRows(t, filepath.Join(dir, "summary.csv"))
	if len(rows) != 1 || rows[0].Requests != 5100 || rows[0].Conns != 12 || rows[0].RunID != "sw1" || rows[0].Plan != "swarm" {
		t.Fatalf("rows %+v", rows)
	}
	if rows[0].P50Us < 145 || rows[0].P50Us > 155 {
		t.Fatalf("merged p50 %d, want about 150", rows[0].P50Us)
	}
	data, err := os.ReadFile(filepath.Join(dir, "replicas.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[2], "2,n,t,3400,0,0.0,2026-12-04T22:00:00Z,1500,") || !strings.HasSuffix(lines[2], ",replica-2/gen.json,replica-2/gen.hlog") {
		t.Fatalf("replicas.csv:\n%s", data)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.md")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "5100 requests merged (1200 + 3400 + 500)") {
		t.Fatalf("stderr %q", stderr.String())
	}
}

func mustWorkload(t *testing.T, name string) runner.Workload {
	t.Helper()
	w, err := runner.ParseWorkload(name)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

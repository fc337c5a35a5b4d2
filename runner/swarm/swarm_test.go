package swarm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/runner"
)

// fakeTask is a generator task of the fake swarm and what it printed.
type fakeTask struct {
	state    string // complete, failed, running…
	exit     int
	requests uint64
	skewUs   int64
	stdout   string
	stderr   string
}

// fakeDocker answers the docker commands Run uses from a scripted swarm:
// the generators "run" when stack.yml is deployed, writing their files the
// way loadgen would (into the replica directories, or onto stdout).
type fakeDocker struct {
	t         *testing.T
	state     string // LocalNodeState
	nodes     int
	serverEnd string // server task state once deployed; "" = running
	gens      []fakeTask
	collect   Collect
	existing  bool   // a stack of the same name is deployed
	noImage   string // image missing on the node

	mu       sync.Mutex
	calls    []string
	deployed []string // stack files, in order
	startAt  string
}

func (f *fakeDocker) Run(_ context.Context, _ []byte, args ...string) ([]byte, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, strings.Join(args, " "))
	switch {
	case args[0] == "info":
		return fmt.Appendf(nil, `{"LocalNodeState":%q,"ControlAvailable":true,"Nodes":%d}`, f.state, f.nodes), nil, nil
	case args[0] == "image":
		if args[len(args)-1] == f.noImage {
			return nil, nil, errors.New("docker image inspect: No such image")
		}
		return nil, nil, nil
	case args[0] == "service" && args[1] == "ls":
		if f.existing {
			return []byte("abc123\n"), nil, nil
		}
		return nil, nil, nil
	case args[0] == "ps":
		return nil, nil, nil
	case args[0] == "node":
		return []byte("node-a\n"), nil, nil
	case args[0] == "stack" && args[1] == "rm":
		return nil, nil, nil
	case args[0] == "stack" && args[1] == "deploy":
		return nil, nil, f.deploy(args[len(args)-2])
	case args[0] == "service" && args[1] == "ps":
		return []byte(strings.Join(f.taskIDs(args[len(args)-1]), "\n")), nil, nil
	case args[0] == "inspect":
		return f.inspect(args[3:]), nil, nil
	case args[0] == "service" && args[1] == "logs":
		id := args[len(args)-1]
		if id == "srv" {
			return nil, []byte("server: unknown backend \"nope\"\n"), nil
		}
		g := f.gens[slotOf(id)-1]
		return []byte(g.stdout), []byte(g.stderr), nil
	}
	f.t.Errorf("unexpected docker %q", args)
	return nil, nil, errors.New("unexpected")
}

func slotOf(id string) int {
	var n int
	fmt.Sscanf(id, "gen%d", &n)
	return n
}

func (f *fakeDocker) taskIDs(service string) []string {
	if strings.HasSuffix(service, "_server") {
		return []string{"srv"}
	}
	if len(f.deployed) < 2 {
		return nil
	}
	var ids []string
	for i := range f.gens {
		ids = append(ids, fmt.Sprintf("gen%d", i+1))
	}
	return ids
}

func (f *fakeDocker) inspect(ids []string) []byte {
	var ts []map[string]any
	for _, id := range ids {
		state, exit, slot := "running", 0, 1
		if id == "srv" {
			if f.serverEnd != "" {
				state, exit = f.serverEnd, 2
			}
		} else {
			slot = slotOf(id)
			state, exit = f.gens[slot-1].state, f.gens[slot-1].exit
		}
		ts = append(ts, map[string]any{"ID": id, "Slot": slot, "NodeID": "n1",
			"Status": map[string]any{"State": state, "ContainerStatus": map[string]any{"ExitCode": exit}}})
	}
	b, _ := json.Marshal(ts)
	return b
}

// deploy records a stack file; stack.yml starts the generators.
func (f *fakeDocker) deploy(path string) error {
	f.deployed = append(f.deployed, filepath.Base(path))
	if filepath.Base(path) != "stack.yml" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var st stackFile
	if err := yamlUnmarshal(data, &st); err != nil {
		return err
	}
	cmd := st.Services["loadgen"].Command
	f.startAt = cmd[slices.Index(cmd, "-start-at")+1]
	for i := range f.gens {
		g := &f.gens[i]
		if g.state != "complete" {
			continue
		}
		s, hlog := f.genOutput(g)
		if f.collect == CollectLogs {
			g.stdout = hlog + s + "\n"
			continue
		}
		dir := filepath.Join(st.Services["loadgen"].Volumes[0].Source, "..", fmt.Sprintf("replica-%d", i+1))
		if err := os.WriteFile(filepath.Join(dir, "gen.json"), []byte(s), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "gen.hlog"), []byte(hlog), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// genOutput is a generator's summary and interval log: requests
// latencies of 100..199 µs.
func (f *fakeDocker) genOutput(g *fakeTask) (string, string) {
	start := time.Now().UTC().Format(time.RFC3339Nano)
	s := summary.Summary{
		Target: "http://127.0.0.1:8080/plaintext", Workload: summary.WorkloadHTTP, Conns: 4, Pipeline: 1,
		Requests: g.requests, DurationSeconds: 2, RPS: float64(g.requests) / 2, StartTime: start,
		StopReason: summary.StopDuration, StartAt: f.startAt, StartSkewUs: &g.skewUs,
	}
	b, _ := json.Marshal(s)
	h := hdrhistogram.New(1, 60_000_000, 3)
	for i := range g.requests {
		_ = h.RecordValue(int64(100 + i%100))
	}
	var hl bytes.Buffer
	w := hdrhistogram.NewHistogramLogWriter(&hl)
	_ = w.OutputLogFormatVersion()
	_ = w.OutputLegend()
	_ = w.OutputIntervalHistogram(h)
	return string(b), hl.String()
}

func (f *fakeDocker) called(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.ContainsFunc(f.calls, func(c string) bool { return strings.HasPrefix(c, prefix) })
}

func okGens(reqs ...uint64) []fakeTask {
	var gs []fakeTask
	for _, r := range reqs {
		gs = append(gs, fakeTask{state: "complete", requests: r, skewUs: 1200})
	}
	return gs
}

func options(t *testing.T, d *fakeDocker) Options {
	return Options{
		Name: "ab", Replicas: len(d.gens),
		Stack:  Stack{ServerImage: "asyncbench/server:t", LoadgenImage: "asyncbench/loadgen:t", ServerArgs: []string{"-backend", "stdlib"}},
		Flags:  []string{"-c", "4", "-d", "2s"},
		Target: "http://127.0.0.1:8080/plaintext", Addr: "127.0.0.1:8080",
		RunDir: t.TempDir(), Collect: CollectAuto,
		ListenTimeout: time.Second, StartDelay: time.Second, Deadline: 2 * time.Second, MaxSkew: 500 * time.Millisecond,
		Docker: d, Dial: func(context.Context, string) error { return nil }, Poll: time.Millisecond,
	}
}

// TestRunMerge: three replicas collected from their bind mounts merge
// into one row whose requests are their sum and whose histogram holds
// every request.
func TestRunMerge(t *testing.T) {
	for _, c := range []struct {
		collect Collect
		nodes   int
	}{{CollectMount, 1}, {CollectLogs, 3}} {
		t.Run(string(c.collect), func(t *testing.T) {
			d := &fakeDocker{t: t, state: "active", nodes: c.nodes, gens: okGens(1000, 2500, 4000), collect: c.collect}
			o := options(t, d)
			reps, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.deployed, []string{"stack-server.yml", "stack.yml"}) || !d.called("stack rm") {
				t.Fatalf("deployed %v, calls %q", d.deployed, d.calls)
			}
			if len(reps) != 3 || reps[1].Slot != 2 || reps[1].Node != "node-a" || reps[2].Summary.Requests != 4000 {
				t.Fatalf("replicas %+v", reps)
			}
			var paths []string
			for _, r := range reps {
				paths = append(paths, r.JSON)
				if _, err := os.Stat(r.Hlog); err != nil {
					t.Fatal(err)
				}
			}
			gens, err := runner.FindGenerators(paths)
			if err != nil {
				t.Fatal(err)
			}
			row, err := runner.MergeRow(gens, runner.MergeMeta{RunID: "x", Backend: "stdlib"})
			if err != nil {
				t.Fatal(err)
			}
			if row.Requests != 7500 || row.Conns != 12 || row.RPS != 3750 {
				t.Fatalf("merged requests %d conns %d rps %v; want 7500, 12, 3750", row.Requests, row.Conns, row.RPS)
			}
			// Latencies 100..199 µs evenly: the merged p50 is about 150.
			if row.P50Us < 145 || row.P50Us > 155 || row.MaxUs < 199 || row.MaxUs > 200 {
				t.Fatalf("merged p50 %d max %d", row.P50Us, row.MaxUs)
			}
		})
	}
}

// TestRunReplicaFails: a generator that exits 1 fails the run with one
// line naming its slot, node and last log line; the stack is removed.
func TestRunReplicaFails(t *testing.T) {
	d := &fakeDocker{t: t, state: "active", nodes: 1, gens: okGens(1000, 0, 1000)}
	d.gens[1] = fakeTask{state: "failed", exit: 1, stdout: "Running 2s test @ http://127.0.0.1:8080/plaintext\n",
		stderr: "loadgen: warning: x\nloadgen: dial tcp 127.0.0.1:8080: connect: connection refused\n"}
	_, err := Run(context.Background(), options(t, d))
	var re *ReplicaError
	if !errors.As(err, &re) || re.Slot != 2 || re.Others != 0 {
		t.Fatalf("err %v", err)
	}
	want := "swarm: replica 2 of 3 exited 1 on node node-a; last log line: loadgen: dial tcp 127.0.0.1:8080: connect: connection refused"
	if err.Error() != want || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error\n got %q\nwant %q", err, want)
	}
	if !d.called("stack rm") {
		t.Fatal("stack not removed after a failure")
	}
}

// TestRunDeadline: generators still running at the deadline fail the run
// naming the first and counting the others.
func TestRunDeadline(t *testing.T) {
	d := &fakeDocker{t: t, state: "active", nodes: 1, gens: okGens(1, 1, 1)}
	for i := range d.gens {
		d.gens[i].state = "running"
		d.gens[i].stdout = "Running 2s test @ http://127.0.0.1:8080/plaintext\n  4 connections\n"
	}
	o := options(t, d)
	o.Deadline = 20 * time.Millisecond
	_, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "replica 1 of 3 did not finish within the deadline 20ms (running) on node node-a; last log line: 4 connections (and 2 more replicas)") {
		t.Fatalf("err %v", err)
	}
}

// TestRunInactive: without a swarm, Run says how to start one and touches
// nothing.
func TestRunInactive(t *testing.T) {
	d := &fakeDocker{t: t, state: "inactive", gens: okGens(1)}
	_, err := Run(context.Background(), options(t, d))
	if !errors.Is(err, ErrInactive) || !strings.Contains(err.Error(), "docker swarm init --advertise-addr 127.0.0.1") {
		t.Fatalf("err %v", err)
	}
	if d.called("stack") {
		t.Fatalf("calls %q", d.calls)
	}
}

// TestPreflight: a missing image or a stack of the same name refuses the
// run before anything is deployed.
func TestPreflight(t *testing.T) {
	d := &fakeDocker{t: t, state: "active", nodes: 1, gens: okGens(1), noImage: "asyncbench/loadgen:t"}
	_, err := Run(context.Background(), options(t, d))
	if err == nil || err.Error() != "swarm: image asyncbench/loadgen:t is not on this node; build it with `make images` (IMAGE_TAG=tag for another tag)" || d.called("stack") {
		t.Fatalf("err %v, calls %q", err, d.calls)
	}
	d = &fakeDocker{t: t, state: "active", nodes: 3, gens: okGens(1), noImage: "asyncbench/loadgen:t", existing: true}
	_, err = Run(context.Background(), options(t, d))
	if err == nil || !strings.Contains(err.Error(), "stack ab is already deployed; remove it with `docker stack rm ab`") || d.called("stack") || d.called("image") {
		t.Fatalf("err %v, calls %q", err, d.calls)
	}
}

// TestRunServerNeverListens: a server that exits is reported with its
// last log line; one that runs but is not reachable, at the timeout.
func TestRunServerNeverListens(t *testing.T) {
	refused := func(context.Context, string) error { return errors.New("connection refused") }
	d := &fakeDocker{t: t, state: "active", nodes: 1, gens: okGens(1), serverEnd: "failed"}
	o := options(t, d)
	o.Dial = refused
	_, err := Run(context.Background(), o)
	if err == nil || err.Error() != `swarm: the server exited 2 before listening on 127.0.0.1:8080: server: unknown backend "nope"` {
		t.Fatalf("err %v", err)
	}
	d = &fakeDocker{t: t, state: "active", nodes: 1, gens: okGens(1)}
	o = options(t, d)
	o.Dial, o.ListenTimeout = refused, 10*time.Millisecond
	_, err = Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "did not accept connections at 127.0.0.1:8080 within 10ms") || len(d.deployed) != 1 || !d.called("stack rm") {
		t.Fatalf("err %v, deployed %v", err, d.deployed)
	}
}

// TestRunSkew: a generator that began its warm-up late fails the run.
func TestRunSkew(t *testing.T) {
	d := &fakeDocker{t: t, state: "active", nodes: 1, gens: okGens(10, 10)}
	d.gens[1].skewUs = 2_500_000
	_, err := Run(context.Background(), options(t, d))
	if err == nil || err.Error() != "swarm: replica 2 began its warm-up 2.5s after the shared start (more than -max-skew 500ms); raise -start-delay (now 1s)" {
		t.Fatalf("err %v", err)
	}
}

func TestSplitLog(t *testing.T) {
	raw := "#[Histogram log format version 1.3]\n\"StartTimestamp\",\"Interval_Length\"\n0.000,1.000,0.1,HISTFAAA\nTag=a,0.000,1.000,0.1,HISTFAAB\nloadgen: warning: slow\n{\"requests\":3}\n"
	l := SplitLog(raw)
	if l.Summary != `{"requests":3}` || strings.Count(l.Hlog, "\n") != 4 || !slices.Equal(l.Other, []string{"loadgen: warning: slow"}) {
		t.Fatalf("%+v", l)
	}
	if got := LastMessage(raw, ""); got != "loadgen: warning: slow" {
		t.Fatalf("last message %q", got)
	}
	if got := LastMessage(raw, "loadgen: run failed: x\n\n"); got != "loadgen: run failed: x" {
		t.Fatalf("last message %q", got)
	}
	if got := LastMessage("", ""); got != "no output" {
		t.Fatalf("last message %q", got)
	}
}

func TestLoadgenFlags(t *testing.T) {
	w, _ := runner.ParseWorkload("echo")
	got, err := LoadgenFlags(w, 8, 2, 500, 64, 3*time.Second, time.Second)
	if err != nil || strings.Join(got, " ") != "-c 8 -P 2 -R 500 -d 3s -warmup 1s -payload 64" || Target(w, "h:1") != "tcp://h:1" {
		t.Fatalf("%q %v", got, err)
	}
	w, _ = runner.ParseWorkload("mix:/plaintext:9,/cpu?us=10:1")
	if got, _ := LoadgenFlags(w, 1, 1, 0, 0, time.Second, 0); strings.Join(got, " ") != "-c 1 -P 1 -d 1s -warmup 0s -mix /plaintext:9,/cpu?us=10:1 -seed 1" || Target(w, "h:1") != "http://h:1/plaintext" {
		t.Fatalf("%q", got)
	}
	w, _ = runner.ParseWorkload("idle")
	if _, err := LoadgenFlags(w, 1, 1, 0, 0, time.Second, 0); err == nil {
		t.Fatal("idle workload accepted")
	}
}

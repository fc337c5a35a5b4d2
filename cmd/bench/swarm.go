package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/internal/cli"
	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/results/report"
	"github.com/asyncbench/asyncbench/runner"
	"github.com/asyncbench/asyncbench/runner/swarm"
)

const swarmDoc = `Swarm measures one cell with N load generators as Docker Swarm services:
the server as one service, the generators as a one-shot service of
-replicas tasks on the host network. It deploys the server, waits until
-addr accepts a TCP connection, deploys the generators with a shared start
(-start-at) -start-delay ahead, waits for every generator to end within
-deadline, collects each one's JSON summary and interval log into
replica-<slot>/ of a new run directory, merges them exactly (histograms
added, as bench merge does) into the one row of summary.csv, writes
replicas.csv and report.md, and removes the stack. It prints the run
directory on stdout.

-conns, -rate and the window apply per generator: 3 replicas at -rate 1000
offer 3000 requests/s in total.

Results reach the run directory by a bind mount of replica-<slot>/ (-collect
mount: one node, or a filesystem shared by every node at the same path) or
by the generators' output read back with docker service logs (-collect
logs: any number of nodes). The default picks mount on a one-node swarm and
logs on more. The images (make images) must be on every node that runs a task.

A generator that fails, or is still running at the deadline, fails the run
with one line naming its replica and its last log line; its files are kept.
Ctrl-C removes the stack and exits 130.

Exit status: 0 done, 1 failed, 2 bad command line, 130 interrupted.
`

// swarmFlags are the flags of bench swarm.
type swarmFlags struct {
	backend, proto, workload       string
	conns, pipeline, payload, reps int
	rate                           float64
	duration, warmup               time.Duration
	startDelay, deadline           time.Duration
	listenTimeout, maxSkew         time.Duration
	addr, listen                   string
	stack, imageRepo, imageTag     string
	collect                        string
	out, runID                     string
	serverCons, genCons            stringList
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

func cmdSwarm(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseSwarmFlags(args, stdout)
	if err != nil {
		return err
	}
	o, w, err := f.options()
	if err != nil {
		return err
	}
	o.Docker = swarm.CLI{}
	// Before the run directory exists: no swarm, no images, nothing written.
	if _, err := swarm.Preflight(ctx, o); err != nil {
		return err
	}
	dir, runID, err := runner.NewRunDir(f.out, f.runID, time.Now())
	if err != nil {
		return err
	}
	unlock, err := runner.LockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	o.RunDir, o.Log = dir, stderr
	reps, err := swarm.Run(ctx, o)
	if err != nil {
		err = fmt.Errorf("%w (files in %s)", err, dir)
		if ctx.Err() != nil {
			return &cli.ExitError{Code: cli.ExitInterrupted, Err: err}
		}
		return err
	}
	if err := writeSwarmRun(dir, runID, f.backend, w, reps, stderr); err != nil {
		return err
	}
	fmt.Fprintln(stdout, dir)
	return nil
}

func parseSwarmFlags(args []string, stdout io.Writer) (swarmFlags, error) {
	var f swarmFlags
	fs := newFlagSet("swarm", "[flags]", swarmDoc)
	fs.StringVar(&f.backend, "backend", "stdlib", "backend the server runs")
	fs.StringVar(&f.proto, "proto", "", "http or echo (default: the workload's)")
	fs.StringVar(&f.workload, "workload", "plaintext", "workload, as in a plan: plaintext, echo-http, echo, churn, delay:N, cpu:N, mix:SPEC")
	fs.IntVar(&f.reps, "replicas", 3, "generator tasks")
	fs.IntVar(&f.conns, "conns", 16, "connections per generator")
	fs.IntVar(&f.pipeline, "pipeline", 1, "requests outstanding per connection (closed loop)")
	fs.Float64Var(&f.rate, "rate", 0, "open loop: requests/s per generator (0 = closed loop)")
	fs.IntVar(&f.payload, "payload", 64, "echo message or echo-http body size, bytes")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "measured window")
	fs.DurationVar(&f.warmup, "warmup", time.Second, "warm-up before the window")
	fs.DurationVar(&f.startDelay, "start-delay", 5*time.Second, "from deploying the generators to their shared start: time for every task to be scheduled, started and connected")
	fs.DurationVar(&f.deadline, "deadline", 0, "for every generator to end, from their deploy (default: start delay + warm-up + duration + 30s)")
	fs.DurationVar(&f.listenTimeout, "listen-timeout", 30*time.Second, "for the server to accept a connection at -addr")
	fs.DurationVar(&f.maxSkew, "max-skew", 500*time.Millisecond, "latest a generator may begin its warm-up after the shared start")
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "`HOST:PORT` the generators drive and this host dials to see the server listening (on several nodes: the server node's address)")
	fs.StringVar(&f.listen, "listen", "", "server -addr (default: -addr; on several nodes e.g. 0.0.0.0:8080)")
	fs.StringVar(&f.stack, "stack", "asyncbench", "stack name")
	fs.StringVar(&f.imageRepo, "image-repo", "asyncbench", "images are `REPO`/server:TAG and REPO/loadgen:TAG")
	fs.StringVar(&f.imageTag, "image-tag", "latest", "image tag")
	fs.StringVar(&f.collect, "collect", "auto", "how results come back: mount, logs or auto (mount on one node, logs on more)")
	fs.StringVar(&f.out, "out", filepath.Join("results", "runs"), "the run goes in `DIR`/<run-id>; DIR/latest links to it")
	fs.StringVar(&f.runID, "run-id", "", "name of the run directory (default: UTC start time)")
	fs.Var(&f.serverCons, "server-constraint", "placement constraint of the server, e.g. 'node.labels.asyncbench.role == server' (repeatable)")
	fs.Var(&f.genCons, "gen-constraint", "placement constraint of the generators, e.g. 'node.labels.asyncbench.role == generator' (repeatable)")
	if err := parse(fs, args, stdout); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, usagef("swarm", "unexpected argument %q", fs.Arg(0))
	}
	return f, f.check()
}

// check reports values that cannot run.
func (f *swarmFlags) check() error {
	switch {
	case f.reps < 1:
		return usagef("swarm", "-replicas must be at least 1, got %d", f.reps)
	case f.conns < 1:
		return usagef("swarm", "-conns must be at least 1, got %d", f.conns)
	case f.pipeline < 1:
		return usagef("swarm", "-pipeline must be at least 1, got %d", f.pipeline)
	case f.rate < 0:
		return usagef("swarm", "-rate must not be negative")
	case f.duration <= 0:
		return usagef("swarm", "-duration must be positive")
	case f.warmup < 0:
		return usagef("swarm", "-warmup must not be negative")
	case f.startDelay <= 0 || f.listenTimeout <= 0 || f.maxSkew <= 0:
		return usagef("swarm", "-start-delay, -listen-timeout and -max-skew must be positive")
	case f.deadline < 0:
		return usagef("swarm", "-deadline must not be negative")
	case f.runID != "" && (strings.ContainsAny(f.runID, `/\`) || strings.HasPrefix(f.runID, ".") || f.runID == "latest"):
		return usagef("swarm", "-run-id %q: want a plain directory name", f.runID)
	}
	switch swarm.Collect(f.collect) {
	case swarm.CollectAuto, swarm.CollectMount, swarm.CollectLogs:
	default:
		return usagef("swarm", "-collect must be mount, logs or auto, got %q", f.collect)
	}
	return nil
}

// options turns the flags into the run's options (without its directory).
func (f *swarmFlags) options() (swarm.Options, runner.Workload, error) {
	w, err := runner.ParseWorkload(f.workload)
	if err != nil {
		return swarm.Options{}, w, usagef("swarm", "-workload: %v", err)
	}
	if f.proto != "" && f.proto != string(w.Proto) {
		return swarm.Options{}, w, usagef("swarm", "-proto %s: workload %s is %s", f.proto, f.workload, w.Proto)
	}
	b, err := backends.Lookup(f.backend)
	if err != nil {
		return swarm.Options{}, w, usagef("swarm", "-backend: %v", err)
	}
	if !b.Serves(w.Proto) {
		return swarm.Options{}, w, usagef("swarm", "backend %s does not serve %s", f.backend, w.Proto)
	}
	flags, err := swarm.LoadgenFlags(w, f.conns, f.pipeline, f.rate, f.payload, f.duration, f.warmup)
	if err != nil {
		return swarm.Options{}, w, usagef("swarm", "%v", err)
	}
	listen := f.listen
	if listen == "" {
		listen = f.addr
	}
	deadline := f.deadline
	if deadline == 0 {
		deadline = f.startDelay + f.warmup + f.duration + 30*time.Second
	}
	o := swarm.Options{
		Name: f.stack,
		Stack: swarm.Stack{
			ServerImage:       f.imageRepo + "/server:" + f.imageTag,
			LoadgenImage:      f.imageRepo + "/loadgen:" + f.imageTag,
			ServerArgs:        []string{"-backend", f.backend, "-proto", string(w.Proto), "-addr", listen},
			User:              fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()),
			ServerConstraints: f.serverCons, GenConstraints: f.genCons,
		},
		Replicas: f.reps, Flags: flags, Target: swarm.Target(w, f.addr), Addr: f.addr,
		Collect:       swarm.Collect(f.collect),
		ListenTimeout: f.listenTimeout, StartDelay: f.startDelay, Deadline: deadline, MaxSkew: f.maxSkew,
	}
	return o, w, nil
}

// writeSwarmRun merges the replicas into dir/summary.csv and writes
// dir/replicas.csv and the report.
func writeSwarmRun(dir, runID, backend string, w runner.Workload, reps []swarm.Replica, stderr io.Writer) error {
	paths := make([]string, len(reps))
	for i, r := range reps {
		paths[i] = r.JSON
	}
	gens, err := runner.FindGenerators(paths)
	if err != nil {
		return err
	}
	exe, _ := os.Executable()
	row, err := runner.MergeRow(gens, runner.MergeMeta{RunID: runID, Backend: backend, Commit: runner.DetectEnv(exe).Commit})
	if err != nil {
		return err
	}
	row.Plan = "swarm"
	if err := appendRow(filepath.Join(dir, "summary.csv"), row, io.Discard, stderr); err != nil {
		return err
	}
	if err := writeReplicas(filepath.Join(dir, "replicas.csv"), reps); err != nil {
		return err
	}
	if err := report.WriteWith(dir, []results.Row{row}, report.Options{Warn: stderr}); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Fprintf(stderr, "swarm: %d replicas, %s: %d requests merged (%s), %.0f req/s, p99 %d µs\n",
		len(reps), w.Name, row.Requests, requestSum(reps), row.RPS, row.P99Us)
	return nil
}

// requestSum writes the replicas' requests as "a + b + c".
func requestSum(reps []swarm.Replica) string {
	parts := make([]string, len(reps))
	for i, r := range reps {
		parts[i] = strconv.FormatUint(r.Summary.Requests, 10)
	}
	return strings.Join(parts, " + ")
}

// writeReplicas writes one line per replica: where it ran, what it
// measured and when its warm-up began against the shared start.
func writeReplicas(path string, reps []swarm.Replica) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(f)
	_ = cw.Write([]string{"slot", "node", "task", "requests", "errors", "rps", "start_at", "start_skew_us", "start_time", "json", "hlog"})
	for _, r := range reps {
		s := r.Summary
		skew := ""
		if s.StartSkewUs != nil {
			skew = strconv.FormatInt(*s.StartSkewUs, 10)
		}
		rel := func(p string) string {
			if q, err := filepath.Rel(filepath.Dir(path), p); err == nil {
				return q
			}
			return p
		}
		_ = cw.Write([]string{strconv.Itoa(r.Slot), r.Node, r.Task, strconv.FormatUint(s.Requests, 10), strconv.FormatUint(s.Errors, 10),
			strconv.FormatFloat(s.RPS, 'f', 1, 64), s.StartAt, skew, s.StartTime, rel(r.JSON), rel(r.Hlog)})
	}
	cw.Flush()
	return errors.Join(cw.Error(), f.Close())
}

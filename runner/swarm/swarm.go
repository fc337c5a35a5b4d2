// Package swarm runs one server and N load generators as Docker Swarm
// services: it renders the stack file, deploys the server, waits until it
// listens, deploys the generators with a shared start, waits for every
// generator task to end within a deadline, collects each one's JSON summary
// and interval log, and removes the stack. Merging the results is the
// caller's (runner.MergeRow).
package swarm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/runner"
)

// Collect says how the generators' results reach the run directory.
type Collect string

const (
	// CollectMount bind-mounts OutDir/replica-<slot> into every generator:
	// the files land where bench reads them on a single node, or on a
	// filesystem shared by every node at the same path.
	CollectMount Collect = "mount"
	// CollectLogs has the generators print the interval log and the JSON
	// summary on stdout; bench reads them back with `docker service logs`,
	// which the managers fetch from whichever node ran the task.
	CollectLogs Collect = "logs"
	// CollectAuto is mount on a one-node swarm, logs on more nodes.
	CollectAuto Collect = "auto"
)

// ErrInactive is returned when this Docker engine is not in a swarm.
var ErrInactive = errors.New("Docker Swarm is not active on this engine; enable it with `docker swarm init --advertise-addr 127.0.0.1` (one node) or join one with `docker swarm join`")

// Options is one distributed run.
type Options struct {
	Name     string // stack name; services are Name_server and Name_loadgen
	Stack    Stack  // images, server arguments, constraints; Replicas, LoadgenArgs and OutDir are filled in
	Replicas int
	Flags    []string // loadgen flags (not -start-at, outputs or target)
	Target   string   // URL the generators drive
	Addr     string   // host:port this host dials to see the server listening
	RunDir   string   // stack files, replica-<slot>/ directories
	Collect  Collect

	ListenTimeout time.Duration // for the server to accept a connection
	StartDelay    time.Duration // from deploying the generators to their shared start
	Deadline      time.Duration // for every generator to end, from their deploy
	MaxSkew       time.Duration // latest a generator may begin its warm-up after the shared start

	Docker Docker
	Dial   func(ctx context.Context, addr string) error // nil = a TCP dial
	Poll   time.Duration                                // between task checks; 0 = 500ms
	Log    io.Writer                                    // progress lines; nil = none
}

// Replica is one generator's collected output.
type Replica struct {
	Slot    int
	Node    string
	Task    string
	JSON    string // path of its summary
	Hlog    string // path of its interval log
	Summary summary.Summary
}

// Info is what `docker info` says about the swarm.
type Info struct {
	LocalNodeState   string `json:"LocalNodeState"`
	ControlAvailable bool   `json:"ControlAvailable"`
	Nodes            int    `json:"Nodes"`
}

// CheckSwarm returns the swarm this engine is in, or an error saying how
// to get into one (ErrInactive) or that this node cannot deploy.
func CheckSwarm(ctx context.Context, d Docker) (Info, error) {
	out, _, err := d.Run(ctx, nil, "info", "--format", "{{json .Swarm}}")
	if err != nil {
		return Info{}, fmt.Errorf("swarm: no Docker engine: %w", err)
	}
	var info Info
	if err := json.Unmarshal(out, &info); err != nil {
		return Info{}, fmt.Errorf("swarm: docker info: %w", err)
	}
	switch {
	case info.LocalNodeState != "active":
		return info, fmt.Errorf("swarm: %w (state %q)", ErrInactive, info.LocalNodeState)
	case !info.ControlAvailable:
		return info, errors.New("swarm: this node is a worker; run bench swarm on a manager (docker node ls lists them)")
	}
	return info, nil
}

// Preflight checks what Run needs before anything is deployed: a swarm
// this node manages (CheckSwarm), on a one-node swarm the images, and no
// stack of the same name.
func Preflight(ctx context.Context, o Options) (Info, error) {
	info, err := CheckSwarm(ctx, o.Docker)
	if err != nil {
		return info, err
	}
	if info.Nodes == 1 {
		// On one node the images must be here; on several, each node
		// needs them (a registry, or docker save | docker load).
		for _, img := range []string{o.Stack.ServerImage, o.Stack.LoadgenImage} {
			if _, _, err := o.Docker.Run(ctx, nil, "image", "inspect", "--format", "{{.Id}}", img); err != nil {
				return info, fmt.Errorf("swarm: image %s is not on this node; build it with `make images` (IMAGE_TAG=tag for another tag)", img)
			}
		}
	}
	out, _, err := o.Docker.Run(ctx, nil, "service", "ls", "-q", "--filter", "label=com.docker.stack.namespace="+o.Name)
	if err != nil {
		return info, fmt.Errorf("swarm: %w", err)
	}
	if len(bytes.TrimSpace(out)) > 0 {
		return info, fmt.Errorf("swarm: stack %s is already deployed; remove it with `docker stack rm %s` or pick another -stack", o.Name, o.Name)
	}
	return info, nil
}

// GeneratorArgs is a generator's command line: flags, the shared start,
// the outputs for collect (files in /out, or stdout) and the target.
func GeneratorArgs(flags []string, startAt time.Time, collect Collect, target string) []string {
	args := append([]string(nil), flags...)
	args = append(args, "-start-at", startAt.UTC().Format(time.RFC3339Nano))
	if collect == CollectLogs {
		args = append(args, "-json", "-hlog", "/dev/stdout")
	} else {
		args = append(args, "-json-out", "/out/gen.json", "-hlog", "/out/gen.hlog")
	}
	return append(args, target)
}

// Run deploys the stack, waits for the generators and collects their
// outputs into RunDir/replica-<slot>/. The stack is removed before Run
// returns, whatever happened.
func Run(ctx context.Context, o Options) (reps []Replica, err error) {
	o.defaults()
	info, err := Preflight(ctx, o)
	if err != nil {
		return nil, err
	}
	if o.Collect == CollectAuto || o.Collect == "" {
		o.Collect = CollectMount
		if info.Nodes > 1 {
			o.Collect = CollectLogs
		}
	}
	if err := o.prepareDirs(); err != nil {
		return nil, err
	}
	o.logf("deploying the server (stack %s, results by %s)", o.Name, o.Collect)
	defer func() {
		// The stack goes even when ctx is cancelled.
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if rerr := o.remove(rmCtx); rerr != nil && err == nil {
			err = rerr
		}
	}()
	st := o.Stack
	st.Replicas, st.LoadgenArgs = "0", GeneratorArgs(o.Flags, time.Unix(0, 0), o.Collect, o.Target)
	if err := o.deploy(ctx, st, "stack-server.yml"); err != nil {
		return nil, err
	}
	if err := o.waitListening(ctx); err != nil {
		return nil, err
	}
	startAt := time.Now().Add(o.StartDelay)
	st.Replicas, st.LoadgenArgs = strconv.Itoa(o.Replicas), GeneratorArgs(o.Flags, startAt, o.Collect, o.Target)
	o.logf("server listens at %s; deploying %d generators, shared start %s", o.Addr, o.Replicas, startAt.UTC().Format("15:04:05.000Z"))
	if err := o.deploy(ctx, st, "stack.yml"); err != nil {
		return nil, err
	}
	tasks, err := o.waitGenerators(ctx, time.Now().Add(o.Deadline))
	if err != nil {
		return nil, err
	}
	return o.collect(ctx, tasks, startAt)
}

func (o *Options) defaults() {
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.Dial == nil {
		o.Dial = func(ctx context.Context, addr string) error {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err == nil {
				c.Close()
			}
			return err
		}
	}
}

func (o *Options) logf(format string, a ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, "swarm: "+format+"\n", a...)
	}
}

// prepareDirs creates RunDir/replica-<slot> for slots 1..Replicas: a bind
// mount's source must exist, and every run keeps its files apart.
func (o *Options) prepareDirs() error {
	for slot := 1; slot <= o.Replicas; slot++ {
		if err := os.MkdirAll(o.replicaDir(slot), 0o755); err != nil {
			return fmt.Errorf("swarm: %w", err)
		}
	}
	return nil
}

func (o *Options) replicaDir(slot int) string {
	return filepath.Join(o.RunDir, "replica-"+strconv.Itoa(slot))
}

// deploy renders st into RunDir/file and deploys it as the stack.
func (o *Options) deploy(ctx context.Context, st Stack, file string) error {
	if o.Collect == CollectMount {
		abs, err := filepath.Abs(o.RunDir)
		if err != nil {
			return fmt.Errorf("swarm: %w", err)
		}
		st.OutDir = abs
	}
	var b bytes.Buffer
	if err := Render(&b, st); err != nil {
		return err
	}
	path := filepath.Join(o.RunDir, file)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("swarm: %w", err)
	}
	if _, _, err := o.Docker.Run(ctx, nil, "stack", "deploy", "--resolve-image", "never", "-c", path, o.Name); err != nil {
		return fmt.Errorf("swarm: deploy %s: %w", file, err)
	}
	return nil
}

// waitListening dials Addr until it accepts, the server's task ends or
// ListenTimeout passes.
func (o *Options) waitListening(ctx context.Context) error {
	deadline := time.Now().Add(o.ListenTimeout)
	for {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		err := o.Dial(dctx, o.Addr)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("swarm: %w", context.Cause(ctx))
		}
		if t, ok := o.endedServer(ctx); ok {
			return fmt.Errorf("swarm: the server %s before listening on %s: %s", t.Outcome(), o.Addr, o.lastMessage(ctx, t.ID))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("swarm: the server did not accept connections at %s within %v (last dial: %v); is -addr where -listen is reachable from here?", o.Addr, o.ListenTimeout, err)
		}
		if err := sleep(ctx, o.Poll); err != nil {
			return err
		}
	}
}

// endedServer returns the server's task when it has ended.
func (o *Options) endedServer(ctx context.Context) (Task, bool) {
	ts, err := o.tasks(ctx, o.Name+"_server")
	if err != nil || len(ts) == 0 {
		return Task{}, false
	}
	for _, t := range ts {
		if !t.Done() {
			return Task{}, false
		}
	}
	return ts[len(ts)-1], true
}

// tasks lists the tasks of a service.
func (o *Options) tasks(ctx context.Context, service string) ([]Task, error) {
	out, _, err := o.Docker.Run(ctx, nil, "service", "ps", "-q", "--no-trunc", service)
	if err != nil {
		return nil, fmt.Errorf("swarm: %w", err)
	}
	ids := strings.Fields(string(out))
	if len(ids) == 0 {
		return nil, nil
	}
	out, _, err = o.Docker.Run(ctx, nil, append([]string{"inspect", "--type", "task"}, ids...)...)
	if err != nil {
		return nil, fmt.Errorf("swarm: %w", err)
	}
	return ParseTasks(out)
}

// waitGenerators polls the generators' tasks until all Replicas have
// ended, and fails naming a replica that did not complete or, at the
// deadline, one still running. It also fails when the server ends first.
func (o *Options) waitGenerators(ctx context.Context, deadline time.Time) ([]Task, error) {
	for {
		ts, err := o.tasks(ctx, o.Name+"_loadgen")
		if err != nil {
			return nil, err
		}
		done := 0
		for _, t := range ts {
			if t.Done() {
				done++
			}
		}
		if len(ts) >= o.Replicas && done == len(ts) {
			return ts, o.failed(ctx, ts, false)
		}
		if time.Now().After(deadline) {
			var late []Task
			for _, t := range ts {
				if !t.Done() {
					late = append(late, t)
				}
			}
			if len(late) == 0 { // fewer tasks than replicas were ever created
				return nil, fmt.Errorf("swarm: only %d of %d generator tasks were created before the deadline %v; see `docker service ps %s_loadgen`", len(ts), o.Replicas, o.Deadline, o.Name)
			}
			return nil, o.failed(ctx, late, true)
		}
		if t, ok := o.endedServer(ctx); ok {
			return nil, fmt.Errorf("swarm: the server %s while the generators ran: %s", t.Outcome(), o.lastMessage(ctx, t.ID))
		}
		if err := sleep(ctx, o.Poll); err != nil {
			return nil, err
		}
	}
}

// failed returns a *ReplicaError for the first of ts that did not end
// with a result (all of ts when timedOut), or nil. The logs of those that
// did not are kept in their replica directories.
func (o *Options) failed(ctx context.Context, ts []Task, timedOut bool) error {
	var e *ReplicaError
	for _, t := range ts {
		if !timedOut && t.OK() {
			continue
		}
		last := o.saveLogs(ctx, t)
		if e != nil {
			e.Others++
			continue
		}
		e = &ReplicaError{
			Slot: t.Slot, Node: o.nodeName(ctx, t.NodeID), Outcome: t.Outcome(), Last: last,
			Replicas: o.Replicas,
		}
		if timedOut {
			e.Deadline = o.Deadline
		}
	}
	if e == nil {
		return nil
	}
	return e
}

// saveLogs keeps a generator's output in its replica directory and
// returns the last telling line of it (LastMessage).
func (o *Options) saveLogs(ctx context.Context, t Task) string {
	out, errOut, err := o.Docker.Run(ctx, nil, "service", "logs", "--raw", t.ID)
	if err != nil {
		return "no log: " + err.Error()
	}
	_ = writeLogs(o.replicaDir(t.Slot), CollectMount, out, errOut)
	return LastMessage(string(out), string(errOut))
}

// lastMessage is the last telling line of a task's log (LastMessage).
func (o *Options) lastMessage(ctx context.Context, task string) string {
	out, errOut, err := o.Docker.Run(ctx, nil, "service", "logs", "--raw", "--tail", "200", task)
	if err != nil {
		return "no log: " + err.Error()
	}
	return LastMessage(string(out), string(errOut))
}

// nodeName is the hostname of a node, or its ID when it cannot be read.
func (o *Options) nodeName(ctx context.Context, id string) string {
	out, _, err := o.Docker.Run(ctx, nil, "node", "inspect", "--format", "{{.Description.Hostname}}", id)
	if name := strings.TrimSpace(string(out)); err == nil && name != "" {
		return name
	}
	return id
}

// collect gathers every generator's files into RunDir/replica-<slot>/
// (gen.json, gen.hlog, log.txt), reads the summaries and checks that
// every generator began its warm-up within MaxSkew of the shared start.
func (o *Options) collect(ctx context.Context, ts []Task, startAt time.Time) ([]Replica, error) {
	var reps []Replica
	for _, t := range ts {
		dir := o.replicaDir(t.Slot)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("swarm: %w", err)
		}
		raw, errOut, err := o.Docker.Run(ctx, nil, "service", "logs", "--raw", t.ID)
		if err != nil {
			return nil, fmt.Errorf("swarm: replica %d: %w", t.Slot, err)
		}
		if err := writeLogs(dir, o.Collect, raw, errOut); err != nil {
			return nil, err
		}
		r := Replica{Slot: t.Slot, Node: o.nodeName(ctx, t.NodeID), Task: t.ID,
			JSON: filepath.Join(dir, "gen.json"), Hlog: filepath.Join(dir, "gen.hlog")}
		if o.Collect == CollectLogs {
			l := SplitLog(string(raw))
			if l.Summary == "" || l.Hlog == "" {
				return nil, fmt.Errorf("swarm: replica %d: no JSON summary or interval log in its output: %s", t.Slot, LastMessage(string(raw), string(errOut)))
			}
			if err := os.WriteFile(r.JSON, []byte(l.Summary+"\n"), 0o644); err != nil {
				return nil, fmt.Errorf("swarm: %w", err)
			}
			if err := os.WriteFile(r.Hlog, []byte(l.Hlog), 0o644); err != nil {
				return nil, fmt.Errorf("swarm: %w", err)
			}
		}
		data, err := os.ReadFile(r.JSON)
		if err != nil {
			return nil, fmt.Errorf("swarm: replica %d on node %s: %w (with -collect mount on several nodes the files stay on that node; use -collect logs or a shared filesystem)", t.Slot, r.Node, err)
		}
		if err := json.Unmarshal(data, &r.Summary); err != nil {
			return nil, fmt.Errorf("swarm: replica %d: %s: %w", t.Slot, r.JSON, err)
		}
		reps = append(reps, r)
	}
	return reps, CheckSkew(reps, startAt, o.MaxSkew, o.StartDelay)
}

// writeLogs keeps a generator's stderr as stderr.txt and, with -collect
// mount (where stdout is loadgen's text summary), its stdout as stdout.txt.
func writeLogs(dir string, c Collect, stdout, stderr []byte) error {
	err := os.WriteFile(filepath.Join(dir, "stderr.txt"), stderr, 0o644)
	if err == nil && c == CollectMount {
		err = os.WriteFile(filepath.Join(dir, "stdout.txt"), stdout, 0o644)
	}
	if err != nil {
		return fmt.Errorf("swarm: %w", err)
	}
	return nil
}

// CheckSkew fails naming the first replica whose warm-up began more than
// max after the shared start startAt, or that did not record when it began
// (a loadgen image older than start_skew_us).
func CheckSkew(reps []Replica, startAt time.Time, max, startDelay time.Duration) error {
	want := startAt.UTC().Format(time.RFC3339Nano)
	for _, r := range reps {
		s := r.Summary
		if s.StartSkewUs == nil {
			return fmt.Errorf("swarm: replica %d: its summary records no start_skew_us; rebuild the images (make images)", r.Slot)
		}
		if s.StartAt != want {
			return fmt.Errorf("swarm: replica %d started at %s, not at the shared start %s", r.Slot, s.StartAt, want)
		}
		if skew := time.Duration(*s.StartSkewUs) * time.Microsecond; skew > max {
			return fmt.Errorf("swarm: replica %d began its warm-up %v after the shared start (more than -max-skew %v); raise -start-delay (now %v)", r.Slot, skew, max, startDelay)
		}
	}
	return nil
}

// remove removes the stack and waits, up to ctx, until this node runs
// none of its containers (a server still stopping would hold its port).
func (o *Options) remove(ctx context.Context) error {
	if _, _, err := o.Docker.Run(ctx, nil, "stack", "rm", o.Name); err != nil {
		return fmt.Errorf("swarm: remove the stack: %w (remove it with `docker stack rm %s`)", err, o.Name)
	}
	for {
		out, _, err := o.Docker.Run(ctx, nil, "ps", "-aq", "--filter", "label=com.docker.stack.namespace="+o.Name)
		if err != nil || len(bytes.TrimSpace(out)) == 0 {
			return nil
		}
		if err := sleep(ctx, o.Poll); err != nil {
			return nil // removed; its containers stop on their own
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("swarm: %w", context.Cause(ctx))
	}
}

// LoadgenFlags are a generator's flags for workload w (not idle): the
// connections, depth, rate, window and payload of one cell, per generator.
func LoadgenFlags(w runner.Workload, conns, pipeline int, rate float64, payload int, duration, warmup time.Duration) ([]string, error) {
	if w.Idle {
		return nil, fmt.Errorf("workload %s: an idle run measures one server's memory from its host; it is not spread over generators", w.Name)
	}
	flags := []string{"-c", strconv.Itoa(conns), "-P", strconv.Itoa(pipeline)}
	if rate > 0 {
		flags = append(flags, "-R", strconv.FormatFloat(rate, 'f', -1, 64))
	}
	flags = append(flags, "-d", duration.String(), "-warmup", warmup.String())
	switch {
	case w.Proto == backends.ProtoEcho:
		flags = append(flags, "-payload", strconv.Itoa(payload))
	case w.UsePayload:
		flags = append(flags, "-body", strconv.Itoa(payload))
	}
	if w.Churn {
		flags = append(flags, "-churn")
	}
	if w.Mix != "" {
		flags = append(flags, "-mix", w.Mix, "-seed", "1")
	}
	return flags, nil
}

// Target is the URL of workload w at addr.
func Target(w runner.Workload, addr string) string {
	if w.Proto == backends.ProtoEcho {
		return "tcp://" + addr
	}
	return "http://" + addr + w.Path
}

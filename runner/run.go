package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/internal/rtmetrics"
	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/runner/cpuset"
)

// Defaults for Config fields left zero.
const (
	DefaultStartTimeout = 10 * time.Second
	DefaultStopGrace    = 3 * time.Second
	// cellOverhead is the time a cell takes beyond warm-up and window
	// (server start and stop, dialling), used for progress estimates.
	cellOverhead = time.Second
)

// RowWriter receives each finished row; *results.CSVWriter is one.
type RowWriter interface {
	Write(results.Row) error
}

// Config is one run of a plan.
type Config struct {
	Plan        Plan
	RunID       string
	Dir         string // run directory: per-cell .json and .hlog go here
	ServerPath  string
	LoadgenPath string
	// ServerCPUSet and GeneratorCPUSet pin the children; empty = unpinned.
	ServerCPUSet    cpuset.Set
	GeneratorCPUSet cpuset.Set
	// CPUSplits are the sets of each count of the plan's server_cpus axis
	// (SplitCPUs); a cell of the axis runs on its count's sets instead.
	CPUSplits []CPUSplit
	Env       Env
	// Skip holds cell repetitions already done (see Completed).
	Skip         map[string]bool
	StartTimeout time.Duration // for the "listening on" line; zero = DefaultStartTimeout
	StopGrace    time.Duration // SIGTERM → SIGKILL; zero = DefaultStopGrace
	Progress     Progress      // nil = silent
	// Endpoints receives the per-endpoint rows of mix cells, before the
	// cell's row goes to the RowWriter; nil = not kept.
	Endpoints EndpointWriter
	// QuietWait is how long to wait before each cell for a quiet second on
	// the pinned CPUs (see waitQuiet); 0 = do not wait.
	QuietWait time.Duration
	// Probe reads /proc/stat and /proc/PID/stat for host noise; nil = the
	// real /proc.
	Probe *HostProbe
	// Prior are the rows already in summary.csv (resume): fraction cells
	// find their round's capacity there when its cell is skipped.
	Prior []results.Row

	preflighted bool // Preflight passed
}

func (c *Config) startTimeout() time.Duration {
	if c.StartTimeout > 0 {
		return c.StartTimeout
	}
	return DefaultStartTimeout
}

func (c *Config) stopGrace() time.Duration {
	if c.StopGrace > 0 {
		return c.StopGrace
	}
	return DefaultStopGrace
}

// Validate checks that the config can run.
func (c *Config) Validate() error {
	var errs []error
	if err := c.Plan.Validate(0); err != nil {
		errs = append(errs, err)
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("no run directory"))
	}
	if c.ServerPath == "" || c.LoadgenPath == "" {
		errs = append(errs, errors.New("server and loadgen paths are required"))
	}
	if c.StartTimeout < 0 || c.StopGrace < 0 {
		errs = append(errs, errors.New("timeouts must not be negative"))
	}
	if err := c.checkSplits(); err != nil {
		errs = append(errs, err)
	}
	if c.ServerPath != "" {
		if err := c.Plan.CheckServers(c.ServerPath); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errorList(errs)
	}
	return nil
}

// ErrInterrupted is returned by Run when its context ends mid-run.
var ErrInterrupted = errors.New("interrupted")

// Outcome counts what a run did.
type Outcome struct {
	Planned int // cell repetitions in the plan
	Skipped int // already done (resume)
	Ran     int // rows written, re-runs included
	Failed  int // rows written with status failed
	Reruns  int // re-runs of noisy or generator-bound cell repetitions (retry.go)
	// RerunsOK counts the re-runs that came out ok and so replaced the
	// row they re-measured.
	RerunsOK int
}

// Run runs every cell of the plan not in cfg.Skip, round by round in plan
// order, and writes one row per measurement to w as soon as it is done;
// at the end of each round it measures again the cells of the round that
// came out noisy or generator-bound (see retry.go). Nothing runs unless
// cfg passes Preflight (every server found, every command meeting the
// contract). A failing cell gives a failed row and the run goes on. When
// ctx ends, the current cell's children are stopped, the cell is not
// recorded (a resumed run repeats it) and Run returns ErrInterrupted.
func Run(ctx context.Context, cfg Config, w RowWriter) (Outcome, error) {
	if err := cfg.Validate(); err != nil {
		return Outcome{}, fmt.Errorf("run: %w", err)
	}
	if !cfg.preflighted {
		if err := cfg.Preflight(ctx); err != nil {
			return Outcome{}, fmt.Errorf("run: %w", err)
		}
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = DefaultStopGrace
	}
	if cfg.Probe == nil {
		cfg.Probe = NewHostProbe()
	}
	prog := cfg.Progress
	if prog == nil {
		prog = nopProgress{}
	}
	cells, _ := cfg.Plan.Expand()
	out := Outcome{Planned: len(cells)}
	var todo []Cell
	for _, c := range cells {
		if cfg.Skip[rowID(c.Key(), c.Rep)] {
			out.Skipped++
			continue
		}
		todo = append(todo, c)
	}
	var planned time.Duration
	for _, c := range todo {
		planned += cfg.Plan.CellTime() + cfg.Plan.dialTime(c.Conns)
	}
	prog.Start(len(todo), planned)
	defer prog.Finish()
	r := &runner{cfg: &cfg, w: w, prog: prog, out: &out, total: len(todo),
		caps: newCapacities(cfg.Prior), attempts: priorAttempts(cfg.Prior), boundAgain: map[string]bool{}}
	for len(todo) > 0 {
		n := 1
		for n < len(todo) && todo[n].Rep == todo[0].Rep {
			n++
		}
		if err := r.round(ctx, todo[:n]); err != nil {
			return out, err
		}
		todo = todo[n:]
	}
	return out, nil
}

// runner is the state of one Run across its rounds.
type runner struct {
	cfg   *Config
	w     RowWriter
	prog  Progress
	out   *Outcome
	caps  capacities
	done  int // measurements started
	total int // measurements planned so far: the cells, then each re-run as it is queued
	// attempts counts the rows of each cell repetition (rowID) written so
	// far, those of a resumed run's summary.csv included.
	attempts map[string]int
	// boundAgain holds the cells (keys) whose re-run was generator-bound
	// again: the generator's CPU, not chance, limits them, so their
	// generator-bound rows are not measured again (see wantRerun).
	boundAgain map[string]bool
}

// measure runs cell c as its next attempt, after waiting up to wait for a
// quiet second when that is longer than Config.QuietWait, and records the
// row. It returns ErrInterrupted (nothing recorded) when ctx ended.
func (r *runner) measure(ctx context.Context, c Cell, wait time.Duration) (results.Row, error) {
	if ctx.Err() != nil {
		return results.Row{}, ErrInterrupted
	}
	id := rowID(c.Key(), c.Rep)
	c.Attempt = r.attempts[id] + 1
	r.done++
	r.prog.CellStart(r.done, r.total, c)
	cfg := r.cfg.forCell(c)
	if wait > cfg.QuietWait {
		quiet := *cfg
		quiet.QuietWait = wait
		cfg = &quiet
	}
	row, eps, interrupted := cfg.runResolved(ctx, r.caps, c)
	if interrupted {
		return results.Row{}, ErrInterrupted
	}
	// Endpoints first: a row in summary.csv marks the cell done, so its
	// endpoint rows must already be on disk.
	if err := writeEndpoints(r.cfg.Endpoints, eps); err != nil {
		return row, fmt.Errorf("run: %w", err)
	}
	if err := r.w.Write(row); err != nil {
		return row, fmt.Errorf("run: %w", err)
	}
	r.attempts[id] = c.Attempt
	r.caps.add(row)
	r.out.Ran++
	if row.Status == results.StatusFailed {
		r.out.Failed++
	}
	r.prog.CellDone(r.done, r.total, c, row)
	return row, nil
}

// baseRow fills the identity and environment columns of a cell's row.
func baseRow(cfg *Config, c Cell, start time.Time) results.Row {
	gmp := len(cfg.ServerCPUSet)
	if gmp == 0 {
		gmp = len(mustAvailable())
	}
	r := results.Row{
		RunID: cfg.RunID, Cell: c.Key(), Rep: c.Rep,
		Backend: c.Backend, Proto: string(c.Workload.Proto), Workload: c.Workload.Name,
		Conns: c.Conns, Pipeline: c.Pipeline, Rate: c.Rate, Payload: c.Payload,
		GoVersion: cfg.Env.GoVersion, Kernel: cfg.Env.Kernel, CPUModel: cfg.Env.CPUModel,
		GOMAXPROCS: gmp, ServerCPUSet: cfg.ServerCPUSet.String(), GeneratorCPUSet: cfg.GeneratorCPUSet.String(),
		Commit: cfg.Env.Commit, Plan: cfg.Plan.Name,
		StartTime: start.UTC().Format(time.RFC3339),
		Label:     c.label(), HostCPUs: positive(cfg.Env.HostCPUs),
		Attempt: max(c.Attempt, 1),
	}
	if c.ServerCPUs > 0 {
		r.ServerCPUCount = new(c.ServerCPUs)
	}
	setWorkloadColumns(&r, c)
	setRateColumns(&r, c)
	setServerColumns(&r, cfg.describeServer(c))
	return r
}

func mustAvailable() cpuset.Set {
	s, err := cpuset.Available()
	if err != nil || len(s) == 0 {
		return cpuset.Set{0}
	}
	return s
}

// failed gives r the status and reason of a cell that did not run to
// the generator's summary, for the given reason.
func failed(r results.Row, reason string) results.Row {
	r.Status, r.Reason = results.Judge(results.Evidence{Failure: reason})
	return r
}

// runCell measures one cell: server up, load generator run, server down.
// It returns the cell's row and, for a mix, one row per endpoint.
// interrupted reports that ctx ended before the cell completed.
func runCell(ctx context.Context, cfg *Config, c Cell) (row results.Row, eps []results.EndpointRow, interrupted bool) {
	row, sum, interrupted := measureCell(ctx, cfg, c)
	if sum != nil {
		eps = endpointRows(row, sum)
	}
	return row, eps, interrupted
}

// measureCell runs cell c, after waiting for a quiet host when
// Config.QuietWait asks for it, and returns its row, judged once from all
// the evidence (results.Judge), and the generator's summary (nil when
// there is none).
func measureCell(ctx context.Context, cfg *Config, c Cell) (row results.Row, sum *summary.Summary, interrupted bool) {
	var waited time.Duration
	quiet := true
	if cfg.QuietWait > 0 {
		stalls := startStallProbe(cfg.pinnedCPUs(), StallPeriod)
		waited, quiet = waitQuiet(cfg.Probe, cfg.pinnedCPUs(), cfg.QuietWait, sleepCtx(ctx), stalls.stalled)
		stalls.Stop()
		if ctx.Err() != nil {
			return baseRow(cfg, c, time.Now()), nil, true
		}
	}
	row = baseRow(cfg, c, time.Now())
	ev, interrupted := runChildren(ctx, cfg, c, &row)
	if cfg.QuietWait > 0 {
		row.QuietWaitS = new(waited.Seconds())
		if !quiet {
			ev.Notes = append(ev.Notes, fmt.Sprintf("ran after waiting %v for quiet", cfg.QuietWait))
		}
	}
	row.Status, row.Reason = results.Judge(ev)
	return row, ev.Summary, interrupted
}

// runChildren runs cell c's server and generator, fills row from what
// they measured and returns the evidence the row is judged by.
// interrupted reports that ctx ended before the cell completed.
func runChildren(ctx context.Context, cfg *Config, c Cell, row *results.Row) (ev results.Evidence, interrupted bool) {
	notRun := func(reason string) results.Evidence { return results.Evidence{Failure: reason} }
	if cfg.goServer(c) {
		// A directory of its own: a socket path must stay under ~108 bytes,
		// and a server killed before it removed its socket leaves nothing
		// in the next cell's way.
		dir, err := os.MkdirTemp("", "asyncbench-")
		if err != nil {
			return notRun(fmt.Sprintf("socket directory: %v", err)), false
		}
		defer os.RemoveAll(dir)
		c.markSocket = filepath.Join(dir, "mark.sock")
	}
	spec, err := cfg.serverSpec(c)
	if err != nil {
		return notRun(err.Error()), false
	}
	setServerColumns(row, spec)
	srv, addr, err := startServer(ctx, cfg, spec)
	if err != nil {
		return notRun(err.Error()), ctx.Err() != nil
	}
	stopped := false
	stopServer := func() {
		if !stopped {
			srv.stop(syscall.SIGTERM, cfg.StopGrace)
			stopped = true
		}
	}
	defer stopServer()

	base := c.FileName()
	jsonPath := filepath.Join(cfg.Dir, base+".json")
	hlogPath := filepath.Join(cfg.Dir, base+".hlog")
	jf, err := os.Create(jsonPath)
	if err != nil {
		return notRun(fmt.Sprintf("create %s: %v", jsonPath, err)), false
	}
	lg, err := startChild(cfg.LoadgenPath, loadgenArgs(cfg, c, addr, hlogPath, srv.Pid()), serverEnv(cfg.GeneratorCPUSet, nil), cfg.GeneratorCPUSet, jf)
	jf.Close()
	if err != nil {
		return notRun(err.Error()), false
	}
	rec := startHostRecorder(cfg.Probe, sampleInterval(cfg.Plan.CellTime()), cfg.pinnedCPUs(), srv.Pid(), lg.Pid())
	stalls := startStallProbe(cfg.pinnedCPUs(), StallPeriod)
	reason, interrupted := waitLoadgen(ctx, cfg, c, srv, lg)
	stalls.Stop()
	samples, scans := rec.Stop()
	if interrupted {
		return notRun("interrupted"), true
	}
	stopServer()
	if reason != "" {
		return notRun(reason), false
	}
	sum, err := readSummary(jsonPath)
	if lg.err != nil && (err != nil || exitVerdict(lg.err) == "") {
		return notRun(lg.failure("loadgen failed")), false
	}
	if err != nil {
		return notRun(err.Error()), false
	}
	ev = cfg.fillCell(row, c, sum, lg, samples, scans, stalls)
	if _, err := os.Stat(hlogPath); err == nil {
		row.Hlog = base + ".hlog"
	}
	return ev, false
}

// fillCell fills row from the generator's summary and the host samples
// taken during cell c, and returns the evidence the row is judged by.
func (cfg *Config) fillCell(row *results.Row, c Cell, sum *summary.Summary, lg *child, samples []hostSample, scans []scanMark, stalls *stallProbe) results.Evidence {
	ev := results.Evidence{Summary: sum, Idle: c.Workload.Idle, Rate: row.Rate}
	fillRow(row, sum)
	fillRuntime(row, sum)
	if c.Workload.Idle {
		fell, note := fillIdle(row, sum, goarchStackKiB)
		ev.SocketFellKiB = fell
		if note != "" {
			ev.Notes = append(ev.Notes, note)
		}
	}
	if ev.Exit = exitVerdict(lg.err); ev.Exit != "" {
		ev.ExitDetail = lg.detail()
	}
	ev.Noise = cfg.judgeHost(row, sum, samples, scans, stalls)
	ev.Bottleneck = row.Bottleneck
	return ev
}

// waitLoadgen waits for the generator of cell c to finish. It returns why
// the cell failed ("" if it did not), or interrupted when ctx ended; in
// either case the generator has been stopped.
func waitLoadgen(ctx context.Context, cfg *Config, c Cell, srv, lg *child) (reason string, interrupted bool) {
	limit := time.NewTimer(cfg.Plan.Warmup + cfg.Plan.Duration + 30*time.Second + max(time.Duration(c.Conns)*time.Millisecond, 2*cfg.Plan.dialTime(c.Conns)))
	defer limit.Stop()
	select {
	case <-lg.done:
	case <-srv.done:
		lg.stop(syscall.SIGINT, cfg.StopGrace)
		reason = srv.failure("server exited during the run")
	case <-ctx.Done():
		lg.stop(syscall.SIGINT, cfg.StopGrace)
		return "", true
	case <-limit.C:
		lg.stop(syscall.SIGKILL, 0)
		reason = "loadgen did not finish in time"
	}
	lg.signal(syscall.SIGKILL) // anything the generator left behind
	if reason == "" && srv.exited() {
		reason = srv.failure("server exited during the run")
	}
	return reason, false
}

// startServer starts the server spec describes and waits until it is up:
// its "listening on" line, or for a command given its address, the
// address accepting connections.
func startServer(ctx context.Context, cfg *Config, spec serverSpec) (*child, string, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, "", err
	}
	srv, err := startChild(spec.path, spec.args, spec.env, cfg.ServerCPUSet, pw)
	pw.Close()
	if err != nil {
		pr.Close()
		return nil, "", err
	}
	type listen struct {
		addr string
		err  error
	}
	ch := make(chan listen, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if spec.addr != "" {
		go func() { _, _ = io.Copy(io.Discard, pr) }()
		go func() { ch <- listen{spec.addr, waitAccepting(wctx, spec.addr, srv.done)} }()
	} else {
		go func() {
			addr, err := scanListen(pr)
			ch <- listen{addr, err}
		}()
	}
	timeout := cfg.startTimeout()
	t := time.NewTimer(timeout)
	defer t.Stop()
	var fail string
	select {
	case l := <-ch:
		if l.err == nil {
			return srv, l.addr, nil
		}
		// Stdout closed: the server is on its way out; let it finish so
		// its exit status makes the reason.
		w := time.NewTimer(time.Second)
		select {
		case <-srv.done:
		case <-w.C:
		}
		w.Stop()
		fail = "server exited before listening"
	case <-srv.done:
		fail = "server exited before listening"
	case <-t.C:
		fail = fmt.Sprintf("server printed no %q line within %v", backends.ListeningPrefix+"ADDR", timeout)
		if spec.addr != "" {
			fail = fmt.Sprintf("server did not accept connections at %s within %v", spec.addr, timeout)
		}
	case <-ctx.Done():
		fail = "interrupted"
	}
	early := srv.exited()
	srv.stop(syscall.SIGTERM, cfg.stopGrace())
	if early {
		fail = srv.failure(fail)
	}
	return nil, "", errors.New(fail)
}

// loadgenArgs builds the load generator's command line for c.
func loadgenArgs(cfg *Config, c Cell, addr, hlog string, serverPID int) []string {
	if c.Workload.Idle {
		return idleLoadgenArgs(cfg, c, addr, serverPID)
	}
	args := []string{
		"-c", strconv.Itoa(c.Conns),
		"-P", strconv.Itoa(c.Pipeline),
	}
	if c.Rate > 0 {
		args = append(args, "-R", formatRate(c.Rate))
	}
	args = append(args, "-d", cfg.Plan.Duration.String(), "-warmup", cfg.Plan.Warmup.String())
	switch {
	case c.Workload.Proto == backends.ProtoEcho:
		args = append(args, "-payload", strconv.Itoa(c.Payload))
	case c.Workload.UsePayload:
		args = append(args, "-body", strconv.Itoa(c.Payload))
	}
	args = append(args, workloadArgs(&cfg.Plan, c)...)
	if p := c.markSocket; p != "" {
		args = append(args, "-mark-socket", p)
	}
	args = append(args, "-json", "-hlog", hlog, "-server-pid", strconv.Itoa(serverPID), target(c, addr))
	return args
}

// fillRuntime fills the runtime columns of r from the server's answer to
// the window's close mark; they stay empty without one.
func fillRuntime(r *results.Row, s *summary.Summary) {
	if len(s.ServerWindow) == 0 {
		return
	}
	w, err := rtmetrics.Parse(s.ServerWindow)
	if err != nil {
		return
	}
	r.GCCycles = new(int64(w.GCCycles))
	r.GCPauseP99Us = new(w.GCPauseP99Us)
	if w.GCCPUPct >= 0 {
		r.GCCPUPct = new(w.GCCPUPct)
	}
	if w.SchedLatencyP99Us >= 0 {
		r.SchedLatencyP99Us = new(w.SchedLatencyP99Us)
	}
}

// target is the load generator URL for c at addr.
func target(c Cell, addr string) string {
	if c.Workload.Proto == backends.ProtoEcho {
		return "tcp://" + addr
	}
	return "http://" + addr + c.Workload.Path
}

func readSummary(path string) (*summary.Summary, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loadgen output: %w", err)
	}
	var s summary.Summary
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("loadgen output %s: %w", filepath.Base(path), err)
	}
	return &s, nil
}

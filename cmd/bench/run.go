package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/asyncbench/asyncbench/internal/cli"
	"github.com/asyncbench/asyncbench/plans"
	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/results/report"
	"github.com/asyncbench/asyncbench/runner"
	"github.com/asyncbench/asyncbench/runner/cpuset"
)

const runDoc = `Run measures every cell of a plan: per cell it starts the server and the
load generator pinned to separate CPUs, and appends one row to summary.csv
(plus the cell's .json and .hlog; a mix cell also one row per endpoint in
endpoints.csv). At the end it writes report.md, plots and verdicts.csv.
Repetitions are rounds: every cell once per round, in an order shuffled per
round by the plan's seed (picked from the clock and written into plan.yaml
when the plan has none). A cell that came out noisy or generator-bound is
measured again at the end of its round, up to the plan's retries (default
2); each attempt is a row of its own. The run ends with a count of the
re-runs and one line counting the verdicts by kind and the throughput
intervals narrower than 20% of their ratio.
It prints the run directory on stdout.

Ctrl-C stops the current cell without recording it; continue the run with
-resume DIR. Only one bench run may write a run directory at a time.

Exit status: 0 done, 1 could not run, 2 bad command line, 3 every cell
failed, 130 interrupted.
`

// runFlags are the flags of bench run.
type runFlags struct {
	cellFlags
	plan, resume           string
	duration, warmup       time.Duration
	planSet, durSet, wuSet bool
}

// cellFlags are the flags bench run and bench slo share: where the run
// directory goes, the binaries, the CPUs and the waits around each cell.
type cellFlags struct {
	out, runID          string
	server, loadgen     string
	serverCPUs, genCPUs string
	startTimeout        time.Duration
	quietWait           time.Duration
}

// register adds the flags to fs.
func (f *cellFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.out, "out", filepath.Join("results", "runs"), "runs go in `DIR`/<run-id>; DIR/latest links to the newest")
	fs.StringVar(&f.runID, "run-id", "", "name of the run directory (default: UTC start time, e.g. 20261125T203000Z)")
	fs.StringVar(&f.server, "server", "", "server binary (default: next to bench)")
	fs.StringVar(&f.loadgen, "loadgen", "", "loadgen binary (default: next to bench)")
	fs.StringVar(&f.serverCPUs, "server-cpus", "", "CPU list for the server, e.g. 0 or 0-1 (default: first available CPU)")
	fs.StringVar(&f.genCPUs, "gen-cpus", "", "CPU list for the generator, e.g. 1 or 2,3 (default: second available CPU)")
	fs.DurationVar(&f.startTimeout, "start-timeout", runner.DefaultStartTimeout, "how long a server may take to print its listening line")
	fs.DurationVar(&f.quietWait, "quiet-wait", 0, "before each cell, wait up to `D` for a quiet second on the pinned CPUs (0 = do not wait)")
}

// plainRunID reports whether id, when set, is a plain directory name.
func plainRunID(id string) bool {
	return id == "" || (!strings.ContainsAny(id, `/\`) && !strings.HasPrefix(id, ".") && id != "latest")
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseRunFlags(args, stdout)
	if err != nil {
		return err
	}
	return runPlan(ctx, f, stdout, stderr)
}

func parseRunFlags(args []string, stdout io.Writer) (runFlags, error) {
	var f runFlags
	fs := newFlagSet("run", "[flags]", runDoc)
	f.register(fs)
	fs.StringVar(&f.plan, "plan", "quick", "built-in plan name ("+strings.Join(plans.Names(), ", ")+") or a YAML/JSON plan file")
	fs.StringVar(&f.resume, "resume", "", "continue the run in `DIR`: skip cells done there (ok or saturated), append the rest")
	fs.DurationVar(&f.duration, "duration", 0, "override the plan's measured window")
	fs.DurationVar(&f.warmup, "warmup", 0, "override the plan's warm-up")
	if err := parse(fs, args, stdout); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, usagef("run", "unexpected argument %q", fs.Arg(0))
	}
	f.planSet, f.durSet, f.wuSet = isSet(fs, "plan"), isSet(fs, "duration"), isSet(fs, "warmup")
	return f, f.check()
}

// check reports flag combinations and values that cannot run.
func (f *runFlags) check() error {
	switch {
	case f.resume != "" && (f.planSet || f.durSet || f.wuSet || f.runID != ""):
		return usagef("run", "-resume takes the plan from DIR/plan.yaml; drop -plan, -duration, -warmup and -run-id")
	case !plainRunID(f.runID):
		return usagef("run", "-run-id %q: want a plain directory name", f.runID)
	case f.durSet && f.duration <= 0:
		return usagef("run", "-duration must be positive")
	case f.wuSet && f.warmup < 0:
		return usagef("run", "-warmup must not be negative")
	case f.startTimeout <= 0:
		return usagef("run", "-start-timeout must be positive")
	case f.quietWait < 0 || f.quietWait > runner.MaxDuration:
		return usagef("run", "-quiet-wait must be 0 to %v", runner.MaxDuration)
	}
	return nil
}

// loadPlan reads the plan named by the flags (or the resumed run's) and
// applies the overrides.
func (f *runFlags) loadPlan() (runner.Plan, error) {
	src := f.plan
	if f.resume != "" {
		src = filepath.Join(f.resume, "plan.yaml")
	}
	plan, err := runner.LoadPlan(src)
	if err != nil {
		return runner.Plan{}, err
	}
	if f.durSet {
		plan.Duration = f.duration
	}
	if f.wuSet {
		plan.Warmup = f.warmup
	}
	if plan.Seed == 0 && f.resume == "" {
		// Recorded in plan.yaml, so -resume repeats the order.
		plan.Seed = runner.NewSeed(time.Now())
	}
	return plan, plan.Validate(maxConns())
}

// newConfig resolves everything a run needs apart from its directory.
func newConfig(ctx context.Context, f *runFlags, stderr io.Writer) (runner.Config, error) {
	plan, err := f.loadPlan()
	if err != nil {
		return runner.Config{}, err
	}
	serverCPUs, genCPUs, splits, warn, err := chooseRunCPUs(plan, f.serverCPUs, f.genCPUs)
	if err != nil {
		return runner.Config{}, err
	}
	if warn != "" {
		fmt.Fprintln(stderr, "warning:", warn)
	}
	fmt.Fprint(stderr, runner.FormatSplits(splits))
	serverPath, err := findBinary(f.server, "server")
	if err != nil {
		return runner.Config{}, err
	}
	loadgenPath, err := findBinary(f.loadgen, "loadgen")
	if err != nil {
		return runner.Config{}, err
	}
	cfg := runner.Config{
		Plan:       plan,
		ServerPath: serverPath, LoadgenPath: loadgenPath,
		ServerCPUSet: serverCPUs, GeneratorCPUSet: genCPUs,
		CPUSplits:    splits,
		Env:          runner.DetectEnv(serverPath),
		StartTimeout: f.startTimeout,
		QuietWait:    f.quietWait,
		Progress:     newProgress(stderr),
		Probe:        warnPartial(runner.NewHostProbe(), stderr),
	}
	// Before the run directory exists: a backend not built or a command
	// that fails the contract refuses the run with nothing written.
	if err := cfg.Preflight(ctx); err != nil {
		return runner.Config{}, err
	}
	return cfg, nil
}

// warnPartial returns p, after a warning on stderr when p sees only the
// processes of bench's own PID namespace.
func warnPartial(p *runner.HostProbe, stderr io.Writer) *runner.HostProbe {
	if p.Partial {
		fmt.Fprintln(stderr, "warning: /proc lists only this PID namespace's processes: other processes' CPU time cannot be told from the kernel's work for the traffic, so quiet cells may read noisy; in a container, share the host's PID namespace (docker run --pid=host, compose `pid: host`)")
	}
	return p
}

// openRunDir creates the run directory (or takes the resumed one), locks
// it and writes plan.yaml into a new one.
func openRunDir(f *runFlags, plan *runner.Plan) (dir, runID string, unlock func() error, err error) {
	if f.resume != "" {
		dir, runID = f.resume, filepath.Base(filepath.Clean(f.resume))
	} else if dir, runID, err = runner.NewRunDir(f.out, f.runID, time.Now()); err != nil {
		return "", "", nil, err
	}
	if unlock, err = runner.LockDir(dir); err != nil {
		return "", "", nil, err
	}
	if f.resume == "" {
		err = writePlan(dir, plan)
	}
	if err != nil {
		unlock()
		return "", "", nil, err
	}
	return dir, runID, unlock, nil
}

func writePlan(dir string, plan *runner.Plan) error {
	data, err := plan.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "plan.yaml"), data, 0o644); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

func runPlan(ctx context.Context, f runFlags, stdout, stderr io.Writer) error {
	cfg, err := newConfig(ctx, &f, stderr)
	if err != nil {
		return err
	}
	dir, runID, unlock, err := openRunDir(&f, &cfg.Plan)
	if err != nil {
		return err
	}
	defer unlock()
	csvPath := filepath.Join(dir, "summary.csv")
	w, prior, err := results.OpenCSV(csvPath, stderr)
	if err != nil {
		return err
	}
	defer w.Close()
	if len(prior) > 0 && prior[0].RunID != "" {
		runID = prior[0].RunID
	}
	cfg.RunID, cfg.Dir, cfg.Skip = runID, dir, runner.Completed(prior)
	cfg.Prior = prior
	ew, _, err := results.OpenEndpoints(filepath.Join(dir, results.EndpointsFile), runner.KeepEndpoints(cfg.Skip), stderr)
	if err != nil {
		return err
	}
	defer ew.Close()
	cfg.Endpoints = ew
	_, skipped := cfg.Plan.Expand()
	for _, s := range skipped {
		fmt.Fprintf(stderr, "skipping %s: protocol not served by the backend\n", s)
	}
	fmt.Fprintf(stderr, "run %s: plan %s, server on CPUs %s, generator on CPUs %s, results in %s\n",
		runID, cfg.Plan.Name, cfg.ServerCPUSet, cfg.GeneratorCPUSet, dir)
	rec := &recorder{w: w}
	out, runErr := runner.Run(ctx, cfg, rec)
	if runErr == nil {
		out, runErr = moreRounds(ctx, &cfg, rec, prior, out, dir, stderr)
	}
	if cerr := w.Close(); cerr != nil && runErr == nil {
		runErr = cerr
	}
	finishRun(dir, cfg.Plan.ReferenceLabel(), append(prior, rec.rows...), out, runErr, stderr)
	fmt.Fprintln(stdout, dir)
	return runError(runErr, out, dir)
}

// finishRun writes the report from all, every row of summary.csv, and
// says how the run ended.
func finishRun(dir, reference string, all []results.Row, out runner.Outcome, runErr error, stderr io.Writer) {
	if out.Skipped > 0 {
		fmt.Fprintf(stderr, "resumed: %d of %d cells were already done\n", out.Skipped, out.Planned)
	}
	rows := runner.Latest(all)
	if len(rows) > 0 {
		opts := report.Options{Reference: reference}
		opts.Reruns, opts.RerunsOK = report.Reruns(all)
		if err := report.WriteWith(dir, rows, opts); err != nil {
			fmt.Fprintln(stderr, "warning:", err)
		}
	}
	switch {
	case errors.Is(runErr, runner.ErrInterrupted):
		fmt.Fprintf(stderr, "interrupted after %d cells; continue with: bench run -resume %s\n", out.Ran, dir)
	case runErr == nil:
		fmt.Fprintf(stderr, "done: %d cells, %d failed", out.Ran, out.Failed)
		if out.Reruns > 0 {
			fmt.Fprintf(stderr, "; %d of them re-runs of noisy or generator-bound cells, %d ok", out.Reruns, out.RerunsOK)
		}
		fmt.Fprintln(stderr)
	}
	if len(rows) > 0 {
		printTally(stderr, dir, rows, reference)
	}
}

// runError maps the end of a run to the error bench exits with.
func runError(runErr error, out runner.Outcome, dir string) error {
	switch {
	case errors.Is(runErr, runner.ErrInterrupted):
		return &cli.ExitError{Code: cli.ExitInterrupted, Err: runErr}
	case runErr != nil:
		return runErr
	case out.Ran > 0 && out.Failed == out.Ran:
		return &cli.ExitError{Code: cli.ExitFailed,
			Err: fmt.Errorf("all %d cells failed; reasons in %s", out.Ran, filepath.Join(dir, "summary.csv"))}
	}
	return nil
}

// recorder writes rows through and keeps them for the report.
type recorder struct {
	w    runner.RowWriter
	rows []results.Row
}

func (r *recorder) Write(row results.Row) error {
	if err := r.w.Write(row); err != nil {
		return err
	}
	r.rows = append(r.rows, row)
	return nil
}

func newProgress(stderr io.Writer) runner.Progress {
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &runner.BarProgress{W: stderr}
	}
	return runner.LineProgress{W: stderr}
}

// maxConns is the largest connection count the open-file hard limit
// allows, keeping runner.FDHeadroom spare (Go raises the soft limit to the
// hard one in every process). 0 means unknown.
func maxConns() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Max == unix.RLIM_INFINITY {
		return 0
	}
	return max(int(lim.Max)-runner.FDHeadroom, 1)
}

// chooseCPUs resolves the -server-cpus and -gen-cpus lists against the
// CPUs this process may use. By default the server gets the first CPU and
// the generator the second; with one CPU both share it, with a warning.
func chooseCPUs(serverList, genList string) (server, gen cpuset.Set, warn string, err error) {
	avail, err := cpuset.Available()
	if err != nil {
		return nil, nil, "", err
	}
	defServer, defGen := cpuset.Set{avail[0]}, cpuset.Set{avail[0]}
	if len(avail) > 1 {
		defGen = cpuset.Set{avail[1]}
	}
	if server, err = pickCPUs(serverList, "server-cpus", defServer, avail); err != nil {
		return nil, nil, "", err
	}
	if gen, err = pickCPUs(genList, "gen-cpus", defGen, avail); err != nil {
		return nil, nil, "", err
	}
	if server.Overlaps(gen) {
		warn = fmt.Sprintf("server (CPUs %s) and generator (CPUs %s) share CPUs; they will compete", server, gen)
		if len(avail) == 1 {
			warn = "only one CPU available; server and generator share it and will compete"
		}
	}
	return server, gen, warn, nil
}

// pickCPUs parses the list given to -flagName, def when empty.
func pickCPUs(list, flagName string, def, avail cpuset.Set) (cpuset.Set, error) {
	if list == "" {
		return def, nil
	}
	s, err := cpuset.Parse(list)
	if err != nil {
		return nil, usagef("run", "-%s: %v", flagName, err)
	}
	if miss := s.Missing(avail); len(miss) > 0 {
		return nil, usagef("run", "-%s: CPUs %s not available (available: %s)", flagName, miss, avail)
	}
	return s, nil
}

// findBinary returns path if set, else name next to this executable.
func findBinary(path, name string) (string, error) {
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("find %s: %w", name, err)
		}
		path = filepath.Join(filepath.Dir(exe), name)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s binary %s: %w (run make build, or pass -%s PATH)", name, path, errors.Unwrap(err), name)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s binary %s is not an executable file", name, path)
	}
	return path, nil
}

// moreRounds runs the plan's adaptive rounds: while the plan allows more
// (max_repetitions) and the run is not settled, one more round, then the
// question again. Each added round goes into the run's plan.yaml first, so
// -resume knows of it.
func moreRounds(ctx context.Context, cfg *runner.Config, rec *recorder, prior []results.Row, out runner.Outcome, dir string, stderr io.Writer) (runner.Outcome, error) {
	for cfg.Plan.MaxReps > cfg.Plan.Reps {
		all := append(slices.Clip(prior), rec.rows...)
		t := report.RunTally(runner.Latest(all), cfg.Plan.ReferenceLabel())
		if settled(t) {
			break
		}
		cfg.Plan.Reps++
		fmt.Fprintf(stderr, "round %d of at most %d: %s\n", cfg.Plan.Reps, cfg.Plan.MaxReps, unsettled(t))
		if err := writePlan(dir, &cfg.Plan); err != nil {
			return out, err
		}
		cfg.Skip, cfg.Prior = runner.Completed(all), all
		more, err := runner.Run(ctx, *cfg, rec)
		out.Planned = more.Planned
		out.Ran += more.Ran
		out.Failed += more.Failed
		out.Reruns += more.Reruns
		out.RerunsOK += more.RerunsOK
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// settled reports whether a run needs no more rounds: no comparison is
// undecided for want of rounds, and every closed-loop throughput interval
// is narrower than report.NarrowInterval of its ratio (open-loop ones are
// narrow by construction when the servers keep up).
func settled(t report.Tally) bool {
	return t.TooFew == 0 && t.ClosedNarrow == t.ClosedIntervals
}

// unsettled says why another round runs.
func unsettled(t report.Tally) string {
	var why []string
	if t.TooFew > 0 {
		why = append(why, fmt.Sprintf("%d verdicts with too few rounds", t.TooFew))
	}
	if n := t.ClosedIntervals - t.ClosedNarrow; n > 0 {
		why = append(why, fmt.Sprintf("%d of %d closed-loop throughput intervals %.0f%% of their ratio or wider", n, t.ClosedIntervals, 100*report.NarrowInterval))
	}
	return strings.Join(why, ", ")
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncbench/asyncbench/internal/cli"
	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/results/report"
	"github.com/asyncbench/asyncbench/runner"
)

const sloDoc = `Slo finds, per backend, the highest open-loop rate whose corrected p99
stays at or below the target with zero errors, the generator on schedule,
the server answering at least 98% of the offered rate and a quiet host.
Without -start it first measures the closed-loop capacity (one cell) and
starts at half of it; if that probe fails it starts at half of what the
probe measured, or at -min-rate, and the note says so. From there it doubles
the rate until the target breaks (or halves it until it holds) and bisects
to within 2%.

Each rate is judged on the pooled 1 s interval histograms of its runs: the
p99 of the pool with a 95% bootstrap interval. It meets when the interval
lies at or below the target, misses when above; while the interval holds
the target the rate is run again (a fresh server), at most 3 runs, and then
the pooled p99 decides and the answer is marked close. Both ends of the
final bracket that rest on one run get a second (the low end's measured for
-confirm-duration, default twice -duration); an end that flips moves the
bracket and the search goes on, at most 4 confirmations. A noisy run
(another process on the pinned CPUs) is measured again, up to twice;
-quiet-wait helps on a shared machine. At most 48 runs per backend, under
5 minutes with the default durations.

Every run is a normal cell: a row in summary.csv, its .json and .hlog, in a
run directory like bench run's (DIR/latest points at it, same lock). At the
end it writes slo.csv (the answer, its p99 with the interval and runs, the
bracket [highest rate met, lowest missed], which is the answer's resolution
in rate), prints a table, and plots p99 against offered rate with the
target and each backend's answer (plots/slo-p99.png and .svg). A target
never met, even at the lowest rate, leaves max_rate empty with the reason.
It prints the run directory on stdout.

Exit status: 0 done, 1 could not run, 2 bad command line, 3 no backend met
the target, 130 interrupted.
`

// sloFlags are the flags of bench slo.
type sloFlags struct {
	run      runFlags
	target   time.Duration
	backends string
	conns    int
	workload string
	start    float64
	maxRate  float64
	minRate  float64
	confirm  time.Duration // measured window of a confirmation
}

func parseSLOFlags(args []string, stdout io.Writer) (sloFlags, error) {
	var f sloFlags
	fs := newFlagSet("slo", "-p99 D [flags]", sloDoc)
	fs.DurationVar(&f.target, "p99", 0, "the p99 target, e.g. 1ms (required)")
	fs.StringVar(&f.backends, "backends", "", "comma-separated `LIST` of backends (default: every one built, see bench backends)")
	fs.IntVar(&f.conns, "conns", 64, "connections")
	fs.StringVar(&f.workload, "workload", "plaintext", "workload `NAME` as in a plan (plaintext, echo, delay:N, …; echo sends 64 B)")
	fs.Float64Var(&f.start, "start", 0, "first rate in req/s (0 = half the closed-loop capacity, measured first)")
	fs.Float64Var(&f.minRate, "min-rate", 100, "lowest rate tried while halving, req/s")
	fs.Float64Var(&f.maxRate, "max-rate", runner.MaxRate, "highest rate tried while doubling, req/s")
	fs.DurationVar(&f.run.duration, "duration", 3*time.Second, "measured window of every search step")
	fs.DurationVar(&f.confirm, "confirm-duration", 0, "measured window `D` of a confirmation's first run (default 2 × -duration)")
	fs.DurationVar(&f.run.warmup, "warmup", time.Second, "warm-up of every step")
	f.run.register(fs)
	if err := parse(fs, args, stdout); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, usagef("slo", "unexpected argument %q", fs.Arg(0))
	}
	if !isSet(fs, "confirm-duration") {
		f.confirm = 2 * f.run.duration
	}
	switch {
	case f.target <= 0:
		return f, usagef("slo", "-p99 is required and must be positive")
	case f.run.duration <= 0 || f.run.warmup < 0:
		return f, usagef("slo", "-duration must be positive and -warmup not negative")
	case f.confirm <= 0 || f.confirm > runner.MaxDuration:
		return f, usagef("slo", "-confirm-duration must be positive and at most %v", runner.MaxDuration)
	case f.run.startTimeout <= 0 || f.run.quietWait < 0:
		return f, usagef("slo", "-start-timeout must be positive and -quiet-wait not negative")
	case math.IsNaN(f.start) || f.start < 0 || f.start > runner.MaxRate:
		return f, usagef("slo", "-start must be 0 to %d", runner.MaxRate)
	case !(f.minRate >= 1) || !(f.maxRate >= f.minRate) || f.maxRate > runner.MaxRate:
		return f, usagef("slo", "want 1 ≤ -min-rate ≤ -max-rate ≤ %d", runner.MaxRate)
	case f.start > 0 && (f.start < f.minRate || f.start > f.maxRate):
		return f, usagef("slo", "-start must lie within -min-rate and -max-rate")
	case !plainRunID(f.run.runID):
		return f, usagef("slo", "-run-id %q: want a plain directory name", f.run.runID)
	}
	return f, nil
}

// plan is the one-round plan the search's cells belong to; it is written
// as the run's plan.yaml and names the rows' plan column. Without
// -backends it searches every backend that can run with the server binary
// at serverPath (every Go backend when serverPath is empty: not found); a
// named one that cannot refuses the search.
func (f *sloFlags) plan(serverPath string) (runner.Plan, error) {
	p := runner.Plan{
		Name:        "slo",
		Description: fmt.Sprintf("highest rate with p99 ≤ %v", f.target),
		Workloads:   []string{f.workload},
		Conns:       []int{f.conns},
		Pipeline:    []int{1},
		Rates:       []float64{0},
		Payloads:    []int{64},
		Reps:        1,
		Duration:    f.run.duration,
		Warmup:      f.run.warmup,
	}
	for _, b := range strings.Split(f.backends, ",") {
		if b = strings.TrimSpace(b); b != "" {
			p.Backends = append(p.Backends, b)
		}
	}
	if len(p.Backends) == 0 {
		p.Backends = runner.Available(serverPath)
	}
	if err := p.Validate(maxConns()); err != nil {
		return p, usagef("slo", "%w", err)
	}
	if serverPath == "" {
		return p, nil // not found: the caller says so
	}
	return p, p.CheckServers(serverPath)
}

func cmdSLO(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseSLOFlags(args, stdout)
	if err != nil {
		return err
	}
	// A bad -backends is a usage error even where no server is built.
	serverPath, serverErr := findBinary(f.run.server, "server")
	plan, err := f.plan(serverPath)
	if err != nil {
		return err
	}
	if serverErr != nil {
		return serverErr
	}
	f.run.server = serverPath
	cfg, err := newSLOConfig(&f, plan, stderr)
	if err != nil {
		return err
	}
	dir, runID, unlock, err := openRunDir(&f.run, &cfg.Plan)
	if err != nil {
		return err
	}
	defer unlock()
	w, _, err := results.OpenCSV(filepath.Join(dir, "summary.csv"), stderr)
	if err != nil {
		return err
	}
	defer w.Close()
	cfg.RunID, cfg.Dir = runID, dir
	ew, _, err := results.OpenEndpoints(filepath.Join(dir, results.EndpointsFile), nil, stderr)
	if err != nil {
		return err
	}
	defer ew.Close()
	cfg.Endpoints = ew
	fmt.Fprintf(stderr, "slo %s: p99 ≤ %v, %s at %d connections, server on CPUs %s, generator on CPUs %s, results in %s\n",
		runID, f.target, f.workload, f.conns, cfg.ServerCPUSet, cfg.GeneratorCPUSet, dir)

	cells, skipped := cfg.Plan.Expand()
	for _, s := range skipped {
		fmt.Fprintf(stderr, "skipping %s: protocol not served by the backend\n", s)
	}
	s := &sloRun{ctx: ctx, cfg: cfg, confirm: f.confirm, w: w, stderr: stderr, reps: map[string]int{}}
	var answers []results.SLORow
	var runErr error
	for _, c := range cells {
		a, err := s.search(&f, c)
		answers = append(answers, a)
		if err != nil {
			runErr = err
			break
		}
	}
	if err := w.Close(); err != nil && runErr == nil {
		runErr = err
	}
	if err := finishSLO(dir, answers, s.rows, stdout, stderr); err != nil && runErr == nil {
		runErr = err
	}
	fmt.Fprintln(stdout, dir)
	switch {
	case errors.Is(runErr, runner.ErrInterrupted):
		fmt.Fprintf(stderr, "interrupted; slo.csv holds the backends finished so far\n")
		return &cli.ExitError{Code: cli.ExitInterrupted, Err: runErr}
	case runErr != nil:
		return runErr
	}
	for _, a := range answers {
		if a.MaxRate != nil {
			return nil
		}
	}
	return &cli.ExitError{Code: cli.ExitFailed, Err: fmt.Errorf("no backend met p99 ≤ %v; reasons in %s", f.target, filepath.Join(dir, results.SLOFile))}
}

// newSLOConfig resolves binaries and CPUs as bench run does.
func newSLOConfig(f *sloFlags, plan runner.Plan, stderr io.Writer) (runner.Config, error) {
	serverCPUs, genCPUs, warn, err := chooseCPUs(f.run.serverCPUs, f.run.genCPUs)
	if err != nil {
		return runner.Config{}, err
	}
	if warn != "" {
		fmt.Fprintln(stderr, "warning:", warn)
	}
	serverPath, err := findBinary(f.run.server, "server")
	if err != nil {
		return runner.Config{}, err
	}
	loadgenPath, err := findBinary(f.run.loadgen, "loadgen")
	if err != nil {
		return runner.Config{}, err
	}
	return runner.Config{
		Plan:       plan,
		ServerPath: serverPath, LoadgenPath: loadgenPath,
		ServerCPUSet: serverCPUs, GeneratorCPUSet: genCPUs,
		Env:          runner.DetectEnv(serverPath),
		StartTimeout: f.run.startTimeout,
		QuietWait:    f.run.quietWait,
		Probe:        warnPartial(runner.NewHostProbe(), stderr),
	}, nil
}

// sloRun measures the steps of the searches, one cell each.
type sloRun struct {
	ctx     context.Context
	cfg     runner.Config
	confirm time.Duration // measured window of a confirmation
	w       runner.RowWriter
	stderr  io.Writer
	reps    map[string]int // runs per cell key: a confirmation is the next repetition
	rows    []results.Row
}

// config is the configuration of a step of kind: a confirmation's
// measured window is the confirmation duration.
func (s *sloRun) config(kind runner.StepKind) runner.Config {
	cfg := s.cfg
	if kind == runner.Confirmation {
		cfg.Plan.Duration = s.confirm
	}
	return cfg
}

// cell runs c as a step of kind (its Rep set to the next repetition of its
// key) and logs it.
func (s *sloRun) cell(c runner.Cell, kind runner.StepKind) (results.Row, error) {
	s.reps[c.Key()]++
	c.Rep = s.reps[c.Key()]
	row, err := runner.RunCell(s.ctx, s.config(kind), c, s.w)
	if err != nil {
		return row, err
	}
	s.rows = append(s.rows, row)
	what := "closed loop"
	if c.Rate > 0 {
		what = runner.FormatRate(c.Rate) + " req/s"
		if c.Rep > 1 {
			what += " run " + strconv.Itoa(c.Rep)
		}
	}
	if kind == runner.Confirmation {
		what += " (confirmation, " + s.confirm.String() + ")"
	}
	fmt.Fprintf(s.stderr, "  %s %s: %s, %s req/s, p99 %s µs %s\n", c.Label, what, row.Status,
		strconv.FormatFloat(math.Round(row.RPS), 'f', -1, 64), strconv.FormatInt(row.P99Us, 10), row.Reason)
	return row, nil
}

// search runs one backend's search from its closed-loop cell c.
func (s *sloRun) search(f *sloFlags, c runner.Cell) (results.SLORow, error) {
	ans := results.SLORow{
		Backend: c.Label, Workload: c.Workload.Spec, Conns: c.Conns,
		TargetP99Us: f.target.Microseconds(),
	}
	if ans.Workload == "" {
		ans.Workload = c.Workload.Name
	}
	fmt.Fprintf(s.stderr, "%s:\n", c.Label)
	start, probeNote := f.start, ""
	if start == 0 {
		row, err := s.cell(c, runner.SearchStep)
		if err != nil {
			ans.Reason = "search stopped: " + err.Error()
			return ans, err
		}
		start, probeNote = startRate(row, f.minRate, f.maxRate)
	}
	search := runner.SLOSearch{Target: f.target, Start: start, MinRate: f.minRate, MaxRate: f.maxRate, OnStep: s.logStep}
	res, err := search.Run(runner.MeasureFunc(func(rate float64, kind runner.StepKind) (runner.Step, error) {
		oc := c
		oc.Rate = rate
		row, err := s.cell(oc, kind)
		if err != nil {
			return runner.Step{}, err
		}
		st := runner.StepOf(row)
		if st.Pass {
			if st.Intervals, err = stepIntervals(s.cfg.Dir, row); err != nil {
				st.Pass, st.Reason = false, err.Error()
				fmt.Fprintf(s.stderr, "    the run cannot be judged: %v\n", err)
			}
		}
		return st, nil
	}))
	ans.Steps = len(res.Steps)
	ans.BracketLow, ans.BracketHigh = positive(res.BracketLow), positive(res.BracketHigh)
	if len(res.Steps) > 0 { // without a judged rate there is no range to speak of
		ans.UndecidedLow, ans.UndecidedHigh = &res.UndecidedLow, &res.UndecidedHigh
	}
	ans.Reason = res.Note
	if probeNote != "" {
		ans.Reason = probeNote + "; " + res.Note
	}
	if err != nil {
		ans.Reason = "search stopped: " + err.Error()
	}
	if res.Met {
		p := res.P99AtMax
		ans.MaxRate = &res.MaxRate
		ans.P99AtMaxUs, ans.P99LoUs, ans.P99HiUs = &p.Us, &p.LoUs, &p.HiUs
		ans.Runs, ans.Close = &p.Rounds, &res.Close
	}
	return ans, err
}

// logStep says what the search made of a run: the p99 pooled over the
// runs at its rate, with its interval, and the verdict.
func (s *sloRun) logStep(st runner.Step) {
	switch {
	case st.Inconclusive && st.Verdict == runner.Again:
		fmt.Fprintln(s.stderr, "    → does not count: measuring again")
	case st.Pooled.Rounds == 0:
		fmt.Fprintf(s.stderr, "    → %s: the run did not count\n", st.Verdict)
	default:
		what := st.Verdict.String()
		switch {
		case st.Verdict == runner.Again:
			what = "the interval holds the target: measuring again"
		case st.Close:
			what += " (close: the pooled p99 decided)"
		}
		fmt.Fprintf(s.stderr, "    → pooled p99 %d µs (95%% interval %d–%d µs) over %d run(s): %s\n",
			st.Pooled.Us, st.Pooled.LoUs, st.Pooled.HiUs, st.Pooled.Rounds, what)
	}
}

// shortInterval is the length below which a last interval of an .hlog
// joins the one before it (loadgen cuts intervals every second; the last
// holds what was left when the window closed).
const shortInterval = 500 * time.Millisecond

// stepIntervals reads the interval histograms of row's .hlog in dir. A
// last interval shorter than shortInterval is added to the one before it,
// so a few milliseconds at the window's end are not resampled with the
// weight of a whole second.
func stepIntervals(dir string, row results.Row) ([]*hdrhistogram.Histogram, error) {
	if row.Hlog == "" {
		return nil, errors.New("no interval log (.hlog) written")
	}
	ivs, err := results.ReadIntervals(filepath.Join(dir, row.Hlog))
	if err != nil {
		return nil, err
	}
	if n := len(ivs); n > 1 {
		last := ivs[n-1]
		if time.Duration(last.EndTimeMs()-last.StartTimeMs())*time.Millisecond < shortInterval {
			ivs[n-2].Merge(last)
			ivs = ivs[:n-1]
		}
	}
	return ivs, nil
}

// startRate is where a search starts after the closed-loop capacity probe
// that measured row: half its throughput, within minRate and maxRate. A
// failed probe still starts the search, at half of what it measured or at
// minRate when it measured nothing; note then says so and why.
func startRate(row results.Row, minRate, maxRate float64) (start float64, note string) {
	start = min(max(math.Round(row.RPS/2), minRate), maxRate)
	if row.Status != results.StatusFailed && row.RPS > 0 {
		return start, ""
	}
	why := row.Reason
	if why == "" {
		why = "no throughput measured"
	}
	if row.RPS > 0 {
		return start, fmt.Sprintf("capacity probe failed (%s) at %s req/s; started at %s req/s", why, runner.FormatRate(math.Round(row.RPS)), runner.FormatRate(start))
	}
	return minRate, fmt.Sprintf("capacity probe failed (%s); started at -min-rate, %s req/s", why, runner.FormatRate(minRate))
}

func positive(x float64) *float64 {
	if x <= 0 {
		return nil
	}
	return &x
}

// finishSLO writes slo.csv, prints the table, and writes the report
// (report.md with the answers, plots/slo-p99.png).
func finishSLO(dir string, answers []results.SLORow, rows []results.Row, stdout, stderr io.Writer) error {
	if err := results.WriteSLOFile(filepath.Join(dir, results.SLOFile), answers); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "backend\tworkload\tconns\ttarget p99 µs\tmax rate req/s\tbracket req/s\tundecided req/s\tp99 there µs\t95% interval\truns\tsteps\t\tnote")
	for _, a := range answers {
		runs := "–"
		if a.Runs != nil {
			runs = strconv.Itoa(*a.Runs)
			if a.Close != nil && *a.Close {
				runs += " close"
			}
		}
		ci := "–"
		if a.P99LoUs != nil && a.P99HiUs != nil {
			ci = fmtOptInt(a.P99LoUs) + "–" + fmtOptInt(a.P99HiUs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\t%s\n", a.Backend, a.Workload, a.Conns, a.TargetP99Us,
			fmtOpt(a.MaxRate), a.BracketText(fmtFloat), a.UndecidedText(fmtFloat), fmtOptInt(a.P99AtMaxUs), ci, runs, a.Steps, a.Reason)
	}
	tw.Flush()
	if len(rows) == 0 {
		return nil
	}
	return report.WriteWith(dir, rows, report.Options{Warn: stderr})
}

func fmtOpt(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmtFloat(*p)
}

func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

func fmtOptInt(p *int64) string {
	if p == nil {
		return "–"
	}
	return strconv.FormatInt(*p, 10)
}

package runner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/asyncbench/asyncbench/plans"
	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/runner/cpuset"
)

// UsageError is a bad command line; the command exits with status 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, a ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, a...) + " (see bench -h)"}
}

// ExitCode maps an error from Main to the process exit status: 0 for nil,
// 2 for a usage error, 130 for an interrupted run, 1 otherwise.
func ExitCode(err error) int {
	var ue *UsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	case errors.Is(err, ErrInterrupted):
		return 130
	}
	return 1
}

const usage = `bench runs benchmark plans against the asyncbench servers and reports on them.

Usage:
  bench run [flags]              run a plan; results in results/runs/<run-id>/
  bench report DIR               re-render DIR/report.md and DIR/plots from DIR/summary.csv
  bench compare [-gobench] A B   compare two run directories cell by cell
  bench merge [-out FILE] DIR…   merge the .hlog and .json of several generators into one row
  bench plans                    list the built-in plans

Run "bench run -h" for the run flags.
`

// Main is the bench command: args without the program name. Output meant
// for scripts goes to stdout, progress and diagnostics to stderr.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("missing subcommand")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	case "run":
		return cmdRun(ctx, args[1:], stdout, stderr)
	case "report":
		return cmdReport(args[1:], stdout)
	case "compare":
		return cmdCompare(args[1:], stdout)
	case "merge":
		return cmdMerge(args[1:], stdout)
	case "plans":
		return cmdPlans(args[1:], stdout)
	}
	return usagef("unknown subcommand %q", args[0])
}

// parseFlags parses args with fs; -h prints the flags to stdout and returns
// errHelp.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "Usage of bench %s:\n", fs.Name())
		fs.PrintDefaults()
		return errHelp
	}
	if err != nil {
		return usagef("bench %s: %v", fs.Name(), err)
	}
	return nil
}

var errHelp = errors.New("help shown")

func helpOK(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

// runFlags are the flags of bench run.
type runFlags struct {
	plan, out, resume      string
	runID                  string
	server, loadgen        string
	serverCPUs, genCPUs    string
	duration, warmup       time.Duration
	startTimeout           time.Duration
	planSet, durSet, wuSet bool
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f runFlags
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&f.plan, "plan", "quick", "built-in plan name ("+strings.Join(plans.Names(), ", ")+") or a YAML/JSON plan file")
	fs.StringVar(&f.out, "out", filepath.Join("results", "runs"), "runs go in `DIR`/<run-id>; DIR/latest links to the newest")
	fs.StringVar(&f.runID, "run-id", "", "name of the run directory (default: UTC start time, e.g. 20261125T203000Z)")
	fs.StringVar(&f.resume, "resume", "", "continue the run in `DIR`: skip cells done there (ok or saturated), append the rest")
	fs.StringVar(&f.server, "server", "", "server binary (default: next to bench)")
	fs.StringVar(&f.loadgen, "loadgen", "", "loadgen binary (default: next to bench)")
	fs.StringVar(&f.serverCPUs, "server-cpus", "", "CPU list for the server, e.g. 0 or 0-1 (default: first available CPU)")
	fs.StringVar(&f.genCPUs, "gen-cpus", "", "CPU list for the generator, e.g. 1 or 2,3 (default: second available CPU)")
	fs.DurationVar(&f.duration, "duration", 0, "override the plan's measured window")
	fs.DurationVar(&f.warmup, "warmup", 0, "override the plan's warm-up")
	fs.DurationVar(&f.startTimeout, "start-timeout", DefaultStartTimeout, "how long a server may take to print its listening line")
	if err := parseFlags(fs, args, stdout); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usagef("bench run: unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "plan":
			f.planSet = true
		case "duration":
			f.durSet = true
		case "warmup":
			f.wuSet = true
		}
	})
	if f.resume != "" && (f.planSet || f.durSet || f.wuSet || f.runID != "") {
		return usagef("bench run: -resume takes the plan from DIR/plan.yaml; drop -plan, -duration, -warmup and -run-id")
	}
	if f.runID != "" && (strings.ContainsAny(f.runID, `/\`) || strings.HasPrefix(f.runID, ".") || f.runID == "latest") {
		return usagef("bench run: -run-id %q: want a plain directory name", f.runID)
	}
	if f.durSet && f.duration <= 0 {
		return usagef("bench run: -duration must be positive")
	}
	if f.wuSet && f.warmup < 0 {
		return usagef("bench run: -warmup must not be negative")
	}
	if f.startTimeout <= 0 {
		return usagef("bench run: -start-timeout must be positive")
	}
	return runPlan(ctx, f, stdout, stderr)
}

func runPlan(ctx context.Context, f runFlags, stdout, stderr io.Writer) error {
	var (
		plan Plan
		err  error
	)
	if f.resume != "" {
		plan, err = LoadPlan(filepath.Join(f.resume, "plan.yaml"))
	} else {
		plan, err = LoadPlan(f.plan)
	}
	if err != nil {
		return err
	}
	if f.durSet {
		plan.Duration = f.duration
	}
	if f.wuSet {
		plan.Warmup = f.warmup
	}
	if err := plan.Validate(maxConns()); err != nil {
		return err
	}
	serverCPUs, genCPUs, warn, err := chooseCPUs(f.serverCPUs, f.genCPUs)
	if err != nil {
		return err
	}
	if warn != "" {
		fmt.Fprintln(stderr, "warning:", warn)
	}
	serverPath, err := findBinary(f.server, "server")
	if err != nil {
		return err
	}
	loadgenPath, err := findBinary(f.loadgen, "loadgen")
	if err != nil {
		return err
	}

	var dir, runID string
	if f.resume != "" {
		dir, runID = f.resume, filepath.Base(filepath.Clean(f.resume))
	} else {
		if dir, runID, err = NewRunDir(f.out, f.runID, time.Now()); err != nil {
			return err
		}
		data, err := plan.Marshal()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "plan.yaml"), data, 0o644); err != nil {
			return fmt.Errorf("write plan: %w", err)
		}
	}
	csvPath := filepath.Join(dir, "summary.csv")
	w, prior, err := results.OpenCSV(csvPath, stderr)
	if err != nil {
		return err
	}
	defer w.Close()
	if len(prior) > 0 && prior[0].RunID != "" {
		runID = prior[0].RunID
	}

	_, skipped := plan.Expand()
	for _, s := range skipped {
		fmt.Fprintf(stderr, "skipping %s: protocol not served by the backend\n", s)
	}
	fmt.Fprintf(stderr, "run %s: plan %s, server on CPUs %s, generator on CPUs %s, results in %s\n",
		runID, plan.Name, serverCPUs, genCPUs, dir)

	cfg := Config{
		Plan: plan, RunID: runID, Dir: dir,
		ServerPath: serverPath, LoadgenPath: loadgenPath,
		ServerCPUs: serverCPUs, GenCPUs: genCPUs,
		Env:          DetectEnv(ctx),
		Skip:         Completed(prior),
		StartTimeout: f.startTimeout,
		Progress:     newProgress(stderr),
	}
	rec := &recorder{w: w}
	out, runErr := Run(ctx, cfg, rec)
	if cerr := w.Close(); cerr != nil && runErr == nil {
		runErr = cerr
	}
	if out.Skipped > 0 {
		fmt.Fprintf(stderr, "resumed: %d of %d cells were already done\n", out.Skipped, out.Planned)
	}
	rows := Latest(append(prior, rec.rows...))
	if len(rows) > 0 {
		if err := results.WriteReport(dir, rows); err != nil {
			fmt.Fprintln(stderr, "warning:", err)
		}
	}
	switch {
	case errors.Is(runErr, ErrInterrupted):
		fmt.Fprintf(stderr, "interrupted after %d cells; continue with: bench run -resume %s\n", out.Ran, dir)
	case runErr == nil:
		fmt.Fprintf(stderr, "done: %d cells, %d failed\n", out.Ran, out.Failed)
	}
	fmt.Fprintln(stdout, dir)
	if runErr == nil && out.Ran > 0 && out.Failed == out.Ran {
		return fmt.Errorf("all %d cells failed; reasons in %s", out.Ran, csvPath)
	}
	return runErr
}

// recorder writes rows through and keeps them for the report.
type recorder struct {
	w    RowWriter
	rows []results.Row
}

func (r *recorder) Write(row results.Row) error {
	if err := r.w.Write(row); err != nil {
		return err
	}
	r.rows = append(r.rows, row)
	return nil
}

func newProgress(stderr io.Writer) Progress {
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &BarProgress{W: stderr}
	}
	return LineProgress{W: stderr}
}

// maxConns is the largest connection count the open-file hard limit
// allows, keeping FDHeadroom spare (Go raises the soft limit to the hard
// one in every process). 0 means unknown.
func maxConns() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Max == unix.RLIM_INFINITY {
		return 0
	}
	return max(int(lim.Max)-FDHeadroom, 1)
}

// chooseCPUs resolves the -server-cpus and -gen-cpus lists against the
// CPUs this process may use. By default the server gets the first CPU and
// the generator the second; with one CPU both share it, with a warning.
func chooseCPUs(serverList, genList string) (server, gen cpuset.Set, warn string, err error) {
	avail, err := cpuset.Available()
	if err != nil {
		return nil, nil, "", err
	}
	pick := func(list, flagName string, def cpuset.Set) (cpuset.Set, error) {
		if list == "" {
			return def, nil
		}
		s, err := cpuset.Parse(list)
		if err != nil {
			return nil, usagef("bench run: -%s: %v", flagName, err)
		}
		if miss := s.Subset(avail); len(miss) > 0 {
			return nil, usagef("bench run: -%s: CPUs %s not available (available: %s)", flagName, miss, avail)
		}
		return s, nil
	}
	defServer, defGen := cpuset.Set{avail[0]}, cpuset.Set{avail[0]}
	if len(avail) > 1 {
		defGen = cpuset.Set{avail[1]}
	}
	if server, err = pick(serverList, "server-cpus", defServer); err != nil {
		return nil, nil, "", err
	}
	if gen, err = pick(genList, "gen-cpus", defGen); err != nil {
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

// NewRunDir creates parent/<run-id> and points parent/latest at it. An
// empty id takes the UTC time now (e.g. 20261125T203000Z, with -2, -3, …
// if taken); a given id must not exist yet.
func NewRunDir(parent, id string, now time.Time) (dir, runID string, err error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", "", fmt.Errorf("run directory: %w", err)
	}
	if id != "" {
		runID, dir = id, filepath.Join(parent, id)
		if err := os.Mkdir(dir, 0o755); err != nil {
			if errors.Is(err, os.ErrExist) {
				return "", "", fmt.Errorf("run directory %s exists; continue it with -resume %s", dir, dir)
			}
			return "", "", fmt.Errorf("run directory: %w", err)
		}
	} else {
		base := now.UTC().Format("20060102T150405Z")
		for i := 1; i < 100; i++ {
			runID = base
			if i > 1 {
				runID = fmt.Sprintf("%s-%d", base, i)
			}
			dir = filepath.Join(parent, runID)
			err = os.Mkdir(dir, 0o755)
			if err == nil || !errors.Is(err, os.ErrExist) {
				break
			}
		}
		if err != nil {
			return "", "", fmt.Errorf("run directory: %w", err)
		}
	}
	// Replace the link atomically: a new link renamed over the old one.
	tmp := filepath.Join(parent, ".latest-"+runID)
	_ = os.Remove(tmp)
	if err := os.Symlink(runID, tmp); err != nil {
		return "", "", fmt.Errorf("latest link: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(parent, "latest")); err != nil {
		os.Remove(tmp)
		return "", "", fmt.Errorf("latest link: %w", err)
	}
	return dir, runID, nil
}

func cmdPlans(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return usagef("bench plans takes no arguments")
	}
	for _, name := range plans.Names() {
		p, err := LoadPlan(name)
		if err != nil {
			return err
		}
		cells, _ := p.Expand()
		total := time.Duration(len(cells)) * p.cellTime()
		fmt.Fprintf(stdout, "%-8s %4d cells, about %-9v %s\n", name, len(cells), total.Round(time.Minute), p.Description)
	}
	return nil
}

func readRows(dir string) ([]results.Row, error) {
	f, err := os.Open(filepath.Join(dir, "summary.csv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := results.ReadCSV(f, os.Stderr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return Latest(rows), nil
}

func cmdReport(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	if err := parseFlags(fs, args, stdout); err != nil {
		return helpOK(err)
	}
	if fs.NArg() != 1 {
		return usagef("bench report takes one run directory")
	}
	dir := fs.Arg(0)
	rows, err := readRows(dir)
	if err != nil {
		return err
	}
	if err := results.WriteReport(dir, rows); err != nil {
		return err
	}
	fmt.Fprintln(stdout, filepath.Join(dir, "report.md"))
	return nil
}

func cmdCompare(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	gobench := fs.Bool("gobench", false, "also write DIR/gobench.txt in each directory, in Go benchmark format for benchstat")
	if err := parseFlags(fs, args, stdout); err != nil {
		return helpOK(err)
	}
	if fs.NArg() != 2 {
		return usagef("bench compare takes two run directories")
	}
	a, err := readRows(fs.Arg(0))
	if err != nil {
		return err
	}
	b, err := readRows(fs.Arg(1))
	if err != nil {
		return err
	}
	if err := results.Compare(stdout, a, b); err != nil {
		return err
	}
	if !*gobench {
		return nil
	}
	var paths []string
	for i, rows := range [][]results.Row{a, b} {
		p := filepath.Join(fs.Arg(i), "gobench.txt")
		if err := writeGoBench(p, rows); err != nil {
			return err
		}
		paths = append(paths, p)
	}
	fmt.Fprintf(stdout, "\nbenchstat %s %s\n", paths[0], paths[1])
	return nil
}

func writeGoBench(path string, rows []results.Row) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := results.WriteGoBench(f, rows); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

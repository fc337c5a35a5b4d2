package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/asyncbench/asyncbench/internal/cli"
	"github.com/asyncbench/asyncbench/runner"
	"github.com/asyncbench/asyncbench/runner/costs"
	"github.com/asyncbench/asyncbench/runner/cpuset"
)

const costsDoc = `Costs measures what concurrency costs in Go on this machine and prints it
beside the figures of Jim Blandy's 2020 Rust experiments: the time to create
a goroutine and an OS thread, one switch between goroutines (channel, pipe)
and between OS threads (blocking pipe), each pinned to one CPU and unpinned,
and the memory an idle goroutine and an idle OS thread hold, user (RSS) and
kernel (stacks, page tables), as a slope over several task counts.

Beside Go's figures, the kernel's floor: the same thread figures measured
by threadcost, a C program without a language runtime (built by make build
into bin/ when a C compiler exists), and the thread switch of
'perf bench sched pipe -T' (half its round trip) where perf is installed.
Neither is required: without them their rows say "not built" or "perf not
installed", the JSON leaves their keys out, and a line on stderr says so.

Every measurement runs in a fresh child process (bench itself re-executed,
threadcost, perf), so no measurement inherits another's heap, threads or
stacks. Each idle task holds a pipe, so -tasks needs two open files per task.

Progress goes to stderr; the table (or with -json one JSON object: headline
figures, the original figures and the full report) to stdout.

Exit status: 0 done, 1 could not measure, 2 bad command line or an open-file
limit too low for -tasks, 130 interrupted.
`

// costsFlags are the flags of bench costs.
type costsFlags struct {
	json        bool
	reps, tasks int
	cpu         int
	out         string
	threadCost  string
}

func cmdCosts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f costsFlags
	fs := newFlagSet("costs", "[-json] [-reps N] [-tasks N] [-cpu N] [-out FILE] [-threadcost PATH]", costsDoc)
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of the table")
	fs.IntVar(&f.reps, "reps", 5, "repetitions of each timing, each in its own process (1 to 1000)")
	fs.IntVar(&f.tasks, "tasks", 4000, "largest number of idle tasks for the memory slope (at least 8; two open files each)")
	fs.IntVar(&f.cpu, "cpu", -1, "CPU the pinned measurements run on (default: the last available CPU)")
	fs.StringVar(&f.out, "out", "", "also write the JSON object to `FILE`")
	fs.StringVar(&f.threadCost, "threadcost", "", "the C threadcost program (default: threadcost beside bench, its rows left empty when absent)")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("costs", "unexpected argument %q", fs.Arg(0))
	}
	if f.reps < 1 {
		return usagef("costs", "-reps %d: at least 1", f.reps)
	}
	cpu, err := pinCPU(f.cpu)
	if err != nil {
		return err
	}
	o := costs.Options{Reps: f.reps, Tasks: f.tasks}
	if o.ThreadCost, err = findThreadCost(f.threadCost); err != nil {
		return err
	}
	o.Perf, _ = exec.LookPath("perf")
	if err := o.Validate(softFileLimit()); err != nil {
		return usagef("costs", "%v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("costs: %w", err)
	}
	progress := func(s string) { fmt.Fprintf(stderr, "costs: %s\n", s) }
	r, err := costs.Run(ctx, exe, cpu, o, progress)
	if err != nil {
		if ctx.Err() != nil {
			return &cli.ExitError{Code: cli.ExitInterrupted, Err: errors.New("costs: interrupted")}
		}
		return fmt.Errorf("costs: %w", err)
	}
	env := runner.DetectEnv(exe)
	r.CPUModel, r.Kernel = env.CPUModel, env.Kernel
	sum := r.Summarize()
	if f.out != "" {
		if err := writeJSON(f.out, sum); err != nil {
			return err
		}
	}
	if f.json {
		return json.NewEncoder(stdout).Encode(sum)
	}
	return r.WriteTable(stdout)
}

// findThreadCost returns the threadcost program: path when given (a usage
// error when it is no executable), else threadcost beside this executable,
// or "" when it was not built there.
func findThreadCost(path string) (string, error) {
	if path != "" {
		p, err := findBinary(path, "threadcost")
		if err != nil {
			return "", usagef("costs", "-threadcost: %v", err)
		}
		return p, nil
	}
	p, err := findBinary("", "threadcost")
	if err != nil {
		return "", nil
	}
	return p, nil
}

// pinCPU returns the CPU for the pinned measurements: cpu when it is
// available, the last available CPU when cpu is -1.
func pinCPU(cpu int) (int, error) {
	avail, err := cpuset.Available()
	if err != nil {
		return 0, fmt.Errorf("costs: %w", err)
	}
	if cpu == -1 {
		return avail[len(avail)-1], nil
	}
	if !slices.Contains(avail, cpu) {
		return 0, usagef("costs", "-cpu %d: not available (available: %s)", cpu, avail)
	}
	return cpu, nil
}

// softFileLimit is the soft open-file limit, which the measuring children
// inherit; 0 when unknown or unlimited.
func softFileLimit() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == unix.RLIM_INFINITY {
		return 0
	}
	return int(lim.Cur)
}

// writeJSON writes v as one JSON object to path, replacing it whole.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("costs: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("costs: -out: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("costs: -out: %w", err)
	}
	return nil
}

package costs

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"

	"github.com/asyncbench/asyncbench/runner/cpuset"
)

// EnvChild holds the job of a measuring child, as JSON. A process that
// finds it set measures that one job, prints the result as JSON on stdout
// and exits (ChildMain).
const EnvChild = "ASYNCBENCH_COSTS_CHILD"

// job is what one child measures.
type job struct {
	Kind  string `json:"kind"`  // "timings", "memory-goroutine" or "memory-thread"
	Ops   int    `json:"ops"`   // creations (timings) or tasks (memory)
	Ring  int    `json:"ring"`  // timings: tasks in the switch ring
	Loops int    `json:"loops"` // timings: times round the ring
}

// ChildMain plays the measuring child and exits when EnvChild is set; it
// returns at once otherwise. Call it first thing in main (and TestMain).
func ChildMain() {
	spec := os.Getenv(EnvChild)
	if spec == "" {
		return
	}
	var j job
	var out any
	err := json.Unmarshal([]byte(spec), &j)
	if err == nil {
		out, err = runJob(j)
	}
	if err == nil {
		err = json.NewEncoder(os.Stdout).Encode(out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "costs child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runJob(j job) (any, error) {
	switch j.Kind {
	case "timings":
		return measureTimings(j)
	case "memory-" + designGoroutine, "memory-" + designThread:
		return measureMemory(j.Kind[len("memory-"):], j.Ops)
	}
	return nil, fmt.Errorf("unknown job %q", j.Kind)
}

// runChild runs exe as a measuring child for j, pinned to cpus when not
// empty (with GOMAXPROCS=1), and decodes its JSON result into out.
func runChild(ctx context.Context, exe string, j job, cpus cpuset.Set, out any) error {
	spec, err := json.Marshal(j)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), EnvChild+"="+string(spec))
	if len(cpus) > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS=1")
	}
	stdout, err := runPinned(cmd, j.Kind+" child", cpus)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		return fmt.Errorf("%s child printed %q: %w", j.Kind, stdout, err)
	}
	return nil
}

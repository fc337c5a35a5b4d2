package costs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/asyncbench/asyncbench/runner/cpuset"
)

// NotBuilt is why the no-runtime figures are missing when the threadcost
// program was not built.
const NotBuilt = "not built (make build needs a C compiler)"

// NoRuntime is what an OS thread costs with no language runtime in the
// way, measured by threadcost (runner/costs/threadcost, C, built by make
// build) with the same methods as the Go thread figures: creation and first
// run of a thread, one hop of a ring of threads over blocking pipes minus
// the one-thread pipe round trip, and memory per idle thread as a slope
// over the same task counts. Nothing but NotMeasured is set when it was
// not measured.
type NoRuntime struct {
	Program     string `json:"program,omitempty"`
	NotMeasured string `json:"not_measured,omitempty"` // why not, e.g. NotBuilt
	// StackBytes is each thread's stack, the C library's default (the
	// soft stack limit): address space, of which RSS counts the pages a
	// thread touched.
	StackBytes int64             `json:"stack_bytes,omitempty"`
	Pinned     *NoRuntimeTimings `json:"pinned,omitempty"`
	Unpinned   *NoRuntimeTimings `json:"unpinned,omitempty"`
	Memory     *Memory           `json:"memory,omitempty"`
}

// NoRuntimeTimings are the C thread's create and switch figures of one
// scheduling mode, in microseconds per operation.
type NoRuntimeTimings struct {
	Mode           string `json:"mode"` // "pinned" (one CPU) or "unpinned"
	CPUs           string `json:"cpus"`
	Create         Stat   `json:"create_thread_us"`
	ThreadsCreated [2]int `json:"threads_created_of"`    // distinct thread IDs of how many creations
	Switch         Stat   `json:"switch_thread_pipe_us"` // pipe cost of one thread subtracted
	Pipe           Stat   `json:"pipe_roundtrip_thread_us"`
}

// nativeTimings is what `threadcost timings` prints, microseconds per
// operation; the names are those of timingSample.
type nativeTimings struct {
	CreateThread float64 `json:"create_thread"`
	ThreadTIDs   int     `json:"thread_tids"`
	ThreadOps    int     `json:"thread_ops"`
	HopPipeT     float64 `json:"hop_pipe_thread"`
	PipeT        float64 `json:"pipe_thread"`
	StackBytes   int64   `json:"stack_bytes"`
}

// nativeMemory is what `threadcost memory` prints.
type nativeMemory struct {
	Sample
	StackBytes int64 `json:"stack_bytes"`
}

// parseNativeTimings decodes and checks the output of `threadcost timings`
// for ops creations: every figure present and positive.
func parseNativeTimings(b []byte, ops int) (nativeTimings, error) {
	var s nativeTimings
	if err := strictJSON(b, &s); err != nil {
		return s, fmt.Errorf("threadcost timings printed %q: %w", b, err)
	}
	switch {
	case s.ThreadOps != ops || s.ThreadTIDs < 1 || s.ThreadTIDs > ops:
		return s, fmt.Errorf("threadcost timings: %d distinct threads of %d creations, want %d creations", s.ThreadTIDs, s.ThreadOps, ops)
	case !(s.CreateThread > 0 && s.HopPipeT > 0 && s.PipeT > 0 && s.StackBytes > 0):
		return s, fmt.Errorf("threadcost timings: a figure is not positive: %+v", s)
	}
	return s, nil
}

// parseNativeMemory decodes and checks the output of `threadcost memory`
// for n tasks: each task is one more thread.
func parseNativeMemory(b []byte, n int) (nativeMemory, error) {
	var s nativeMemory
	if err := strictJSON(b, &s); err != nil {
		return s, fmt.Errorf("threadcost memory printed %q: %w", b, err)
	}
	if s.Tasks != n || s.Threads != n || s.StackBytes <= 0 {
		return s, fmt.Errorf("threadcost memory: %d tasks added %d threads (stack %d B), want %d", s.Tasks, s.Threads, s.StackBytes, n)
	}
	return s, nil
}

// strictJSON decodes one JSON object into v, refusing unknown fields, so
// that a renamed field in the C program fails here rather than reads 0.
func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// noRuntime measures the C thread figures with the threadcost program at
// prog: o.Reps timing children pinned to cpu and as many unpinned, then one
// memory child per task count.
func noRuntime(ctx context.Context, prog string, cpu int, o Options, progress func(string)) (NoRuntime, error) {
	nr := NoRuntime{Program: prog}
	ops := max(o.CreateOps/10, 1)
	for _, mode := range []struct {
		name string
		cpus cpuset.Set
		dst  **NoRuntimeTimings
	}{{"pinned", cpuset.Set{cpu}, &nr.Pinned}, {"unpinned", nil, &nr.Unpinned}} {
		progress("C threads (no runtime), " + mode.name)
		t := &NoRuntimeTimings{Mode: mode.name, CPUs: "all"}
		if len(mode.cpus) > 0 {
			t.CPUs = mode.cpus.String()
		}
		var create, sw, pipe []float64
		for range o.Reps {
			cmd := exec.CommandContext(ctx, prog, "timings", strconv.Itoa(ops), strconv.Itoa(o.Ring), strconv.Itoa(o.SwitchLoops))
			out, err := runPinned(cmd, "threadcost timings", mode.cpus)
			if err != nil {
				return nr, err
			}
			s, err := parseNativeTimings(out, ops)
			if err != nil {
				return nr, err
			}
			nr.StackBytes = s.StackBytes
			t.ThreadsCreated = [2]int{t.ThreadsCreated[0] + s.ThreadTIDs, t.ThreadsCreated[1] + s.ThreadOps}
			create, sw, pipe = append(create, s.CreateThread), append(sw, s.HopPipeT-s.PipeT), append(pipe, s.PipeT)
		}
		t.Create, t.Switch, t.Pipe = statOf(create), statOf(sw), statOf(pipe)
		*mode.dst = t
	}
	progress("memory of idle C threads (no runtime)")
	m, err := memorySlope(designNoRuntime, o, func(n int) (Sample, error) {
		cmd := exec.CommandContext(ctx, prog, "memory", strconv.Itoa(n))
		out, err := runPinned(cmd, "threadcost memory", nil)
		if err != nil {
			return Sample{}, err
		}
		s, err := parseNativeMemory(out, n)
		return s.Sample, err
	})
	if err != nil {
		return nr, err
	}
	nr.Memory = &m
	return nr, nil
}

// runPinned runs cmd pinned to cpus when not empty, killed with this
// process, and returns its stdout; name says what it was in errors.
func runPinned(cmd *exec.Cmd, name string, cpus cpuset.Set) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cpuset.Start(cmd, cpus); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", name, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

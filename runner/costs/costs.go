// Package costs measures what concurrency costs in Go on this machine: the
// time to create a goroutine and an OS thread, the time of one switch
// between goroutines and between OS threads, and the memory each idle task
// holds, user and kernel. It reproduces, for Go, the table of Jim Blandy's
// 2020 Rust context-switch experiments (see Original) and prints both side
// by side, with the kernel's floor beside them: the same thread figures
// from a C program without a language runtime (NoRuntime) and the switch
// of `perf bench sched pipe -T` (PerfPipe).
//
// Every measurement runs in a fresh child process (the running binary,
// re-executed with EnvChild set), so one measurement's heap, threads and
// stacks never count in another's. `bench costs` and the package tests call
// ChildMain first thing to play that child.
package costs

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"time"
)

// Options say how much to measure. The zero value of a field means its
// default.
type Options struct {
	Reps  int // repetitions of each timing, each in its own process; 0 means 5
	Tasks int // largest number of idle tasks for the memory slope; 0 means 4000

	CreateOps   int // creations timed per repetition; 0 means 20000 goroutines, a tenth as many threads
	Ring        int // tasks in the switch ring; 0 means 500, as in the original
	SwitchLoops int // times the token goes round the ring per repetition; 0 means 100

	// ThreadCost is the path of the threadcost program (C, no runtime);
	// "" means not built, and the report says so (NotBuilt).
	ThreadCost string `json:"-"`
	// Perf is the path of perf, for the cross-check with `perf bench sched
	// pipe -T`; "" means not installed (PerfNotInstalled).
	Perf string `json:"-"`
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Reps, 5)
	def(&o.Tasks, 4000)
	def(&o.CreateOps, 20000)
	def(&o.Ring, 500)
	def(&o.SwitchLoops, 100)
	return o
}

// Validate checks the options against what this machine allows: each idle
// task holds two file descriptors (a pipe).
func (o Options) Validate(maxFiles int) error {
	o = o.withDefaults()
	switch {
	case o.Reps > 1000:
		return fmt.Errorf("-reps %d: at most 1000", o.Reps)
	case o.Tasks < 8:
		return fmt.Errorf("-tasks %d: at least 8, so the slope has four points", o.Tasks)
	case maxFiles > 0 && 2*o.Tasks+64 > maxFiles:
		return fmt.Errorf("-tasks %d needs %d open files (two per task), the limit is %d: lower -tasks or raise ulimit -n", o.Tasks, 2*o.Tasks+64, maxFiles)
	case maxFiles > 0 && 2*o.Ring+64 > maxFiles:
		return fmt.Errorf("ring of %d tasks needs %d open files, the limit is %d", o.Ring, 2*o.Ring+64, maxFiles)
	}
	return nil
}

// Stat is one figure over repetitions: the median with the smallest and
// largest value seen.
type Stat struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Values []float64 `json:"values"`
}

func statOf(v []float64) Stat {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return Stat{}
	}
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: med, Min: s[0], Max: s[len(s)-1], Values: v}
}

// Timings are the create and switch figures of one scheduling mode, in
// microseconds per operation.
type Timings struct {
	Mode       string `json:"mode"` // "pinned" (one CPU, GOMAXPROCS=1) or "unpinned"
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUs       string `json:"cpus"`

	CreateGoroutine Stat `json:"create_goroutine_us"`
	CreateThread    Stat `json:"create_thread_us"`
	// ThreadsCreated is how many distinct thread IDs the thread creations
	// ran on over how many creations: equal numbers show that every
	// creation made a new OS thread.
	ThreadsCreated [2]int `json:"threads_created_of"`

	SwitchChannel       Stat `json:"switch_goroutine_channel_us"`
	SwitchPipeGoroutine Stat `json:"switch_goroutine_pipe_us"` // pipe cost of one task subtracted
	SwitchPipeThread    Stat `json:"switch_thread_pipe_us"`    // pipe cost of one task subtracted
	PipeGoroutine       Stat `json:"pipe_roundtrip_goroutine_us"`
	PipeThread          Stat `json:"pipe_roundtrip_thread_us"`
}

// Memory is the memory per idle task of one design, each a least-squares
// slope over several task counts, in bytes per task.
type Memory struct {
	Design string   `json:"design"` // "goroutine", "thread" or "thread_no_runtime"
	Tasks  []int    `json:"tasks"`  // task counts measured
	User   float64  `json:"user_bytes"`
	Kernel float64  `json:"kernel_bytes"` // kernel stacks + page tables
	Total  float64  `json:"total_bytes"`
	R2     float64  `json:"r2_total"` // fit of the total: near 1 means linear
	Points []Sample `json:"points"`
}

// Report is everything `bench costs` measured.
type Report struct {
	GoVersion string    `json:"go_version"`
	CPUModel  string    `json:"cpu_model"`
	Kernel    string    `json:"kernel"`
	Start     time.Time `json:"start_time"`
	Options   Options   `json:"options"`
	Pinned    Timings   `json:"pinned"`
	Unpinned  Timings   `json:"unpinned"`
	Goroutine Memory    `json:"memory_goroutine"`
	Thread    Memory    `json:"memory_thread"`
	NoRuntime NoRuntime `json:"thread_no_runtime"`
	Perf      PerfPipe  `json:"perf_sched_pipe"`
}

// Run measures everything and returns the report. exe is the binary to
// re-execute as the measuring child (os.Executable() in bench; the test
// binary in tests); cpu is the CPU to pin to for the pinned mode. A missing
// threadcost program or perf (o.ThreadCost, o.Perf empty) and a failing
// perf leave their figures out with the reason in the report and one line
// of progress; they are no error.
func Run(ctx context.Context, exe string, cpu int, o Options, progress func(string)) (*Report, error) {
	o = o.withDefaults()
	if progress == nil {
		progress = func(string) {}
	}
	r := &Report{GoVersion: runtime.Version(), Start: time.Now().UTC(), Options: o}
	var err error
	progress("timings, pinned to one CPU")
	if r.Pinned, err = timings(ctx, exe, "pinned", []int{cpu}, o); err != nil {
		return nil, err
	}
	progress("timings, unpinned")
	if r.Unpinned, err = timings(ctx, exe, "unpinned", nil, o); err != nil {
		return nil, err
	}
	progress("memory of idle goroutines")
	if r.Goroutine, err = memory(ctx, exe, designGoroutine, o); err != nil {
		return nil, err
	}
	progress("memory of idle OS threads")
	if r.Thread, err = memory(ctx, exe, designThread, o); err != nil {
		return nil, err
	}
	if o.ThreadCost == "" {
		r.NoRuntime = NoRuntime{NotMeasured: NotBuilt}
		progress("C threads (no runtime): " + NotBuilt + "; skipped")
	} else if r.NoRuntime, err = noRuntime(ctx, o.ThreadCost, cpu, o, progress); err != nil {
		return nil, err
	}
	if o.Perf == "" {
		r.Perf = PerfPipe{NotMeasured: PerfNotInstalled}
		progress("perf bench sched pipe: " + PerfNotInstalled + "; skipped")
	} else if r.Perf, err = perfPipe(ctx, o.Perf, cpu, o, progress); err != nil {
		return nil, err
	} else if r.Perf.NotMeasured != "" {
		progress("perf bench sched pipe: " + r.Perf.NotMeasured + "; skipped")
	}
	return r, nil
}

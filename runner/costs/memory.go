package costs

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/asyncbench/asyncbench/internal/proc"
	"github.com/asyncbench/asyncbench/results"
)

// Designs whose idle tasks are measured.
const (
	designGoroutine = "goroutine"         // goroutine parked in a read on Go's netpoller
	designThread    = "thread"            // goroutine locked to its OS thread, blocked in read(2)
	designNoRuntime = "thread_no_runtime" // C thread (threadcost), blocked in read(2)
)

// settle is how long a memory child waits after its tasks reported ready,
// so that each has reached its blocking read.
const settle = 200 * time.Millisecond

// Sample is what n idle tasks added to one child, in bytes (threads as a
// count). Kernel figures come from /proc/meminfo and are system-wide: they
// hold only on a quiet machine, and the slope over several n is what counts.
type Sample struct {
	Tasks       int   `json:"tasks"`
	RSS         int64 `json:"rss_bytes"`          // VmRSS of the child
	KernelStack int64 `json:"kernel_stack_bytes"` // /proc/meminfo KernelStack
	PageTables  int64 `json:"page_tables_bytes"`  // /proc/meminfo PageTables
	Threads     int   `json:"threads"`            // threads of the child
}

// memSnapshot is the state a Sample is the difference of.
type memSnapshot struct {
	rss, kstack, ptables int64
	threads              int
}

// readSnapshot reads a process's VmRSS and thread count and the system's
// kernel stacks and page tables from fs.
func readSnapshot(fs proc.FS, pid int) (memSnapshot, error) {
	st, err := fs.Proc(pid).Status()
	if err != nil {
		return memSnapshot{}, fmt.Errorf("read status: %w", err)
	}
	kstack, ptables, err := fs.KernelMemory()
	if err != nil {
		return memSnapshot{}, err
	}
	return memSnapshot{rss: st.RSSKiB << 10, kstack: kstack, ptables: ptables, threads: st.Threads}, nil
}

func (a memSnapshot) sub(b memSnapshot, tasks int) Sample {
	return Sample{Tasks: tasks, RSS: a.rss - b.rss, KernelStack: a.kstack - b.kstack,
		PageTables: a.ptables - b.ptables, Threads: a.threads - b.threads}
}

// measureMemory opens n pipes, then starts n tasks of the design, each
// blocked reading its own pipe, and returns what the tasks added. The pipes
// exist before the first snapshot, so their kernel memory is not counted.
func measureMemory(design string, n int) (*Sample, error) {
	fs, err := proc.Open(proc.DefaultRoot)
	if err != nil {
		return nil, err
	}
	ps, err := newPipes(n, design == designThread)
	if err != nil {
		return nil, err
	}
	defer closePipes(ps)
	runtime.GC()
	debug.FreeOSMemory()
	before, err := readSnapshot(fs, os.Getpid())
	if err != nil {
		return nil, err
	}
	var ready, done sync.WaitGroup
	for _, p := range ps {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			if design == designThread {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
			}
			b := make([]byte, 1)
			ready.Done()
			_ = p.read(b)
		}()
	}
	ready.Wait()
	time.Sleep(settle)
	after, err := readSnapshot(fs, os.Getpid())
	for _, p := range ps {
		_ = p.write([]byte{0})
	}
	done.Wait()
	if err != nil {
		return nil, err
	}
	s := after.sub(before, n)
	return &s, nil
}

// memory runs one Go child per task count and fits bytes per task.
func memory(ctx context.Context, exe, design string, o Options) (Memory, error) {
	return memorySlope(design, o, func(n int) (Sample, error) {
		var s Sample
		err := runChild(ctx, exe, job{Kind: "memory-" + design, Ops: n}, nil, &s)
		return s, err
	})
}

// memorySlope takes one sample per task count (a quarter, a half, three
// quarters and all of o.Tasks), each from a fresh process, and fits bytes
// per task.
func memorySlope(design string, o Options, sample func(n int) (Sample, error)) (Memory, error) {
	m := Memory{Design: design}
	for i := 1; i <= 4; i++ {
		n := o.Tasks * i / 4
		s, err := sample(n)
		if err != nil {
			return m, err
		}
		m.Tasks = append(m.Tasks, n)
		m.Points = append(m.Points, s)
	}
	m.User, m.Kernel, m.Total, m.R2 = fitMemory(m.Points)
	return m, nil
}

// fitMemory returns the bytes per task of user memory, kernel memory and
// their total, each as a least-squares slope over the samples, and the R²
// of the total's fit.
func fitMemory(ps []Sample) (user, kernel, total, r2 float64) {
	xs := make([]float64, len(ps))
	us, ks, ts := make([]float64, len(ps)), make([]float64, len(ps)), make([]float64, len(ps))
	for i, p := range ps {
		xs[i] = float64(p.Tasks)
		us[i] = float64(p.RSS)
		ks[i] = float64(p.KernelStack + p.PageTables)
		ts[i] = us[i] + ks[i]
	}
	user, _, _ = results.FitLine(xs, us)
	kernel, _, _ = results.FitLine(xs, ks)
	total, _, r2 = results.FitLine(xs, ts)
	return user, kernel, total, r2
}

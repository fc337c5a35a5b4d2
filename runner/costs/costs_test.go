package costs

import (
	"context"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/internal/proc"
	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/runner/cpuset"
)

func TestMain(m *testing.M) {
	ChildMain()
	os.Exit(m.Run())
}

func TestSlope(t *testing.T) {
	xs := []float64{1000, 2000, 3000, 4000}
	ys := []float64{5000 + 8192*1000, 5000 + 8192*2000, 5000 + 8192*3000, 5000 + 8192*4000}
	b, a, r2 := results.FitLine(xs, ys)
	if b != 8192 || a != 5000 || r2 != 1 {
		t.Fatalf("slope = %v, %v, %v; want 8192, 5000, 1", b, a, r2)
	}
	// Noise of ±1000 around y = 10x: slope (10·Σdx² + Σdx·e)/Σdx² by hand.
	ys = []float64{10*1000 + 1000, 10*2000 - 1000, 10*3000 + 1000, 10*4000 - 1000}
	b, _, r2 = results.FitLine(xs, ys)
	// Σdx² = 5e6, Σdx·e = (-1500)(1000)+(-500)(-1000)+(500)(1000)+(1500)(-1000) = -2e6.
	if math.Abs(b-(10-0.4)) > 1e-9 || r2 >= 1 || r2 < 0.9 {
		t.Fatalf("noisy slope = %v (want 9.6), r2 %v", b, r2)
	}
	if b, _, _ := results.FitLine([]float64{5, 5}, []float64{1, 2}); !math.IsNaN(b) {
		t.Fatalf("slope over one x = %v, want NaN", b)
	}
}

func TestFitMemory(t *testing.T) {
	var ps []Sample
	for _, n := range []int{100, 200, 300, 400} {
		ps = append(ps, Sample{Tasks: n, RSS: int64(n) * 9728, KernelStack: int64(n) * 16384, PageTables: int64(n)*100 + 4096})
	}
	user, kernel, total, r2 := fitMemory(ps)
	if user != 9728 || kernel != 16484 || total != 9728+16484 || math.Abs(r2-1) > 1e-12 {
		t.Fatalf("fit = %v %v %v %v", user, kernel, total, r2)
	}
}

func TestStatOf(t *testing.T) {
	s := statOf([]float64{5, 1, 3, 2})
	if s.Median != 2.5 || s.Min != 1 || s.Max != 5 || len(s.Values) != 4 || s.Values[0] != 5 {
		t.Fatalf("statOf = %+v", s)
	}
	if s := statOf([]float64{7, 1, 3}); s.Median != 3 {
		t.Fatalf("odd median = %v", s.Median)
	}
}

func TestReadSnapshotFixture(t *testing.T) {
	fs, err := proc.Open("testdata/proc")
	if err != nil {
		t.Fatal(err)
	}
	s, err := readSnapshot(fs, 42)
	if err != nil {
		t.Fatal(err)
	}
	want := memSnapshot{rss: 9216 << 10, kstack: 4864 << 10, ptables: 9228 << 10, threads: 7}
	if s != want {
		t.Fatalf("snapshot = %+v, want %+v", s, want)
	}
	d := memSnapshot{rss: 10 << 20, kstack: 5 << 20, ptables: 9228 << 10, threads: 107}.sub(s, 100)
	if d.RSS != 10<<20-9216<<10 || d.KernelStack != 5<<20-4864<<10 || d.PageTables != 0 || d.Threads != 100 || d.Tasks != 100 {
		t.Fatalf("sub = %+v", d)
	}
}

func TestValidate(t *testing.T) {
	if err := (Options{Tasks: 10000}).Validate(20000); err == nil || !strings.Contains(err.Error(), "lower -tasks") {
		t.Fatalf("10000 tasks at 20000 files: %v", err)
	}
	if err := (Options{}).Validate(20000); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if err := (Options{Tasks: 4}).Validate(0); err == nil {
		t.Fatal("4 tasks accepted")
	}
}

// TestRunSmall runs every measurement at a tiny size in child processes and
// checks what must hold whatever the speed: each thread creation ran on a
// thread of its own, idle OS threads add one thread each while idle
// goroutines do not, and the summary has the keys scripts read.
func TestRunSmall(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cpus, err := cpuset.Available()
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Reps: 2, Tasks: 64, CreateOps: 300, Ring: 20, SwitchLoops: 10}
	var reason string
	if o.ThreadCost, reason = buildThreadCost(t); o.ThreadCost == "" {
		t.Log(reason)
	}
	o.Perf, _ = exec.LookPath("perf")
	var progress []string
	r, err := Run(context.Background(), exe, cpus[len(cpus)-1], o, func(s string) { progress = append(progress, s) })
	if err != nil {
		t.Fatal(err)
	}
	checkNoRuntime(t, r, o, progress)
	for _, tm := range []Timings{r.Pinned, r.Unpinned} {
		if tm.ThreadsCreated[1] != 2*30 || tm.ThreadsCreated[0] != tm.ThreadsCreated[1] {
			t.Errorf("%s: threads created %v, want 60 distinct of 60", tm.Mode, tm.ThreadsCreated)
		}
		if tm.CreateGoroutine.Median <= 0 || tm.CreateThread.Median <= 0 || tm.SwitchChannel.Median <= 0 || len(tm.PipeThread.Values) != 2 {
			t.Errorf("%s: non-positive timings: %+v", tm.Mode, tm)
		}
	}
	if r.Pinned.GOMAXPROCS != 1 {
		t.Errorf("pinned child ran with GOMAXPROCS %d", r.Pinned.GOMAXPROCS)
	}
	for i, p := range r.Thread.Points {
		// One task may run on a thread the runtime had already started.
		if p.Threads < p.Tasks*9/10 {
			t.Errorf("thread point %d: %d tasks added %d threads", i, p.Tasks, p.Threads)
		}
	}
	for i, p := range r.Goroutine.Points {
		if p.Threads > p.Tasks/4+4 {
			t.Errorf("goroutine point %d: %d tasks added %d threads", i, p.Tasks, p.Threads)
		}
	}
	if got := r.Thread.Tasks; len(got) != 4 || got[0] != 16 || got[3] != 64 {
		t.Errorf("task counts %v", got)
	}
	s := r.Summarize()
	for _, k := range []string{"goroutine", "thread"} {
		if _, ok := s.CreateUs[k]; !ok {
			t.Errorf("create_us lacks %q", k)
		}
		if _, ok := s.SwitchUs[k]; !ok {
			t.Errorf("switch_us lacks %q", k)
		}
		if _, ok := s.MemBytes[k]; !ok {
			t.Errorf("task_memory_bytes lacks %q", k)
		}
	}
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil || !strings.Contains(b.String(), "OS thread") {
		t.Fatalf("table: %v\n%s", err, b.String())
	}
	t.Log("\n" + b.String())
}

// checkNoRuntime checks the C thread figures and the perf cross-check of
// a small run: what must hold whatever the speed when they were measured,
// the reason and a line of progress when not.
func checkNoRuntime(t *testing.T, r *Report, o Options, progress []string) {
	t.Helper()
	nr := r.NoRuntime
	if o.ThreadCost == "" {
		if nr.NotMeasured != NotBuilt || nr.Pinned != nil || !slices.ContainsFunc(progress, func(s string) bool { return strings.Contains(s, NotBuilt) }) {
			t.Errorf("without threadcost: %+v, progress %q", nr, progress)
		}
	} else {
		if nr.NotMeasured != "" || nr.Pinned == nil || nr.Unpinned == nil || nr.Memory == nil || nr.StackBytes <= 0 {
			t.Fatalf("threadcost measured nothing: %+v", nr)
		}
		for _, tm := range []*NoRuntimeTimings{nr.Pinned, nr.Unpinned} {
			if tm.ThreadsCreated != [2]int{60, 60} || tm.Create.Median <= 0 || tm.Pipe.Median <= 0 || len(tm.Switch.Values) != 2 {
				t.Errorf("C %s: %+v, want 60 distinct threads of 60 creations and positive figures", tm.Mode, tm)
			}
		}
		if nr.Pinned.CPUs != r.Pinned.CPUs || nr.Unpinned.CPUs != "all" {
			t.Errorf("C CPUs %q and %q, Go pinned to %q", nr.Pinned.CPUs, nr.Unpinned.CPUs, r.Pinned.CPUs)
		}
		for i, p := range nr.Memory.Points {
			if p.Threads != p.Tasks || p.Tasks != nr.Memory.Tasks[i] {
				t.Errorf("C memory point %d: %d tasks added %d threads", i, p.Tasks, p.Threads)
			}
		}
		if nr.Memory.Tasks[3] != 64 || nr.Memory.Design != designNoRuntime {
			t.Errorf("C memory %+v", nr.Memory)
		}
		s := r.Summarize()
		for _, m := range []map[string]float64{s.CreateUs, s.SwitchUs, s.MemBytes} {
			if _, ok := m["thread_no_runtime"]; !ok {
				t.Errorf("summary lacks thread_no_runtime in %v", m)
			}
		}
	}
	switch pp := r.Perf; {
	case o.Perf == "":
		if pp.NotMeasured != PerfNotInstalled {
			t.Errorf("without perf: %+v", pp)
		}
	case pp.NotMeasured != "":
		t.Logf("perf is installed but %s", pp.NotMeasured)
	case pp.Pinned == nil || pp.Unpinned == nil || pp.Pinned.Median <= 0 || len(pp.Unpinned.Values) != 2 || pp.Loops != 100:
		t.Errorf("perf: %+v", pp)
	}
}

package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asyncbench/asyncbench/internal/proc"
	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/results"
)

// fakeProc is a HostProbe over counters a test moves by hand: two CPUs,
// the children's ticks (procs) and other processes' (others).
type fakeProc struct {
	cpu    [2]proc.CPUTimes
	procs  map[int]uint64
	others map[int]uint64
}

func (f *fakeProc) probe() *HostProbe {
	return &HostProbe{
		CPUs: func() (map[int]proc.CPUTimes, error) {
			return map[int]proc.CPUTimes{0: f.cpu[0], 1: f.cpu[1]}, nil
		},
		Stat: func(pid int) (proc.Stat, error) {
			t, ok := f.procs[pid]
			if !ok {
				if t, ok = f.others[pid]; !ok {
					return proc.Stat{}, fmt.Errorf("pid %d gone", pid)
				}
			}
			return proc.Stat{Comm: fmt.Sprintf("proc %d", pid), State: 'S', UTime: t}, nil
		},
		PIDs: func() ([]int, error) {
			var pids []int
			for pid := range f.procs {
				pids = append(pids, pid)
			}
			for pid := range f.others {
				pids = append(pids, pid)
			}
			return pids, nil
		},
		Self: 1,
	}
}

// advance moves each CPU by 100 ticks (one second): busy of them not idle,
// steal of them stolen, the rest idle; procs ticks are charged to the
// children (pid 10). /proc/stat's user column moves by half of busy only:
// tick sampling misses work, and busy must come from idle and steal.
func (f *fakeProc) advance(busy, steal, procs uint64) {
	for i := range f.cpu {
		f.cpu[i].User += busy / 2
		f.cpu[i].Steal += steal
		f.cpu[i].Idle += 100 - busy - steal
	}
	f.procs[10] += procs
}

func TestNoise(t *testing.T) {
	f := &fakeProc{procs: map[int]uint64{10: 0}, others: map[int]uint64{20: 500, 1: 0}}
	h := newHostSampler(f.probe(), []int{0, 1}, 10)
	t0 := time.Unix(1000, 0)
	var samples []hostSample
	var scans []scanMark
	take := func(at time.Time) {
		s, err := h.sample(at)
		if err != nil {
			t.Fatal(err)
		}
		samples = append(samples, s)
	}
	scan := func(at time.Time) {
		m, err := h.mark(at)
		if err != nil {
			t.Fatal(err)
		}
		scans = append(scans, m)
	}
	scan(t0)
	take(t0)
	f.advance(100, 0, 200) // warm-up: busy, all of it the children's
	take(t0.Add(time.Second))
	f.advance(95, 1, 170) // window second 1: 190 busy ticks, 170 ours
	f.others[20] += 20    // … and 20 another process's
	f.others[1] += 50     // bench's own (Self) does not count
	take(t0.Add(2 * time.Second))
	f.advance(95, 5, 190) // window second 2: 190 busy, 190 ours; 10 steal
	f.others[30] = 8      // a process that appeared counts whole
	take(t0.Add(3 * time.Second))
	f.advance(0, 0, 0) // after the window
	take(t0.Add(4 * time.Second))
	scan(t0.Add(4 * time.Second))

	n, ok := windowNoise(samples, scans, t0.Add(time.Second), t0.Add(3*time.Second))
	if !ok {
		t.Fatal("window not covered")
	}
	// other: min(busy 380 − ours 360, others 20 + 8) = 20 of 400 ticks =
	// 5%; steal: (2+10) of 400 = 3%.
	if math.Abs(n.OtherPct-5) > 1e-9 || math.Abs(n.StealPct-3) > 1e-9 {
		t.Fatalf("noise %+v, want other 5%% steal 3%%", n)
	}
	if why := noisyReason(n); !strings.Contains(why, "steal 3.0%") || strings.Contains(why, "other") {
		t.Fatalf("reason %q", why)
	}
	if want := "proc 20 (pid 20) 200 ms, proc 30 (pid 30) 80 ms"; n.Top != want {
		t.Fatalf("top users %q, want %q", n.Top, want)
	}
	n.OtherPct = 6
	if why := noisyReason(n); !strings.Contains(why, "other processes used 6.0% of the pinned CPUs (limit 5%); in the cell, most: proc 20 (pid 20) 200 ms") {
		t.Fatalf("reason %q", why)
	}
	if _, ok := windowNoise(samples, scans, t0.Add(10*time.Second), t0.Add(12*time.Second)); ok {
		t.Error("a window after the samples was judged")
	}
	if _, ok := windowNoise(samples[:2], scans, t0, t0.Add(4*time.Second)); ok {
		t.Error("a window a quarter covered was judged")
	}
	// Without both scans only busy − ours bounds other: 20 + 0 of 400.
	n, ok = windowNoise(samples, scans[:1], t0.Add(time.Second), t0.Add(3*time.Second))
	if !ok || math.Abs(n.OtherPct-5) > 1e-9 || n.Top != "" {
		t.Fatalf("one scan: %+v", n)
	}
	// A process that ended keeps what it used before its last scan.
	delete(f.others, 20)
	f.others[20+1] = 3
	m, _ := h.mark(t0.Add(5 * time.Second))
	if m.Others != scans[1].Others+3 || len(m.Used) != 3 {
		t.Fatalf("after an exit: %+v", m)
	}
}

// TestNoiseBounds: busy time no process accounts for (the kernel's own
// work, such as loopback packets handled while a CPU idled) is not other;
// other processes busy elsewhere than the pinned CPUs are not either.
func TestNoiseBounds(t *testing.T) {
	t0 := time.Unix(0, 0)
	run := func(busy, procs, others uint64, scanned bool) hostNoise {
		f := &fakeProc{procs: map[int]uint64{10: 0}, others: map[int]uint64{20: 0}}
		h := newHostSampler(f.probe(), []int{0, 1}, 10)
		m0, _ := h.mark(t0)
		a, _ := h.sample(t0)
		f.advance(busy, 0, procs)
		f.others[20] += others
		b, _ := h.sample(t0.Add(time.Second))
		m1, _ := h.mark(t0.Add(time.Second))
		o := float64(m1.Others - m0.Others)
		if !scanned {
			o = -1
		}
		n, ok := noiseBetween(a, b, o)
		if !ok {
			t.Fatal("not judged")
		}
		return n
	}
	if n := run(40, 60, 0, true); n.OtherPct != 0 { // 80 busy, 60 ours, 20 the kernel's
		t.Errorf("kernel work: %+v", n)
	}
	if n := run(40, 60, 0, false); n.OtherPct != 10 { // without a scan it counts
		t.Errorf("kernel work, no scan: %+v", n)
	}
	if n := run(30, 60, 100, true); n.OtherPct != 0 { // a process busy on other CPUs
		t.Errorf("elsewhere: %+v", n)
	}
	if n := run(80, 60, 100, true); n.OtherPct != 50 { // 160 busy − 60 ours = 100 of 200 ticks
		t.Errorf("busy host: %+v", n)
	}
	if n := run(80, 60, 40, true); n.OtherPct != 20 { // 100 unexplained, 40 of it processes'
		t.Errorf("partly: %+v", n)
	}
}

func TestJudgeHost(t *testing.T) {
	t0 := time.Unix(1000, 0).UTC()
	mk := func(busy, procs uint64) []hostSample {
		return []hostSample{
			{At: t0, NCPU: 2, CPUs: proc.CPUTimes{Idle: 1000}},
			{At: t0.Add(time.Second), NCPU: 2, CPUs: proc.CPUTimes{Idle: 1000 + 200 - busy}, Procs: procs},
		}
	}
	// The scans before and after the cell: other processes used what busy
	// time the children did not.
	scans := func(busy, procs uint64) []scanMark {
		return []scanMark{{At: t0}, {At: t0.Add(time.Second), Others: busy - min(busy, procs)}}
	}
	sum := &summary.Summary{StartTime: t0.Format(time.RFC3339Nano), DurationSeconds: 1}
	cfg := &Config{ServerCPUSet: []int{0}, GeneratorCPUSet: []int{1}}
	tests := []struct {
		name       string
		srv, gen   float64 // CPU seconds in a 1 s window
		busy, proc uint64
		status     results.Status
		bottleneck string
		reason     string
	}{
		{"quiet co-limited", 0.97, 0.95, 192, 192, results.StatusOK, "both", ""},
		{"server-bound", 0.99, 0.5, 149, 149, results.StatusOK, "server", ""},
		{"latency-bound", 0.3, 0.4, 70, 70, results.StatusOK, "neither", ""},
		{"generator-bound", 0.6, 0.95, 155, 155, results.StatusSaturated, "generator", "generator-bound"},
		{"noisy", 0.5, 0.5, 130, 100, results.StatusNoisy, "neither", "other processes used 15.0%"},
		{"noisy beats saturated", 0.6, 0.95, 175, 155, results.StatusNoisy, "generator", "generator-bound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := results.Row{Status: results.StatusOK, DurationS: 1, ServerCPUSeconds: new(tt.srv), GeneratorCPUSeconds: new(tt.gen)}
			noise := cfg.judgeHost(&r, sum, mk(tt.busy, tt.proc), scans(tt.busy, tt.proc), nil)
			r.Status, r.Reason = results.Judge(results.Evidence{Summary: &summary.Summary{Requests: 1}, Bottleneck: r.Bottleneck, Noise: noise})
			if r.Status != tt.status || r.Bottleneck != tt.bottleneck || !strings.Contains(r.Reason, tt.reason) {
				t.Fatalf("got %s %s %q", r.Status, r.Bottleneck, r.Reason)
			}
			if r.HostOtherCPUPct == nil || r.ServerCPUPct == nil || math.Abs(*r.ServerCPUPct-100*tt.srv) > 1e-9 {
				t.Fatalf("columns: %+v", r)
			}
		})
	}
	// Without a window start nothing is claimed about noise.
	r := results.Row{Status: results.StatusOK, DurationS: 1}
	noise := cfg.judgeHost(&r, &summary.Summary{DurationSeconds: 1}, mk(200, 0), scans(200, 0), nil)
	if noise != "" || r.HostOtherCPUPct != nil || r.Bottleneck != "" {
		t.Fatalf("no window: %+v", r)
	}
}

func TestWaitQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeProc{procs: map[int]uint64{}, others: map[int]uint64{20: 0}}
		busySeconds := 3 // the first three seconds are busy, then quiet
		sleep := func(d time.Duration) bool {
			time.Sleep(d)
			if busySeconds > 0 {
				f.advance(50, 0, 0)
				f.others[20] += 100
				busySeconds--
			} else {
				f.advance(2, 0, 0)
				f.others[20] += 4
			}
			return true
		}
		waited, quiet := waitQuiet(f.probe(), []int{0, 1}, time.Minute, sleep, nil)
		if !quiet || waited != 4*time.Second {
			t.Fatalf("waited %v, quiet %v; want 4s, true", waited, quiet)
		}
		busySeconds = 1000
		waited, quiet = waitQuiet(f.probe(), []int{0, 1}, 5*time.Second, sleep, nil)
		if quiet || waited != 5*time.Second {
			t.Fatalf("busy host: waited %v, quiet %v; want 5s, false", waited, quiet)
		}
		interrupt := func(time.Duration) bool { return false }
		if _, quiet := waitQuiet(f.probe(), []int{0, 1}, time.Minute, interrupt, nil); quiet {
			t.Fatal("interrupted wait reported quiet")
		}
	})
}

func TestHostRecorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeProc{procs: map[int]uint64{10: 0}, others: map[int]uint64{}}
		rec := startHostRecorder(f.probe(), 100*time.Millisecond, []int{0}, 10)
		time.Sleep(time.Second)
		synctest.Wait()
		samples, scans := rec.Stop()
		if len(scans) != 2 || !scans[0].At.Equal(samples[0].At) || scans[1].At.Before(samples[len(samples)-1].At) {
			t.Fatalf("scans %+v around %d samples", scans, len(samples))
		}
		if len(samples) < 10 || len(samples) > 12 {
			t.Fatalf("%d samples in 1 s at 10 Hz", len(samples))
		}
		if d := samples[len(samples)-1].At.Sub(samples[0].At); d != time.Second {
			t.Fatalf("samples span %v", d)
		}
	})
	if got := sampleInterval(10 * time.Second); got != 100*time.Millisecond {
		t.Errorf("interval for 10 s: %v", got)
	}
	if got := sampleInterval(24 * time.Hour); got != 24*time.Hour/4000 {
		t.Errorf("interval for 24 h: %v", got)
	}
}

// TestRunQuietWait: on a host that never goes quiet the cell runs after
// the wait anyway, and its row says so.
func TestRunQuietWait(t *testing.T) {
	p := threeCells()
	p.Backends = []string{"gnet"}
	cfg, pids := fakeConfig(t, p)
	f := &fakeProc{procs: map[int]uint64{}, others: map[int]uint64{20: 0}}
	probe := f.probe()
	read := probe.CPUs
	probe.CPUs = func() (map[int]proc.CPUTimes, error) {
		f.advance(50, 0, 0) // half of every CPU busy between any two reads…
		f.others[20] += 100 // … by another process
		return read()
	}
	cfg.Probe = probe
	cfg.QuietWait = time.Millisecond
	var w memRows
	if _, err := Run(context.Background(), cfg, &w); err != nil {
		t.Fatal(err)
	}
	r := w.rows[0]
	if r.QuietWaitS == nil || *r.QuietWaitS <= 0 || !strings.Contains(r.Reason, "ran after waiting 1ms for quiet") || r.Status != results.StatusOK {
		t.Fatalf("row: wait %v, %s %q", r.QuietWaitS, r.Status, r.Reason)
	}
	assertGone(t, pids)

	cfg.QuietWait = 0
	w = memRows{}
	if _, err := Run(context.Background(), cfg, &w); err != nil {
		t.Fatal(err)
	}
	if r := w.rows[0]; r.QuietWaitS != nil || strings.Contains(r.Reason, "quiet") {
		t.Fatalf("no wait asked: %+v", r)
	}
}

// TestWaitQuietPartialView: busy time no listed process accounts for is
// kernel work when the scan sees every process, but may be a process the
// scan cannot see when /proc lists only bench's own PID namespace: there
// the CPUs are quiet only when busy − children is.
func TestWaitQuietPartialView(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeProc{procs: map[int]uint64{}, others: map[int]uint64{}}
		sleep := func(d time.Duration) bool {
			time.Sleep(d)
			f.advance(30, 0, 0) // 30% busy, no listed process used any of it
			return true
		}
		if _, quiet := waitQuiet(f.probe(), []int{0, 1}, 3*time.Second, sleep, nil); !quiet {
			t.Fatal("full view: unaccounted busy time judged as other processes")
		}
		p := f.probe()
		p.Partial = true
		p.PIDs = func() ([]int, error) { t.Error("a partial view was scanned"); return nil, nil }
		if waited, quiet := waitQuiet(p, []int{0, 1}, 3*time.Second, sleep, nil); quiet || waited < 3*time.Second {
			t.Fatalf("partial view: waited %v, quiet %v; want ≥ 3s, false", waited, quiet)
		}
		if _, err := newHostSampler(p, []int{0}).mark(time.Now()); !errors.Is(err, errPartialScan) {
			t.Fatalf("mark on a partial view: %v", err)
		}
	})
}

// TestWaitQuietStalls: a second in which the host held a pinned CPU is
// not quiet, however idle /proc/stat says the CPUs were.
func TestWaitQuietStalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeProc{procs: map[int]uint64{}, others: map[int]uint64{}}
		t0 := time.Now()
		sleep := func(d time.Duration) bool {
			time.Sleep(d)
			f.advance(1, 0, 0)
			return true
		}
		var asked [][2]time.Duration
		stalled := func(a, b time.Time) string {
			asked = append(asked, [2]time.Duration{a.Sub(t0), b.Sub(t0)})
			if a.Sub(t0) < 2*time.Second {
				return "the host held CPU 0"
			}
			return ""
		}
		waited, quiet := waitQuiet(f.probe(), []int{0, 1}, time.Minute, sleep, stalled)
		if !quiet || waited != 3*time.Second {
			t.Fatalf("waited %v, quiet %v; want 3s, true", waited, quiet)
		}
		want := [][2]time.Duration{{0, time.Second}, {time.Second, 2 * time.Second}, {2 * time.Second, 3 * time.Second}}
		if !slices.Equal(asked, want) {
			t.Fatalf("stalls asked over %v, want %v", asked, want)
		}
		always := func(time.Time, time.Time) string { return "the host held CPU 1" }
		if waited, quiet := waitQuiet(f.probe(), []int{0, 1}, 2*time.Second, sleep, always); quiet || waited != 2*time.Second {
			t.Fatalf("always stalled: waited %v, quiet %v; want 2s, false", waited, quiet)
		}
	})
}

package runner

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/results"
)

// fakeStalls is a probe of two CPUs whose samples are given: one every
// 2 ms from t0 for n samples, late by late(cpu, i).
func fakeStalls(t0 time.Time, n int, late func(cpu, i int) time.Duration) *stallProbe {
	p := &stallProbe{cpus: []int{0, 1}, period: StallPeriod, samples: make([][]stallSample, 2), rt: []bool{true, true}}
	for cpu := range 2 {
		for i := range n {
			p.samples[cpu] = append(p.samples[cpu], stallSample{at: t0.Add(time.Duration(i) * StallPeriod).UnixNano(), late: int64(late(cpu, i))})
		}
	}
	return p
}

// TestStallWindow: the figures come from the window's samples only, on the
// CPU away longest; the p99 is the 99th percentile by rank.
func TestStallWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	// CPU 1 holds a 40 ms pause at samples 600–619 (late 40, 38, … 2 ms:
	// the probe keeps its schedule after it), CPU 0 is late 50 µs always;
	// samples 0–99 are before the window and are 1 s late on both.
	p := fakeStalls(t0, 1100, func(cpu, i int) time.Duration {
		switch {
		case i < 100:
			return time.Second
		case cpu == 1 && i >= 600 && i < 620:
			return time.Duration(620-i) * StallPeriod
		}
		return 50 * time.Microsecond
	})
	st, ok := p.window(t0.Add(100*StallPeriod), t0.Add(1099*StallPeriod))
	if !ok {
		t.Fatal("no figures")
	}
	// 1000 samples in the window, 20 of them 2–40 ms late: the 990th
	// smallest is the 10th of the pause's, 2 ms × 10 late.
	if st.CPU != 1 || st.Samples != 1000 || st.Max != 40*time.Millisecond || st.P99 != 20*time.Millisecond {
		t.Fatalf("window: %+v; want CPU 1, 1000 samples, max 40ms, p99 20ms", st)
	}
	// 20 of the 1000 are over 1 ms, each counting its period: 40 ms away
	// of 2 s, 2% of the window.
	if why := stallReason(st); st.Away != 40*time.Millisecond || !strings.Contains(why, "CPU 1") || !strings.Contains(why, "for 2.0% of the window (limit 0.2%), longest 40ms") {
		t.Fatalf("away %v, reason %q", st.Away, why)
	}
	// One wake-up 2.3 ms late in 1000 (a 2.3 ms stall) is within the limit.
	quiet := fakeStalls(t0, 1000, func(_, i int) time.Duration {
		if i == 500 {
			return 2300 * time.Microsecond
		}
		return 200 * time.Microsecond
	})
	if st, _ := quiet.window(t0, t0.Add(time.Hour)); stallReason(st) != "" {
		t.Fatalf("a quiet host is noisy: %q", stallReason(st))
	}
	// In a 0.75 s window (375 samples) one wake-up 1.1 ms late is 0.15% of
	// it, within the limit (counted as a whole sample it would be 0.27%);
	// 1.6 ms is 0.21%, over it.
	for _, tc := range []struct {
		late  time.Duration
		noisy bool
	}{{1100 * time.Microsecond, false}, {1600 * time.Microsecond, true}} {
		short := fakeStalls(t0, 375, func(_, i int) time.Duration {
			if i == 100 {
				return tc.late
			}
			return 100 * time.Microsecond
		})
		if st, _ := short.window(t0, t0.Add(time.Hour)); (stallReason(st) != "") != tc.noisy || st.Away != tc.late {
			t.Errorf("one %v stall in 0.75 s: away %v, reason %q; want noisy %v", tc.late, st.Away, stallReason(st), tc.noisy)
		}
	}
	if why := stallReason(stallStats{}); why != "" {
		t.Fatalf("no figures, reason %q", why)
	}
	p.rt[0] = false
	if _, ok := p.window(t0, t0.Add(time.Hour)); ok {
		t.Fatal("figures from a CPU probed without real-time priority")
	}
	if _, ok := quiet.window(t0.Add(-time.Hour), t0.Add(-time.Minute)); ok {
		t.Fatal("figures from an empty window")
	}
}

// TestJudgeStalls: a stalled host fills the columns and gives the reason
// the judge makes a row noisy with; a quiet host fills the columns only.
func TestJudgeStalls(t *testing.T) {
	t0 := time.Unix(1000, 0)
	stalled := fakeStalls(t0, 1000, func(_, i int) time.Duration {
		if i%50 == 0 {
			return 5 * time.Millisecond
		}
		return 0
	})
	var r results.Row
	why := judgeStalls(&r, stalled, t0, t0.Add(time.Hour))
	if !strings.HasPrefix(why, "the host held CPU 0") || *r.HostStallP99Us != 5000 || *r.HostStallMaxUs != 5000 {
		t.Fatalf("stalled: %q %v %v", why, *r.HostStallP99Us, *r.HostStallMaxUs)
	}
	if st, _ := results.Judge(results.Evidence{Summary: &summary.Summary{Requests: 1}, Noise: why}); st != results.StatusNoisy {
		t.Fatalf("the judge makes a stalled row %s", st)
	}
	var q results.Row
	if why := judgeStalls(&q, fakeStalls(t0, 1000, func(int, int) time.Duration { return 100 * time.Microsecond }), t0, t0.Add(time.Hour)); why != "" || *q.HostStallP99Us != 100 {
		t.Fatalf("quiet: %q", why)
	}
	if judgeStalls(&q, nil, t0, t0) != "" {
		t.Fatal("a reason without a probe")
	}
}

// TestStallProbeRuns: the probe takes samples on a real CPU and stops; as
// root it runs at real-time priority, and without it takes none.
func TestStallProbeRuns(t *testing.T) {
	p := startStallProbe([]int{0}, StallPeriod)
	start := time.Now()
	for range 10 { // read while the thread writes: waitQuiet does (the race detector checks it)
		time.Sleep(10 * time.Millisecond)
		p.stalled(start, time.Now())
	}
	p.Stop()
	if os.Geteuid() == 0 && !p.rt[0] {
		t.Fatal("no real-time priority as root")
	}
	if n := len(p.samples[0]); p.rt[0] && n < 10 || !p.rt[0] && n != 0 {
		t.Fatalf("%d samples in 100 ms of 2 ms sleeps, real-time %v", n, p.rt[0])
	}
	if st, ok := p.window(start, time.Now()); p.rt[0] && (!ok || st.Samples == 0) {
		t.Fatalf("window: %+v, %v", st, ok)
	}
}

// TestStallProbeKeepsItsThread: the probe's thread outlives it (put back
// and returned to the runtime): a thread that ended would kill, through
// Pdeathsig, every child the runner started from it.
func TestStallProbeKeepsItsThread(t *testing.T) {
	for _, cpus := range [][]int{{0}, {0, 0}} {
		p := startStallProbe(cpus, StallPeriod)
		time.Sleep(20 * time.Millisecond)
		p.Stop()
		time.Sleep(100 * time.Millisecond) // a locked thread ends soon after its goroutine
		for _, tid := range p.tids {
			if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid)); err != nil {
				t.Fatalf("probe thread %d ended: %v", tid, err)
			}
		}
	}
}

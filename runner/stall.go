package runner

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/asyncbench/asyncbench/results"
)

// A hypervisor can take a virtual CPU away for milliseconds without the
// guest's /proc/stat showing steal (not every hypervisor reports it), and
// a cell measured through such a pause reports the host's pause as the
// server's latency. The stall probe measures it directly, as cyclictest
// does: one thread per pinned CPU, at real-time priority (SCHED_FIFO 1, so
// neither the server nor the generator delays it), sleeps to an absolute
// deadline every StallPeriod and records how late it woke. After a late
// wake-up it keeps its schedule, so a pause of d gives about d/StallPeriod
// late samples, late by d, d − StallPeriod, …: summing each one's lateness
// up to StallPeriod gives back about d. Its cost is one wake-up of a few
// µs per StallPeriod on each pinned CPU.

// StallPeriod is the stall probe's sleep.
const StallPeriod = 2 * time.Millisecond

// A cell is noisy when its probe found a pinned CPU away for longer than
// StallLimit during more than MaxStallShare of its window: a stall of d
// delays every request that arrives during it by up to d, and the queue it
// leaves by more, so a 10 ms stall in a 2 s window (0.5%) is enough to move
// a p99 (seen in the calibration runs of 2026-12-05). On the 2-core
// machine of the published runs a quiet host gives a probe p99 of
// 55–250 µs and a max of 0.1–2.3 ms.
const (
	StallLimit    = time.Millisecond
	MaxStallShare = 0.002
)

// stallSample is one wake-up: when (Unix ns) and how late (ns).
type stallSample struct{ at, late int64 }

// stallProbe runs one probe thread per CPU until Stop.
type stallProbe struct {
	cpus    []int
	period  time.Duration
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex      // guards samples and rt while the threads run
	samples [][]stallSample // per CPU, written by its thread until Stop
	rt      []bool          // per CPU: real-time priority was granted
	tids    []int           // per CPU: the thread that probed it
}

// startStallProbe starts probing cpus every period.
func startStallProbe(cpus []int, period time.Duration) *stallProbe {
	p := &stallProbe{cpus: cpus, period: period, stop: make(chan struct{}),
		samples: make([][]stallSample, len(cpus)), rt: make([]bool, len(cpus)), tids: make([]int, len(cpus))}
	p.wg.Add(len(cpus))
	for i := range cpus {
		go p.run(i)
	}
	return p
}

// run probes p.cpus[i] on a thread of its own, and puts the thread back as
// it found it (CPU affinity, normal priority) before it unlocks it: a
// thread that ended instead would take with it every child the runner
// once started from it (they carry Pdeathsig). If the thread cannot be put
// back it stays locked and ends with the goroutine.
func (p *stallProbe) run(i int) {
	defer p.wg.Done()
	runtime.LockOSThread()
	p.tids[i] = unix.Gettid()
	var orig unix.CPUSet
	if unix.SchedGetaffinity(0, &orig) != nil {
		runtime.UnlockOSThread()
		return
	}
	defer func() {
		normal := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL}
		if unix.SchedSetAttr(0, &normal, 0) == nil && unix.SchedSetaffinity(0, &orig) == nil {
			runtime.UnlockOSThread()
		}
	}()
	var set unix.CPUSet
	set.Set(p.cpus[i])
	if unix.SchedSetaffinity(0, &set) != nil {
		return
	}
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: 1}
	// Without real-time priority the lateness would be the server's or
	// the generator's doing: no probe then, and no cost on their CPUs.
	rt := unix.SchedSetAttr(0, &attr, 0) == nil
	p.mu.Lock()
	p.rt[i] = rt
	p.mu.Unlock()
	if !rt {
		return
	}
	next := monotonicNs()
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		next += int64(p.period)
		ts := unix.NsecToTimespec(next)
		for unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &ts, nil) == unix.EINTR {
		}
		late := monotonicNs() - next
		p.mu.Lock()
		p.samples[i] = append(p.samples[i], stallSample{at: time.Now().UnixNano(), late: max(late, 0)})
		p.mu.Unlock()
	}
}

func monotonicNs() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// Stop ends the probe threads and waits for them.
func (p *stallProbe) Stop() {
	close(p.stop)
	p.wg.Wait()
}

// stallStats are a probe's figures over a window on its worst CPU.
type stallStats struct {
	CPU      int
	P99, Max time.Duration
	Samples  int
	// Away is the time the CPU was away in pauses longer than
	// StallLimit: over the samples later than that, each one's lateness
	// up to the probe's period (see the top of this file).
	Away   time.Duration
	Period time.Duration
}

// share is the part of the window (Samples periods) the CPU was away in
// pauses longer than StallLimit.
func (st stallStats) share() float64 {
	if st.Samples <= 0 || st.Period <= 0 {
		return 0
	}
	return float64(st.Away) / (float64(st.Samples) * float64(st.Period))
}

// window returns the figures of the samples in [start, end] on the CPU
// away longest (then with the highest p99); ok is false when a CPU ran without real-time
// priority (its lateness would be the server's or the generator's doing)
// or took no sample in the window.
func (p *stallProbe) window(start, end time.Time) (worst stallStats, ok bool) {
	// The threads only append, so the slices as they are now stay valid
	// while they go on: hold the lock for the copy only, not the work (a
	// thread waiting for it would wake late by bench's own doing).
	p.mu.Lock()
	rt, samples := slices.Clone(p.rt), slices.Clone(p.samples)
	p.mu.Unlock()
	for i, cpu := range p.cpus {
		if !rt[i] {
			return stallStats{}, false
		}
		var late []int64
		for _, s := range samples[i] {
			if s.at >= start.UnixNano() && s.at <= end.UnixNano() {
				late = append(late, s.late)
			}
		}
		if len(late) == 0 {
			return stallStats{}, false
		}
		slices.Sort(late)
		st := stallStats{CPU: cpu, Samples: len(late), Max: time.Duration(late[len(late)-1]),
			P99: time.Duration(late[(len(late)*99+99)/100-1]), Period: p.period}
		for _, l := range late[sort.Search(len(late), func(i int) bool { return late[i] > int64(StallLimit) }):] {
			st.Away += time.Duration(min(l, int64(p.period)))
		}
		if !ok || st.Away > worst.Away || st.Away == worst.Away && st.P99 > worst.P99 {
			worst, ok = st, true
		}
	}
	return worst, ok
}

// stallReason says why a cell's host stalls make it noisy, or "".
func stallReason(st stallStats) string {
	share := st.share()
	if share <= MaxStallShare {
		return ""
	}
	return fmt.Sprintf("the host held CPU %d: away in pauses over %v for %.1f%% of the window (limit %g%%), longest %v",
		st.CPU, StallLimit, 100*share, 100*MaxStallShare, st.Max.Round(time.Microsecond))
}

// stalled says why the host held a pinned CPU too long between start and
// end, "" if it did not or the probe has no figures (p may be nil). The
// threads may still be running.
func (p *stallProbe) stalled(start, end time.Time) string {
	if p == nil {
		return ""
	}
	st, ok := p.window(start, end)
	if !ok {
		return ""
	}
	return stallReason(st)
}

// judgeStalls fills r's stall columns from the probe over the window and
// returns why the host held a pinned CPU too long ("" if it did not or the
// probe has no figures); the status is the judge's (results.Rules).
func judgeStalls(r *results.Row, p *stallProbe, start, end time.Time) string {
	if p == nil {
		return ""
	}
	st, ok := p.window(start, end)
	if !ok {
		return ""
	}
	r.HostStallP99Us, r.HostStallMaxUs = new(st.P99.Microseconds()), new(st.Max.Microseconds())
	return stallReason(st)
}

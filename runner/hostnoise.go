package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/asyncbench/asyncbench/internal/proc"
	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/results"
)

// Thresholds above which a cell is noisy: something besides the server
// and the generator used the CPUs they were pinned to. Both are percent of
// the pinned CPUs' capacity over the measured window; results/README.md
// gives the reasoning.
const (
	// MaxOtherCPUPct is the most CPU time, in percent of the pinned CPUs'
	// capacity, that anything but the server and the generator may use
	// during an ok cell.
	MaxOtherCPUPct = 5.0
	// MaxStealPct is the most steal time (the hypervisor ran someone else
	// on our virtual CPU) an ok cell may have.
	MaxStealPct = 2.0
)

// hostSample is one reading of the pinned CPUs and of the two children.
type hostSample struct {
	At    time.Time
	NCPU  int           // pinned CPUs
	CPUs  proc.CPUTimes // summed over the pinned CPUs
	Procs uint64        // utime+stime of the server and the generator together
}

// scanMark is a scan of every other process: their CPU time since the
// sampler's first scan, in ticks, in all (Others) and by process (Used,
// those that used any).
type scanMark struct {
	At     time.Time
	Others uint64
	Used   []procTicks
}

// procTicks is the CPU time a process used since the sampler's first scan.
type procTicks struct {
	PID   int
	Name  string
	Ticks uint64
}

// HostProbe reads the host's CPU accounting. The zero value is not
// usable; NewHostProbe reads /proc.
type HostProbe struct {
	// CPUs reads the per-CPU lines of /proc/stat.
	CPUs func() (map[int]proc.CPUTimes, error)
	// Stat reads /proc/PID/stat.
	Stat func(pid int) (proc.Stat, error)
	// PIDs lists the processes now running.
	PIDs func() ([]int, error)
	// Self is left out of the other processes: bench's own sampling.
	Self int
	// Partial says PIDs lists only some of the host's processes (bench
	// runs in a PID namespace of its own, as in a container without
	// `pid: host`): a scan then bounds nothing and is not made.
	Partial bool
}

// NewHostProbe returns a probe reading the real /proc; every read fails
// when /proc cannot be opened.
func NewHostProbe() *HostProbe {
	fs, err := proc.Open(proc.DefaultRoot)
	if err != nil {
		return &HostProbe{
			CPUs: func() (map[int]proc.CPUTimes, error) { return nil, err },
			Stat: func(int) (proc.Stat, error) { return proc.Stat{}, err },
			PIDs: func() ([]int, error) { return nil, err },
		}
	}
	host, err := fs.SeesHost()
	return &HostProbe{
		CPUs:    fs.CPUs,
		Stat:    func(pid int) (proc.Stat, error) { return fs.Proc(pid).Stat() },
		PIDs:    fs.PIDs,
		Self:    os.Getpid(),
		Partial: err != nil || !host,
	}
}

// errPartialScan is mark's answer when the probe sees only some processes.
var errPartialScan = errors.New("/proc lists only this PID namespace's processes: other processes' CPU time is not known")

// hostSampler reads some CPUs and children, and scans the other processes
// on demand, keeping their times from the last scan.
type hostSampler struct {
	p      *HostProbe
	cpus   []int
	pids   []int
	last   map[int]uint64 // other processes' ticks at the last scan; nil before the first
	others uint64
	used   []procTicks
}

func newHostSampler(p *HostProbe, cpus []int, pids ...int) *hostSampler {
	return &hostSampler{p: p, cpus: cpus, pids: pids}
}

// sample reads the CPUs (summed) and the children's CPU time: three small
// reads, cheap enough to repeat ten times a second on the measured CPUs.
func (h *hostSampler) sample(now time.Time) (hostSample, error) {
	all, err := h.p.CPUs()
	if err != nil {
		return hostSample{}, err
	}
	s := hostSample{At: now, NCPU: len(h.cpus)}
	for _, c := range h.cpus {
		t, ok := all[c]
		if !ok {
			return hostSample{}, fmt.Errorf("/proc/stat: no line for cpu%d", c)
		}
		s.CPUs = s.CPUs.Add(t)
	}
	for _, pid := range h.pids {
		st, err := h.p.Stat(pid)
		if err != nil {
			return hostSample{}, err
		}
		s.Procs += st.OwnTicks()
	}
	return s, nil
}

// mark scans every process but the children, bench and kernel threads
// (whose work here is mostly the kernel's for our own traffic: softirq
// deferred to ksoftirqd, socket teardown in kworkers), and returns what
// they used since the first scan. A process that appeared since the last
// scan counts whole (it started in between, or its time was just reaped
// into its parent's); one that ended took its last ticks with it, unless
// its parent reaped it. A scan reads every /proc/PID/stat (about 0.6 ms
// of CPU with 70 processes): too costly to repeat during a measured
// window, whose tail latency it visibly raised.
func (h *hostSampler) mark(now time.Time) (scanMark, error) {
	if h.p.Partial {
		return scanMark{}, errPartialScan
	}
	pids, err := h.p.PIDs()
	if err != nil {
		return scanMark{}, err
	}
	cur := make(map[int]uint64, len(pids))
	for _, pid := range pids {
		if pid == h.p.Self || slices.Contains(h.pids, pid) {
			continue
		}
		st, err := h.p.Stat(pid)
		if err != nil {
			continue // gone meanwhile, or a zombie
		}
		if st.KernelThread() {
			continue // ksoftirqd, kworkers: mostly the kernel's work for our own traffic
		}
		t := st.OwnTicks() + st.CUTime + st.CSTime
		cur[pid] = t
		if h.last == nil {
			continue
		}
		if d := t - min(h.last[pid], t); d > 0 {
			h.others += d
			i := slices.IndexFunc(h.used, func(u procTicks) bool { return u.PID == pid })
			if i < 0 {
				h.used = append(h.used, procTicks{PID: pid, Name: st.Comm})
				i = len(h.used) - 1
			}
			h.used[i].Ticks += d
		}
	}
	h.last = cur
	return scanMark{At: now, Others: h.others, Used: slices.Clone(h.used)}, nil
}

// topUsers names the processes that used the most CPU between scans a and
// b, at most n of them, with their CPU time.
func topUsers(a, b scanMark, n int) string {
	type use struct {
		procTicks
		d uint64
	}
	var us []use
	for _, u := range b.Used {
		d := u.Ticks
		if i := slices.IndexFunc(a.Used, func(x procTicks) bool { return x.PID == u.PID }); i >= 0 {
			d -= a.Used[i].Ticks
		}
		if d > 0 {
			us = append(us, use{u, d})
		}
	}
	slices.SortStableFunc(us, func(x, y use) int { return cmp.Compare(y.d, x.d) })
	var parts []string
	for _, u := range us[:min(n, len(us))] {
		parts = append(parts, fmt.Sprintf("%s (pid %d) %d ms", u.Name, u.PID, u.d*1000/proc.UserHZ))
	}
	return strings.Join(parts, ", ")
}

// hostNoise is the outside use of the pinned CPUs between two samples.
type hostNoise struct {
	StealPct, OtherPct float64
	Top                string // the other processes that used the most CPU, with their time
}

// noiseBetween computes steal and other CPU between samples a and b as
// percent of the pinned CPUs' capacity, the wall time between them. Busy
// time is what the CPUs were neither idle nor stolen: /proc/stat keeps
// idle and steal exactly, while its user and system columns are sampled
// at ticks and miss most of the work of a CPU that sleeps between
// requests. Other is the smaller of two upper bounds on other processes'
// time on the pinned CPUs between a and b: busy minus the children's time
// (which also holds the kernel's work charged to no process, such as
// loopback packets handled while the CPU was idle), and others, every
// other process's time wherever it ran, from scans at or outside a and b
// (negative: no scan, no bound). ok is false when no time passed.
func noiseBetween(a, b hostSample, others float64) (n hostNoise, ok bool) {
	wall := b.At.Sub(a.At).Seconds()
	if wall <= 0 || b.NCPU <= 0 || b.Procs < a.Procs {
		return hostNoise{}, false
	}
	if b.CPUs.Idle < a.CPUs.Idle || b.CPUs.IOWait < a.CPUs.IOWait || b.CPUs.Steal < a.CPUs.Steal {
		return hostNoise{}, false // a counter went backwards: not measured
	}
	capacity := wall * proc.UserHZ * float64(b.NCPU)
	d := b.CPUs.Sub(a.CPUs)
	busy := max(capacity-float64(d.Idle+d.IOWait+d.Steal), 0)
	other := max(busy-float64(b.Procs-a.Procs), 0)
	if others >= 0 {
		other = min(other, others)
	}
	return hostNoise{
		StealPct: min(100*float64(d.Steal)/capacity, 100),
		OtherPct: min(100*other/capacity, 100),
	}, true
}

// windowNoise picks, among samples (in time order), the first at or after
// start and the last at or before end, and returns the noise between
// them, other processes' time coming from the scans (see noiseBetween;
// nil when there were none). ok is false when those two samples cover
// less than half the window: the sampling missed it and nothing is
// claimed.
func windowNoise(samples []hostSample, scans []scanMark, start, end time.Time) (hostNoise, bool) {
	i := slices.IndexFunc(samples, func(s hostSample) bool { return !s.At.Before(start) })
	j := -1
	for k := len(samples) - 1; k >= 0; k-- {
		if !samples[k].At.After(end) {
			j = k
			break
		}
	}
	if i < 0 || j <= i || samples[j].At.Sub(samples[i].At) < end.Sub(start)/2 {
		return hostNoise{}, false
	}
	others, top := -1.0, ""
	if len(scans) == 2 && !scans[0].At.After(samples[i].At) && !scans[1].At.Before(samples[j].At) {
		others = float64(scans[1].Others - scans[0].Others)
		top = topUsers(scans[0], scans[1], 3)
	}
	n, ok := noiseBetween(samples[i], samples[j], others)
	n.Top = top
	return n, ok
}

// noisyReason says why n makes a cell noisy, "" when it does not.
func noisyReason(n hostNoise) string {
	var parts []string
	if n.OtherPct > MaxOtherCPUPct {
		why := fmt.Sprintf("other processes used %.1f%% of the pinned CPUs (limit %g%%)", n.OtherPct, MaxOtherCPUPct)
		if n.Top != "" {
			why += "; in the cell, most: " + n.Top
		}
		parts = append(parts, why)
	}
	if n.StealPct > MaxStealPct {
		parts = append(parts, fmt.Sprintf("steal %.1f%% of the pinned CPUs (limit %g%%)", n.StealPct, MaxStealPct))
	}
	return strings.Join(parts, "; ")
}

// sampleInterval is how often the pinned CPUs are read during a cell of
// the given length: 10 Hz, slower for very long cells so that a cell keeps
// at most about 4000 samples.
func sampleInterval(cell time.Duration) time.Duration {
	return max(100*time.Millisecond, cell/4000)
}

// hostRecorder samples the pinned CPUs and the children's CPU time at a
// fixed interval until stopped, and scans the other processes once when
// it starts and once when it stops; the runner picks the measured window
// out of the samples afterwards.
type hostRecorder struct {
	stop    chan struct{}
	done    chan struct{}
	samples []hostSample // written by the sampling goroutine until done closes
	scans   []scanMark   // likewise: the first and the last scan
}

// startHostRecorder samples every interval until Stop. Failed readings
// (a child already gone) are skipped.
func startHostRecorder(p *HostProbe, interval time.Duration, cpus []int, pids ...int) *hostRecorder {
	r := &hostRecorder{stop: make(chan struct{}), done: make(chan struct{})}
	h := newHostSampler(p, cpus, pids...)
	scan := func() {
		if m, err := h.mark(time.Now()); err == nil {
			r.scans = append(r.scans, m)
		}
	}
	go func() {
		defer close(r.done)
		scan()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if s, err := h.sample(time.Now()); err == nil {
				r.samples = append(r.samples, s)
			}
			select {
			case <-r.stop:
				scan()
				return
			case <-t.C:
			}
		}
	}()
	return r
}

// Stop ends sampling and returns the samples taken, in time order, and
// the scans of the other processes (two, unless a scan failed).
func (r *hostRecorder) Stop() ([]hostSample, []scanMark) {
	close(r.stop)
	<-r.done
	return r.samples, r.scans
}

// waitQuiet samples the pinned CPUs over one second at a time until one
// second had no more than MaxOtherCPUPct other and MaxStealPct steal (no
// children run yet, so every process but bench is other) and no stall
// (stalled says why a span of time was stalled, "" if it was not; nil: not
// probed), or until limit has passed. It returns how long it waited and
// whether it found quiet. sleep waits for a duration (time.Sleep, or a
// test's clock) and returns false when the run is being interrupted.
func waitQuiet(p *HostProbe, cpus []int, limit time.Duration, sleep func(time.Duration) bool, stalled func(start, end time.Time) string) (waited time.Duration, quiet bool) {
	start := time.Now()
	h := newHostSampler(p, cpus)
	for {
		m0, err0 := h.mark(time.Now())
		a, err := h.sample(time.Now())
		if err != nil {
			return time.Since(start), false
		}
		if !sleep(time.Second) {
			return time.Since(start), false
		}
		b, err := h.sample(time.Now())
		if err != nil {
			return time.Since(start), false
		}
		others := -1.0
		if m1, err1 := h.mark(time.Now()); err0 == nil && err1 == nil {
			others = float64(m1.Others - m0.Others)
		}
		if n, ok := noiseBetween(a, b, others); ok && noisyReason(n) == "" && (stalled == nil || stalled(a.At, b.At) == "") {
			return time.Since(start), true
		}
		if time.Since(start) >= limit {
			return time.Since(start), false
		}
	}
}

// onlineCPUs counts the per-CPU lines of /proc/stat; 0 if unreadable.
func onlineCPUs() int {
	fs, err := proc.Open(proc.DefaultRoot)
	if err != nil {
		return 0
	}
	cpus, err := fs.CPUs()
	if err != nil {
		return 0
	}
	return len(cpus)
}

// positive is &n when n > 0, else nil (not known).
func positive(n int) *int {
	if n <= 0 {
		return nil
	}
	return &n
}

// sleepCtx returns a sleep that ends early, reporting false, when ctx
// ends.
func sleepCtx(ctx context.Context) func(time.Duration) bool {
	return func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
}

// pinnedCPUs is the union of the server's and the generator's CPU sets,
// or every available CPU when either side is unpinned.
func (c *Config) pinnedCPUs() []int {
	if len(c.ServerCPUSet) == 0 || len(c.GeneratorCPUSet) == 0 {
		return mustAvailable()
	}
	var out []int
	for _, s := range [][]int{c.ServerCPUSet, c.GeneratorCPUSet} {
		for _, cpu := range s {
			if !slices.Contains(out, cpu) {
				out = append(out, cpu)
			}
		}
	}
	slices.Sort(out)
	return out
}

// sideCPUs is the number of CPUs a side may use: its set, or every
// available CPU when unpinned.
func sideCPUs(set []int) int {
	if len(set) == 0 {
		return len(mustAvailable())
	}
	return len(set)
}

// judgeHost fills the bottleneck and host-noise columns of a row made from
// sum, with samples taken during the cell and the stall probe's, and
// returns why the host was noisy over the measured window ("" when it was
// quiet or not measured);
// the status is the judge's (results.Rules).
func (c *Config) judgeHost(r *results.Row, sum *summary.Summary, samples []hostSample, scans []scanMark, stalls *stallProbe) (noise string) {
	attribute(r, sideCPUs(c.ServerCPUSet), sideCPUs(c.GeneratorCPUSet))
	start, err := time.Parse(time.RFC3339Nano, sum.StartTime)
	if err != nil || sum.DurationSeconds <= 0 {
		return ""
	}
	end := start.Add(time.Duration(sum.DurationSeconds * float64(time.Second)))
	stalled := judgeStalls(r, stalls, start, end)
	n, ok := windowNoise(samples, scans, start, end)
	if !ok {
		return stalled
	}
	r.HostStealPct, r.HostOtherCPUPct = new(n.StealPct), new(n.OtherPct)
	return results.JoinReason(noisyReason(n), stalled)
}

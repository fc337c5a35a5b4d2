package runner

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

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

// cpuTimes is one "cpuN" line of /proc/stat, in USER_HZ ticks. Guest time
// is already included in user time, so it is not kept.
type cpuTimes struct {
	User, Nice, System, Idle, IOWait, IRQ, SoftIRQ, Steal uint64
}

// userHZ is the unit of /proc/stat and /proc/PID/stat times: USER_HZ,
// 100 on every Linux architecture Go supports.
const userHZ = 100

func (t cpuTimes) sub(o cpuTimes) cpuTimes {
	return cpuTimes{
		User: t.User - o.User, Nice: t.Nice - o.Nice, System: t.System - o.System, Idle: t.Idle - o.Idle,
		IOWait: t.IOWait - o.IOWait, IRQ: t.IRQ - o.IRQ, SoftIRQ: t.SoftIRQ - o.SoftIRQ, Steal: t.Steal - o.Steal,
	}
}

func (t cpuTimes) add(o cpuTimes) cpuTimes {
	return cpuTimes{
		User: t.User + o.User, Nice: t.Nice + o.Nice, System: t.System + o.System, Idle: t.Idle + o.Idle,
		IOWait: t.IOWait + o.IOWait, IRQ: t.IRQ + o.IRQ, SoftIRQ: t.SoftIRQ + o.SoftIRQ, Steal: t.Steal + o.Steal,
	}
}

// parseProcStat reads the per-CPU lines ("cpu0 …", "cpu1 …") of
// /proc/stat text; the aggregate "cpu" line and everything else are
// skipped. Kernels before 2.6.11 have no steal column; it reads as zero.
func parseProcStat(r io.Reader) (map[int]cpuTimes, error) {
	out := map[int]cpuTimes{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20) // the intr line is long
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("cpu")) {
			if len(out) > 0 {
				break // the cpu lines come first and together
			}
			continue
		}
		f := strings.Fields(string(line))
		id, err := strconv.Atoi(strings.TrimPrefix(f[0], "cpu"))
		if err != nil {
			continue // the aggregate "cpu" line
		}
		if len(f) < 5 {
			return nil, fmt.Errorf("/proc/stat: %s: %d fields", f[0], len(f)-1)
		}
		var v [8]uint64
		for i := 0; i < len(v) && i+1 < len(f); i++ {
			if v[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
				return nil, fmt.Errorf("/proc/stat: %s field %d: %w", f[0], i+1, err)
			}
		}
		out[id] = cpuTimes{User: v[0], Nice: v[1], System: v[2], Idle: v[3], IOWait: v[4], IRQ: v[5], SoftIRQ: v[6], Steal: v[7]}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("/proc/stat: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("/proc/stat: no per-CPU lines")
	}
	return out, nil
}

// parsePIDStatTicks returns from the text of /proc/PID/stat the process's
// own utime + stime (all threads) and the cutime + cstime of children it
// has reaped, in USER_HZ ticks. The command name may hold spaces and
// parentheses, so fields are counted from the last ')'.
func parsePIDStatTicks(data []byte) (own, reaped uint64, err error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, errors.New("stat: no command name")
	}
	f := strings.Fields(string(data[i+1:]))
	// After ")": state(3) ppid pgrp session tty_nr tpgid flags minflt
	// cminflt majflt cmajflt utime(14) stime(15) cutime(16) cstime(17).
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("stat: %d fields after the name", len(f))
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, 0, errors.New("stat: process exited")
	}
	var v [4]uint64
	for k := range v {
		if v[k], err = strconv.ParseUint(f[11+k], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("stat field %d: %w", 14+k, err)
		}
	}
	return v[0] + v[1], v[2] + v[3], nil
}

// hostSample is one reading of the pinned CPUs, of the two children and of
// every other process.
type hostSample struct {
	At    time.Time
	NCPU  int      // pinned CPUs
	CPUs  cpuTimes // summed over the pinned CPUs
	Procs uint64   // utime+stime of the server and the generator together
	// Others is the CPU time of every other process since the sampler
	// started, in ticks: a running sum of their utime+stime and of what
	// they reaped from their children. Valid when Scanned.
	Others  uint64
	Scanned bool
}

// HostProbe reads the host's CPU accounting. The zero value is not
// usable; NewHostProbe reads /proc.
type HostProbe struct {
	// ReadStat returns the text of /proc/stat.
	ReadStat func() ([]byte, error)
	// ReadPIDStat returns the text of /proc/PID/stat.
	ReadPIDStat func(pid int) ([]byte, error)
	// PIDs lists the processes now running.
	PIDs func() ([]int, error)
	// Self is left out of the other processes: bench's own sampling.
	Self int
}

// NewHostProbe returns a probe reading the real /proc.
func NewHostProbe() *HostProbe {
	return &HostProbe{
		ReadStat: func() ([]byte, error) { return os.ReadFile("/proc/stat") },
		ReadPIDStat: func(pid int) ([]byte, error) {
			return os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		},
		PIDs: listPIDs,
		Self: os.Getpid(),
	}
}

// listPIDs reads the numeric entries of /proc.
func listPIDs() ([]int, error) {
	f, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// hostSampler takes hostSamples of some CPUs and children, keeping the
// per-process times of the last scan of the other processes.
type hostSampler struct {
	p      *HostProbe
	cpus   []int
	pids   []int
	last   map[int]uint64 // other processes' ticks at the last scan; nil before the first
	others uint64
	// nextScan spaces the scans of the other processes so that they cost
	// at most 0.5% of a CPU: 200 × the last scan's duration apart, unless
	// every sample must scan.
	nextScan   time.Time
	scanAlways bool
}

func newHostSampler(p *HostProbe, cpus []int, pids ...int) *hostSampler {
	return &hostSampler{p: p, cpus: cpus, pids: pids}
}

// sample reads the CPUs (summed) and the children's CPU time, and scans
// the other processes when due.
func (h *hostSampler) sample(now time.Time) (hostSample, error) {
	data, err := h.p.ReadStat()
	if err != nil {
		return hostSample{}, err
	}
	all, err := parseProcStat(bytes.NewReader(data))
	if err != nil {
		return hostSample{}, err
	}
	s := hostSample{At: now, NCPU: len(h.cpus)}
	for _, c := range h.cpus {
		t, ok := all[c]
		if !ok {
			return hostSample{}, fmt.Errorf("/proc/stat: no line for cpu%d", c)
		}
		s.CPUs = s.CPUs.add(t)
	}
	for _, pid := range h.pids {
		data, err := h.p.ReadPIDStat(pid)
		if err != nil {
			return hostSample{}, err
		}
		own, _, err := parsePIDStatTicks(data)
		if err != nil {
			return hostSample{}, fmt.Errorf("pid %d: %w", pid, err)
		}
		s.Procs += own
	}
	if h.scanAlways || !now.Before(h.nextScan) {
		began := time.Now()
		if err := h.scan(); err == nil {
			s.Scanned = true
			h.nextScan = now.Add(200 * time.Since(began))
		}
	}
	s.Others = h.others
	return s, nil
}

// scan adds to h.others what every process but the children and bench
// used since the last scan. A process that appeared since counts whole
// (it started in between, or was just reaped into its parent); one that
// ended took its last ticks with it, unless its parent reaped it.
func (h *hostSampler) scan() error {
	pids, err := h.p.PIDs()
	if err != nil {
		return err
	}
	now := make(map[int]uint64, len(pids))
	for _, pid := range pids {
		if pid == h.p.Self || slices.Contains(h.pids, pid) {
			continue
		}
		data, err := h.p.ReadPIDStat(pid)
		if err != nil {
			continue // gone meanwhile
		}
		own, reaped, err := parsePIDStatTicks(data)
		if err != nil {
			continue
		}
		t := own + reaped
		now[pid] = t
		if h.last != nil {
			h.others += t - min(h.last[pid], t)
		}
	}
	h.last = now
	return nil
}

// hostNoise is the outside use of the pinned CPUs between two samples.
type hostNoise struct {
	StealPct, OtherPct float64
}

// noiseBetween computes steal and other CPU between samples a and b (both
// scanned) as percent of the pinned CPUs' capacity, the wall time between
// them. Busy time is what the CPUs were neither idle nor stolen: /proc/stat
// keeps idle and steal exactly, while its user and system columns are
// sampled at ticks and miss most of the work of a CPU that sleeps between
// requests. Other is the smaller of two bounds on other processes' time on
// the pinned CPUs: busy minus the children's time (which also holds the
// kernel's work charged to no process, such as loopback packets handled
// while the CPU was idle), and every other process's time wherever it ran.
// ok is false when no time passed.
func noiseBetween(a, b hostSample) (n hostNoise, ok bool) {
	wall := b.At.Sub(a.At).Seconds()
	if wall <= 0 || b.NCPU <= 0 || b.Procs < a.Procs || b.Others < a.Others {
		return hostNoise{}, false
	}
	capacity := wall * userHZ * float64(b.NCPU)
	d := b.CPUs.sub(a.CPUs)
	busy := max(capacity-float64(d.Idle+d.IOWait+d.Steal), 0)
	other := min(max(busy-float64(b.Procs-a.Procs), 0), float64(b.Others-a.Others))
	return hostNoise{
		StealPct: min(100*float64(d.Steal)/capacity, 100),
		OtherPct: min(100*other/capacity, 100),
	}, true
}

// windowNoise picks, among the scanned samples (in time order), the first
// at or after start and the last at or before end, and returns the noise
// between them. ok is false when those two cover less than half the
// window: the sampling missed it and nothing is claimed.
func windowNoise(samples []hostSample, start, end time.Time) (hostNoise, bool) {
	i := slices.IndexFunc(samples, func(s hostSample) bool { return s.Scanned && !s.At.Before(start) })
	j := -1
	for k := len(samples) - 1; k >= 0; k-- {
		if samples[k].Scanned && !samples[k].At.After(end) {
			j = k
			break
		}
	}
	if i < 0 || j <= i || samples[j].At.Sub(samples[i].At) < end.Sub(start)/2 {
		return hostNoise{}, false
	}
	return noiseBetween(samples[i], samples[j])
}

// noisyReason says why n makes a cell noisy, "" when it does not.
func noisyReason(n hostNoise) string {
	var parts []string
	if n.OtherPct > MaxOtherCPUPct {
		parts = append(parts, fmt.Sprintf("other processes used %.1f%% of the pinned CPUs (limit %g%%)", n.OtherPct, MaxOtherCPUPct))
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

// hostRecorder samples the pinned CPUs, the children's CPU time and the
// other processes at a fixed interval until stopped; the runner picks the measured window out
// of the samples afterwards.
type hostRecorder struct {
	stop    chan struct{}
	done    chan struct{}
	samples []hostSample // written by the sampling goroutine until done closes
}

// startHostRecorder samples every interval until Stop. Failed readings
// (a child already gone) are skipped.
func startHostRecorder(p *HostProbe, interval time.Duration, cpus []int, pids ...int) *hostRecorder {
	r := &hostRecorder{stop: make(chan struct{}), done: make(chan struct{})}
	h := newHostSampler(p, cpus, pids...)
	go func() {
		defer close(r.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if s, err := h.sample(time.Now()); err == nil {
				r.samples = append(r.samples, s)
			}
			select {
			case <-r.stop:
				return
			case <-t.C:
			}
		}
	}()
	return r
}

// Stop ends sampling and returns the samples taken, in time order.
func (r *hostRecorder) Stop() []hostSample {
	close(r.stop)
	<-r.done
	return r.samples
}

// waitQuiet samples the pinned CPUs over one second at a time until one
// second had no more than MaxOtherCPUPct other and MaxStealPct steal (no
// children run yet, so every process but bench is other), or until limit has
// passed. It returns how long it waited and whether it found quiet.
// sleep waits for a duration (time.Sleep, or a test's clock) and returns
// false when the run is being interrupted.
func waitQuiet(p *HostProbe, cpus []int, limit time.Duration, sleep func(time.Duration) bool) (waited time.Duration, quiet bool) {
	start := time.Now()
	h := newHostSampler(p, cpus)
	h.scanAlways = true
	for {
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
		if n, ok := noiseBetween(a, b); ok && noisyReason(n) == "" {
			return time.Since(start), true
		}
		if time.Since(start) >= limit {
			return time.Since(start), false
		}
	}
}

// onlineCPUs counts the per-CPU lines of /proc/stat; 0 if unreadable.
func onlineCPUs() int {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	cpus, err := parseProcStat(f)
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
// sum, with samples taken during the cell, and sets the status: a
// generator-bound closed-loop cell is saturated, and an ok or saturated
// cell on a busy host is noisy.
func (c *Config) judgeHost(r *results.Row, sum *summary.Summary, samples []hostSample) {
	attribute(r, sideCPUs(c.ServerCPUSet), sideCPUs(c.GeneratorCPUSet))
	start, err := time.Parse(time.RFC3339Nano, sum.StartTime)
	if err != nil || sum.DurationSeconds <= 0 {
		return
	}
	end := start.Add(time.Duration(sum.DurationSeconds * float64(time.Second)))
	n, ok := windowNoise(samples, start, end)
	if !ok {
		return
	}
	r.HostStealPct, r.HostOtherCPUPct = new(n.StealPct), new(n.OtherPct)
	if why := noisyReason(n); why != "" && r.Status != results.StatusFailed {
		r.Status = results.StatusNoisy
		r.Reason = joinReason(why, r.Reason)
	}
}

package runner

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

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

// total is every tick the CPU accounted for: its capacity.
func (t cpuTimes) total() uint64 {
	return t.User + t.Nice + t.System + t.Idle + t.IOWait + t.IRQ + t.SoftIRQ + t.Steal
}

// busy is the CPU time that processes' utime+stime can account for: tasks
// in user and kernel mode, and, unless the kernel accounts interrupt time
// apart from tasks (irqSeparate), interrupt and softirq time too. With
// tick-based accounting (no CONFIG_IRQ_TIME_ACCOUNTING) a tick that lands
// in a softirq is counted as softirq in /proc/stat and also added to the
// interrupted task's stime, so on loopback most of the server's and the
// generator's packet handling shows up there; leaving it out would hide
// that much noise. With interrupt time accounting the kernel charges it to
// no task, so it cannot be told apart and is left out.
func (t cpuTimes) busy(irqSeparate bool) uint64 {
	b := t.User + t.Nice + t.System
	if !irqSeparate {
		b += t.IRQ + t.SoftIRQ
	}
	return b
}

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

// parsePIDStatTicks returns utime + stime (USER_HZ ticks, all threads) from
// the text of /proc/PID/stat. The command name may hold spaces and
// parentheses, so fields are counted from the last ')'.
func parsePIDStatTicks(data []byte) (uint64, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("stat: no command name")
	}
	f := strings.Fields(string(data[i+1:]))
	// After ")": state(3) ppid pgrp session tty_nr tpgid flags minflt
	// cminflt majflt cmajflt utime(14) stime(15).
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the name", len(f))
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, errors.New("stat: process exited")
	}
	u, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stat utime: %w", err)
	}
	s, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stat stime: %w", err)
	}
	return u + s, nil
}

// hostSample is one reading of the pinned CPUs and of the two children.
type hostSample struct {
	At    time.Time
	CPUs  cpuTimes // summed over the pinned CPUs
	Busy  uint64   // CPUs.busy as the probe's kernel accounts it
	Procs uint64   // utime+stime of the server and the generator together
}

// HostProbe reads the host's CPU accounting. The zero value is not
// usable; NewHostProbe reads /proc.
type HostProbe struct {
	// ReadStat returns the text of /proc/stat.
	ReadStat func() ([]byte, error)
	// ReadPIDStat returns the text of /proc/PID/stat.
	ReadPIDStat func(pid int) ([]byte, error)
	// IRQSeparate says the kernel accounts interrupt time apart from
	// tasks (CONFIG_IRQ_TIME_ACCOUNTING); see cpuTimes.busy.
	IRQSeparate bool
}

// NewHostProbe returns a probe reading the real /proc.
func NewHostProbe() *HostProbe {
	return &HostProbe{
		ReadStat: func() ([]byte, error) { return os.ReadFile("/proc/stat") },
		ReadPIDStat: func(pid int) ([]byte, error) {
			return os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		},
		IRQSeparate: irqTimeAccounting(),
	}
}

// irqTimeAccounting reports whether the running kernel was built with
// CONFIG_IRQ_TIME_ACCOUNTING, from /proc/config.gz or
// /boot/config-RELEASE. Unknown counts as no: interrupt time is then
// counted as busy, which can only make more cells noisy, never fewer.
func irqTimeAccounting() bool {
	var u unix.Utsname
	_ = unix.Uname(&u)
	for _, path := range []string{"/proc/config.gz", "/boot/config-" + unix.ByteSliceToString(u.Release[:])} {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		var r io.Reader = f
		if strings.HasSuffix(path, ".gz") {
			zr, err := gzip.NewReader(f)
			if err != nil {
				f.Close()
				continue
			}
			r = zr
		}
		on, found := kernelConfigHas(r, "CONFIG_IRQ_TIME_ACCOUNTING")
		f.Close()
		if found {
			return on
		}
	}
	return false
}

// kernelConfigHas reports whether a kernel config text sets key=y, and
// whether it could tell (a config file was read to its end).
func kernelConfigHas(r io.Reader, key string) (on, found bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if line := sc.Text(); line == key+"=y" {
			return true, true
		}
	}
	return false, sc.Err() == nil
}

// sample reads the CPUs in cpus (summed) and the CPU time of pids.
func (p *HostProbe) sample(now time.Time, cpus []int, pids ...int) (hostSample, error) {
	data, err := p.ReadStat()
	if err != nil {
		return hostSample{}, err
	}
	all, err := parseProcStat(bytes.NewReader(data))
	if err != nil {
		return hostSample{}, err
	}
	s := hostSample{At: now}
	for _, c := range cpus {
		t, ok := all[c]
		if !ok {
			return hostSample{}, fmt.Errorf("/proc/stat: no line for cpu%d", c)
		}
		s.CPUs = s.CPUs.add(t)
	}
	s.Busy = s.CPUs.busy(p.IRQSeparate)
	for _, pid := range pids {
		data, err := p.ReadPIDStat(pid)
		if err != nil {
			return hostSample{}, err
		}
		ticks, err := parsePIDStatTicks(data)
		if err != nil {
			return hostSample{}, fmt.Errorf("pid %d: %w", pid, err)
		}
		s.Procs += ticks
	}
	return s, nil
}

// hostNoise is the outside use of the pinned CPUs between two samples.
type hostNoise struct {
	StealPct, OtherPct float64
}

// noiseBetween computes steal and other CPU between samples a and b as
// percent of the pinned CPUs' capacity: other = busy time on those CPUs
// minus the children's own CPU time (never below 0: the two clocks round
// differently). ok is false when no time passed.
func noiseBetween(a, b hostSample) (n hostNoise, ok bool) {
	d := b.CPUs.sub(a.CPUs)
	total := float64(d.total())
	if total <= 0 || b.Procs < a.Procs {
		return hostNoise{}, false
	}
	other := float64(b.Busy-a.Busy) - float64(b.Procs-a.Procs)
	return hostNoise{
		StealPct: 100 * float64(d.Steal) / total,
		OtherPct: 100 * max(other, 0) / total,
	}, true
}

// windowNoise picks, among samples (in time order), the first at or after
// start and the last at or before end, and returns the noise between
// them. ok is false when those two cover less than half the window: the
// sampling missed it and nothing is claimed.
func windowNoise(samples []hostSample, start, end time.Time) (hostNoise, bool) {
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

// hostRecorder samples the pinned CPUs and the children's CPU time at a
// fixed interval until stopped; the runner picks the measured window out
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
	go func() {
		defer close(r.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if s, err := p.sample(time.Now(), cpus, pids...); err == nil {
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
// children run yet, so all task time there is other), or until limit has
// passed. It returns how long it waited and whether it found quiet.
// sleep waits for a duration (time.Sleep, or a test's clock) and returns
// false when the run is being interrupted.
func waitQuiet(p *HostProbe, cpus []int, limit time.Duration, sleep func(time.Duration) bool) (waited time.Duration, quiet bool) {
	start := time.Now()
	for {
		a, err := p.sample(time.Now(), cpus)
		if err != nil {
			return time.Since(start), false
		}
		if !sleep(time.Second) {
			return time.Since(start), false
		}
		b, err := p.sample(time.Now(), cpus)
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

// Package procstat samples a process's resource use from /proc: resident
// memory, CPU time, threads and context switches.
package procstat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// ClockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat.
// sysconf(_SC_CLK_TCK) is 100 on every Linux architecture Go supports, and
// the kernel keeps it fixed for user space whatever its internal HZ.
const ClockTicks = 100

// ErrExited reports that the process is gone or a zombie.
var ErrExited = errors.New("process exited")

// Sample is one reading of a process.
type Sample struct {
	RSSKiB      int64  // VmRSS
	HWMKiB      int64  // VmHWM, peak resident set
	Threads     int    // Threads
	CPUTicks    uint64 // utime + stime, in ClockTicks
	CtxSwitches uint64 // voluntary + nonvoluntary, summed over tasks; Reader fills it only at Start and Stop
}

// status is what parseStatus extracts from a status file.
type status struct {
	state       byte
	rssKiB      int64
	hwmKiB      int64
	vmPTEKiB    int64
	threads     int
	ctxSwitches uint64 // voluntary + nonvoluntary
}

// parseStatus reads the fields used here from /proc/PID/status or
// /proc/PID/task/TID/status. Missing memory lines (kernel threads, zombies)
// read as zero.
func parseStatus(r io.Reader) (status, error) {
	var st status
	sc := bufio.NewScanner(r)
	seen := false
	for sc.Scan() {
		line := sc.Bytes()
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		key, val := string(line[:colon]), bytes.TrimSpace(line[colon+1:])
		var err error
		switch key {
		case "State":
			if len(val) == 0 {
				return st, errors.New("status: empty State")
			}
			st.state = val[0]
			seen = true
		case "VmRSS":
			st.rssKiB, err = parseKiB(val)
		case "VmHWM":
			st.hwmKiB, err = parseKiB(val)
		case "VmPTE":
			st.vmPTEKiB, err = parseKiB(val)
		case "Threads":
			st.threads, err = strconv.Atoi(string(val))
		case "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches":
			var n uint64
			n, err = strconv.ParseUint(string(val), 10, 64)
			st.ctxSwitches += n
		}
		if err != nil {
			return st, fmt.Errorf("status %s: %w", key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return st, err
	}
	if !seen {
		return st, errors.New("status: no State line")
	}
	return st, nil
}

// parseKiB parses "1234 kB".
func parseKiB(b []byte) (int64, error) {
	f := bytes.Fields(b)
	if len(f) != 2 || string(f[1]) != "kB" {
		return 0, fmt.Errorf("want N kB, got %q", b)
	}
	return strconv.ParseInt(string(f[0]), 10, 64)
}

// parseStat returns utime and stime (fields 14 and 15, in clock ticks) from
// /proc/PID/stat. The command name in parentheses may hold spaces and
// parentheses, so fields are counted from the last ')'.
func parseStat(b []byte) (utime, stime uint64, err error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, 0, errors.New("stat: no command name")
	}
	// After ')' come fields 3 (state) onwards.
	f := bytes.Fields(b[end+1:])
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("stat: %d fields after the name, want at least 13", len(f))
	}
	if utime, err = strconv.ParseUint(string(f[11]), 10, 64); err != nil {
		return 0, 0, fmt.Errorf("stat utime: %w", err)
	}
	if stime, err = strconv.ParseUint(string(f[12]), 10, 64); err != nil {
		return 0, 0, fmt.Errorf("stat stime: %w", err)
	}
	return utime, stime, nil
}

// Reader reads samples of one process from a proc file system.
type Reader struct {
	Root string // mount point of proc; "" means /proc
	PID  int
}

func (r Reader) dir() string {
	root := r.Root
	if root == "" {
		root = "/proc"
	}
	return filepath.Join(root, strconv.Itoa(r.PID))
}

// Read takes one sample. It returns an error wrapping ErrExited when the
// process is gone or a zombie.
func (r Reader) Read() (Sample, error) {
	dir := r.dir()
	st, err := readStatus(filepath.Join(dir, "status"))
	if err != nil {
		return Sample{}, r.gone(err)
	}
	if st.state == 'Z' || st.state == 'X' {
		return Sample{}, fmt.Errorf("pid %d: %w", r.PID, ErrExited)
	}
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return Sample{}, r.gone(err)
	}
	ut, stt, err := parseStat(b)
	if err != nil {
		return Sample{}, fmt.Errorf("pid %d: %w", r.PID, err)
	}
	return Sample{RSSKiB: st.rssKiB, HWMKiB: st.hwmKiB, Threads: st.threads, CPUTicks: ut + stt}, nil
}

// CtxSwitches sums voluntary and involuntary context switches over every
// task of the process. It reads one file per thread (19,000 for a
// thread-per-connection server at 19,000 connections), so Sampler calls it
// only at Start and Stop, never at every sample.
func (r Reader) CtxSwitches() (uint64, error) {
	dir := r.dir()
	tasks, err := os.ReadDir(filepath.Join(dir, "task"))
	if err != nil {
		return 0, r.gone(err)
	}
	var n uint64
	for _, t := range tasks {
		ts, err := readStatus(filepath.Join(dir, "task", t.Name(), "status"))
		if err != nil {
			continue // the thread exited between listing and reading
		}
		n += ts.ctxSwitches
	}
	return n, nil
}

// taskCounter is a Source that sums context switches over all tasks on
// request (Reader does); other sources report them in every Sample.
type taskCounter interface {
	CtxSwitches() (uint64, error)
}

func (r Reader) gone(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("pid %d: %w", r.PID, ErrExited)
	}
	return fmt.Errorf("pid %d: %w", r.PID, err)
}

func readStatus(path string) (status, error) {
	f, err := os.Open(path)
	if err != nil {
		return status{}, err
	}
	defer f.Close()
	return parseStatus(f)
}

// Stats summarise the samples taken between Start and Stop.
type Stats struct {
	RSSIdleKiB  int64   // VmRSS from Idle
	RSSPeakKiB  int64   // max VmRSS sampled, or VmHWM at the end if higher
	RSSMeanKiB  int64   // mean VmRSS of the samples
	CPUSeconds  float64 // utime+stime delta between Start and the last sample
	CtxSwitches uint64  // context-switch delta, summed over live tasks
	ThreadsPeak int     // max Threads sampled
	Samples     int     // samples taken, Start's included
	Exited      bool    // the process exited during sampling
}

// Source gives one reading of a process; Reader reads it from /proc.
// Read returns an error wrapping ErrExited once the process is gone.
type Source interface {
	Read() (Sample, error)
}

var _ Source = Reader{}

// Sampler samples a process at a fixed interval between Start and Stop.
type Sampler struct {
	r        Source
	interval time.Duration

	idle   int64
	stop   chan struct{}
	done   chan struct{}
	exited chan struct{}

	mu     sync.Mutex
	base   Sample
	last   Sample
	rssSum int64
	stats  Stats
}

// NewSampler returns a sampler of r taking one sample per interval.
func NewSampler(r Source, interval time.Duration) *Sampler {
	return &Sampler{r: r, interval: interval, exited: make(chan struct{})}
}

// Idle records the resident set before load; call it before Start.
func (s *Sampler) Idle() error {
	smp, err := s.r.Read()
	if err != nil {
		return err
	}
	s.idle = smp.RSSKiB
	return nil
}

// Exited is closed when the process is found gone while sampling.
func (s *Sampler) Exited() <-chan struct{} { return s.exited }

// Start takes the base sample and begins periodic sampling.
func (s *Sampler) Start() error {
	smp, err := s.r.Read()
	if err != nil {
		return err
	}
	if tc, ok := s.r.(taskCounter); ok {
		if n, err := tc.CtxSwitches(); err == nil {
			smp.CtxSwitches = n
		}
	}
	s.base, s.last = smp, smp
	s.add(smp)
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.run()
	return nil
}

func (s *Sampler) run() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if !s.sample() {
				return
			}
		}
	}
}

// sample takes one reading; false once the process is gone.
func (s *Sampler) sample() bool {
	smp, err := s.r.Read()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if errors.Is(err, ErrExited) && !s.stats.Exited {
			s.stats.Exited = true
			close(s.exited)
		}
		return false
	}
	s.last = smp
	s.add(smp)
	return true
}

func (s *Sampler) add(smp Sample) {
	s.stats.Samples++
	s.rssSum += smp.RSSKiB
	s.stats.RSSPeakKiB = max(s.stats.RSSPeakKiB, smp.RSSKiB, smp.HWMKiB)
	s.stats.ThreadsPeak = max(s.stats.ThreadsPeak, smp.Threads)
}

// Stop takes a final sample unless the process is gone, stops sampling and
// returns the summary.
func (s *Sampler) Stop() Stats {
	if s.stop == nil {
		return Stats{RSSIdleKiB: s.idle}
	}
	close(s.stop)
	<-s.done
	if s.sample() {
		if tc, ok := s.r.(taskCounter); ok {
			if n, err := tc.CtxSwitches(); err == nil {
				s.mu.Lock()
				s.last.CtxSwitches = n
				s.mu.Unlock()
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.RSSIdleKiB = s.idle
	if st.Samples > 0 {
		st.RSSMeanKiB = s.rssSum / int64(st.Samples)
	}
	st.CPUSeconds = float64(s.last.CPUTicks-s.base.CPUTicks) / ClockTicks
	if s.last.CtxSwitches > s.base.CtxSwitches { // tasks that exited take their counts with them
		st.CtxSwitches = s.last.CtxSwitches - s.base.CtxSwitches
	}
	return st
}

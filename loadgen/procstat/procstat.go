// Package procstat samples a process's resource use from /proc: resident
// memory, CPU time, threads and context switches.
package procstat

import (
	"errors"
	"sync"
	"time"

	"github.com/asyncbench/asyncbench/internal/proc"
)

// ErrExited reports that the process is gone or a zombie.
var ErrExited = proc.ErrExited

// Sample is one reading of a process.
type Sample struct {
	RSSKiB      int64  // VmRSS
	HWMKiB      int64  // VmHWM, peak resident set
	Threads     int    // Threads
	CPUTicks    uint64 // utime + stime, in proc.UserHZ ticks
	CtxSwitches uint64 // voluntary + nonvoluntary, summed over tasks; Reader fills it only at Start and Stop
}

// Reader reads samples of one process from a proc file system.
type Reader struct {
	Root string // mount point of proc; "" means /proc
	PID  int
}

func (r Reader) proc() proc.Proc { return proc.Proc{Root: r.Root, PID: r.PID} }

// Read takes one sample: /proc/PID/status and /proc/PID/stat. It returns
// an error wrapping ErrExited when the process is gone or a zombie.
func (r Reader) Read() (Sample, error) {
	p := r.proc()
	st, err := p.Status()
	if err != nil {
		return Sample{}, err
	}
	s, err := p.Stat()
	if err != nil {
		return Sample{}, err
	}
	return Sample{RSSKiB: st.RSSKiB, HWMKiB: st.HWMKiB, Threads: st.Threads, CPUTicks: s.OwnTicks()}, nil
}

// CtxSwitches sums voluntary and involuntary context switches over every
// thread of the process. From the real /proc it asks the kernel's
// taskstats interface first (one netlink request, threads that exited
// included); where that is refused (no CAP_NET_ADMIN, another network
// namespace) or answers something it cannot read, it reads one file per
// live thread, milliseconds at 64
// threads, so Sampler calls it only at Start and Stop, never at every
// sample.
func (r Reader) CtxSwitches() (uint64, error) {
	if r.Root == "" {
		n, err := proc.ProcessCtxSwitches(r.PID)
		if err == nil || errors.Is(err, proc.ErrExited) {
			return n, err
		}
	}
	return r.proc().TaskCtxSwitches()
}

// taskCounter is a Source that sums context switches over all tasks on
// request (Reader does); other sources report them in every Sample.
type taskCounter interface {
	CtxSwitches() (uint64, error)
}

// Stats summarise the samples taken between Start and Stop.
type Stats struct {
	RSSIdleKiB  int64   // VmRSS from Idle
	RSSPeakKiB  int64   // max VmRSS sampled, or VmHWM at the end if higher
	RSSMeanKiB  int64   // mean VmRSS of the samples
	CPUSeconds  float64 // utime+stime delta between Start and the last sample
	CtxSwitches uint64  // context-switch delta over the process's threads (see Reader.CtxSwitches)
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
	st.CPUSeconds = float64(s.last.CPUTicks-s.base.CPUTicks) / proc.UserHZ
	if s.last.CtxSwitches > s.base.CtxSwitches { // without taskstats, threads that exited take their counts with them
		st.CtxSwitches = s.last.CtxSwitches - s.base.CtxSwitches
	}
	return st
}

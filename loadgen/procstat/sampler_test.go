package procstat

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asyncbench/asyncbench/internal/proc"
)

// fakeSource returns scripted samples: reading i has RSS 1000+i KiB,
// i CPU ticks and 10·i context switches; from reading exitAt on the process
// is gone.
type fakeSource struct {
	mu     sync.Mutex
	reads  int
	exitAt int // 0 = never
}

func (f *fakeSource) Read() (Sample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.reads
	f.reads++
	if f.exitAt > 0 && i >= f.exitAt {
		return Sample{}, fmt.Errorf("pid 1: %w", ErrExited)
	}
	return Sample{RSSKiB: 1000 + int64(i), HWMKiB: 1000 + int64(i), Threads: 2 + i%3, CPUTicks: uint64(i), CtxSwitches: uint64(10 * i)}, nil
}

// TestSamplerTicks runs the sampler for 1 s of fake time at 20 Hz: the
// idle reading, the base reading, 20 ticks and the final one.
func TestSamplerTicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{}
		s := NewSampler(src, 50*time.Millisecond)
		if err := s.Idle(); err != nil { // reading 0
			t.Fatal(err)
		}
		if err := s.Start(); err != nil { // reading 1
			t.Fatal(err)
		}
		time.Sleep(time.Second) // readings 2..21
		synctest.Wait()
		st := s.Stop() // reading 22
		if st.Samples != 22 || st.RSSIdleKiB != 1000 || st.RSSPeakKiB != 1022 || st.ThreadsPeak != 4 {
			t.Fatalf("stats %+v, want 22 samples, idle 1000, peak 1022, 4 threads", st)
		}
		if st.RSSMeanKiB != (1001+1022)/2 || st.CPUSeconds != 21.0/proc.UserHZ || st.CtxSwitches != 210 || st.Exited {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestSamplerExit: the process is gone at the 5th tick; Exited closes then
// and sampling stops.
func TestSamplerExit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{exitAt: 6} // readings 0 (idle), 1 (base), 2..5 ticks
		s := NewSampler(src, 50*time.Millisecond)
		if err := s.Idle(); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		<-s.Exited()
		if d := time.Since(start); d != 250*time.Millisecond {
			t.Fatalf("exit seen after %v, want 250ms (the 5th tick)", d)
		}
		st := s.Stop()
		if !st.Exited || st.Samples != 5 {
			t.Fatalf("stats %+v, want exited after 5 samples", st)
		}
	})
}

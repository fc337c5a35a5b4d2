package procstat

import (
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestReadSelf reads this test process's own /proc entry.
func TestReadSelf(t *testing.T) {
	r := Reader{PID: os.Getpid()}
	s, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSKiB <= 0 || s.HWMKiB < s.RSSKiB || s.Threads < 1 || s.CtxSwitches != 0 {
		t.Fatalf("implausible sample %+v (context switches are read on request only)", s)
	}
	n, err := r.CtxSwitches()
	if err != nil || n == 0 {
		t.Fatalf("CtxSwitches = %d, %v", n, err)
	}
}

// TestSamplerSeesExit samples a child that exits, unreaped, mid-run.
func TestSamplerSeesExit(t *testing.T) {
	cmd := exec.Command("sleep", "0.3")
	if err := cmd.Start(); err != nil {
		t.Skip("cannot start sleep:", err)
	}
	defer func() { _ = cmd.Wait() }()
	s := NewSampler(Reader{PID: cmd.Process.Pid}, 20*time.Millisecond)
	if err := s.Idle(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("exit not seen")
	}
	st := s.Stop()
	if !st.Exited || st.Samples < 2 || st.RSSPeakKiB <= 0 || st.RSSIdleKiB <= 0 {
		t.Fatalf("stats %+v", st)
	}
	if _, err := (Reader{PID: cmd.Process.Pid}).Read(); !errors.Is(err, ErrExited) {
		t.Fatalf("read after exit: %v", err)
	}
}

// TestReadMemorySelf reads this process: RSS and threads are filled, and
// slabinfo either read or -1.
func TestReadMemorySelf(t *testing.T) {
	m, err := Reader{PID: os.Getpid()}.ReadMemory()
	if err != nil {
		t.Fatal(err)
	}
	if m.RSSKiB <= 0 || m.Threads < 1 || m.SockMemKiB < 0 || m.SlabKiB < -1 {
		t.Fatalf("%+v", m)
	}
}

// fixtureRoot is the proc package's fixture: process 4242 is a server
// whose command name holds spaces and parentheses, 4243 a zombie.
const fixtureRoot = "../../internal/proc/testdata/proc"

// TestReadFixture reads a sample, the tasks' context switches and the
// memory figures from fixture files.
func TestReadFixture(t *testing.T) {
	r := Reader{Root: fixtureRoot, PID: 4242}
	s, err := r.Read()
	if want := (Sample{RSSKiB: 8812, HWMKiB: 10240, Threads: 2, CPUTicks: 345 + 67}); err != nil || s != want {
		t.Fatalf("Read = %+v, %v; want %+v", s, err, want)
	}
	if n, err := r.CtxSwitches(); err != nil || n != 150+12+40+3 {
		t.Fatalf("CtxSwitches = %d, %v; want 205", n, err)
	}
	// TCP mem 25 pages; slab (26 × 2496 + 65 × 2368) / 1024 KiB.
	m, err := r.ReadMemory()
	want := Memory{RSSKiB: 8812, VmPTEKiB: 88, Threads: 2, SockMemKiB: 25 * int64(os.Getpagesize()) / 1024, SlabKiB: (26*2496 + 65*2368) / 1024}
	if err != nil || m != want {
		t.Fatalf("ReadMemory = %+v, %v; want %+v", m, err, want)
	}
	for _, pid := range []int{4243, 9999} {
		if _, err := (Reader{Root: fixtureRoot, PID: pid}).Read(); !errors.Is(err, ErrExited) {
			t.Errorf("pid %d: %v, want ErrExited", pid, err)
		}
		if _, err := (Reader{Root: fixtureRoot, PID: pid}).ReadMemory(); !errors.Is(err, ErrExited) {
			t.Errorf("memory of pid %d: %v, want ErrExited", pid, err)
		}
	}
}

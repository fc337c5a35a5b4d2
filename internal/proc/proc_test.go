package proc

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fixture is a proc file system: two CPUs; process 4242 a server whose
// command name holds spaces and parentheses, with two tasks; 4243 a
// zombie; 13 a kernel thread.
const fixture = "testdata/proc"

func openFixture(t *testing.T) FS {
	t.Helper()
	fs, err := Open(fixture)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// tempRoot writes files (path: text) under a new directory and opens it
// as a proc file system.
func tempRoot(t *testing.T, files map[string]string) FS {
	t.Helper()
	root := t.TempDir()
	for name, text := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestCPUs(t *testing.T) {
	got, err := openFixture(t).CPUs()
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]CPUTimes{
		0: {User: 45384, System: 17968, Idle: 89674, IOWait: 500, SoftIRQ: 1390, Steal: 68},
		1: {User: 46329, System: 18508, Idle: 87430, IOWait: 1342, SoftIRQ: 1377, Steal: 69},
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// An old kernel without steal, irq and softirq columns.
	got, err = tempRoot(t, map[string]string{"stat": "cpu 1 2 3 4\ncpu3 1 2 3 4 5\n"}).CPUs()
	if err != nil || len(got) != 1 || got[3] != (CPUTimes{User: 1, Nice: 2, System: 3, Idle: 4, IOWait: 5}) {
		t.Fatalf("old format: %+v %v", got, err)
	}
	for _, bad := range []string{"", "intr 1 2\n", "cpu0 1 x 3 4 5\n"} {
		if _, err := tempRoot(t, map[string]string{"stat": bad}).CPUs(); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestCPUTimesArithmetic(t *testing.T) {
	a := CPUTimes{User: 10, Nice: 1, System: 5, Idle: 100, IOWait: 2, IRQ: 3, SoftIRQ: 4, Steal: 6}
	b := CPUTimes{User: 1, Nice: 1, System: 1, Idle: 1, IOWait: 1, IRQ: 1, SoftIRQ: 1, Steal: 1}
	if got := a.Add(b); got != (CPUTimes{11, 2, 6, 101, 3, 4, 5, 7}) {
		t.Errorf("Add = %+v", got)
	}
	if got := a.Sub(b); got != (CPUTimes{9, 0, 4, 99, 1, 2, 3, 5}) {
		t.Errorf("Sub = %+v", got)
	}
}

// TestTicks: procfs's seconds turn back into the file's exact tick counts.
func TestTicks(t *testing.T) {
	for _, n := range []uint64{0, 1, 7, 99, 101, 45384, 1<<32 + 3, 1<<51 - 1} {
		if got := ticks(float64(n) / UserHZ); got != n {
			t.Errorf("ticks(%d / UserHZ) = %d", n, got)
		}
	}
}

func TestPIDs(t *testing.T) {
	pids, err := openFixture(t).PIDs()
	slices.Sort(pids)
	if err != nil || !slices.Equal(pids, []int{13, 4242, 4243}) {
		t.Fatalf("PIDs = %v, %v", pids, err)
	}
}

func TestStat(t *testing.T) {
	fs := openFixture(t)
	s, err := fs.Proc(4242).Stat()
	want := Stat{Comm: "my (server) x", State: 'S', Flags: 4194560, UTime: 345, STime: 67, CUTime: 7, CSTime: 3}
	if err != nil || s != want {
		t.Fatalf("Stat = %+v, %v; want %+v", s, err, want)
	}
	if s.KernelThread() {
		t.Error("a server is a kernel thread")
	}
	if k, err := fs.Proc(13).Stat(); err != nil || !k.KernelThread() || k.Comm != "ksoftirqd/0" {
		t.Errorf("kernel thread: %+v, %v", k, err)
	}
	for _, pid := range []int{4243, 9999} { // a zombie, a process gone
		if _, err := fs.Proc(pid).Stat(); !errors.Is(err, ErrExited) {
			t.Errorf("pid %d: %v, want ErrExited", pid, err)
		}
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Stat
		wantErr bool
	}{
		{"plain", "4242 (server) S 1 4242 4242 0 -1 4194560 1200 0 0 0 345 67 0 0 20 0 7 0 100 1254460 2203 18446744073709551615",
			Stat{Comm: "server", State: 'S', Flags: 4194560, UTime: 345, STime: 67}, false},
		{"name with spaces and parens", "17 (a) b (c) R 1 17 17 0 -1 0 0 0 0 0 9 10 0 0 20 0 1 0",
			Stat{Comm: "a) b (c", State: 'R', UTime: 9, STime: 10}, false},
		{"reaped children", "4242 (my (server) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 5 0 100 0 0\n",
			Stat{Comm: "my (server) x", State: 'S', Flags: 4194560, UTime: 250, STime: 50, CUTime: 7, CSTime: 3}, false},
		{"no name", "17 a R 1", Stat{}, true},
		{"short", "17 (a) R 1 2 3", Stat{}, true},
		{"bad utime", "1 (a) R 1 1 1 0 -1 0 0 0 0 0 x 10 0 0", Stat{}, true},
		{"bad stime", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 250 x 0 0", Stat{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	fs := openFixture(t)
	st, err := fs.Proc(4242).Status()
	want := Status{State: 'S', RSSKiB: 8812, HWMKiB: 10240, VmPTEKiB: 88, Threads: 2, CtxSwitches: 162}
	if err != nil || st != want {
		t.Fatalf("Status = %+v, %v; want %+v", st, err, want)
	}
	for _, pid := range []int{4243, 9999} {
		if _, err := fs.Proc(pid).Status(); !errors.Is(err, ErrExited) {
			t.Errorf("pid %d: %v, want ErrExited", pid, err)
		}
	}
	if n, err := fs.Proc(4242).TaskCtxSwitches(); err != nil || n != 150+12+40+3 {
		t.Errorf("TaskCtxSwitches = %d, %v; want 205", n, err)
	}
	if _, err := fs.Proc(9999).TaskCtxSwitches(); !errors.Is(err, ErrExited) {
		t.Errorf("tasks of a process gone: %v", err)
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Status
		wantErr bool
	}{
		{"zombie without memory lines", "Name:\tx\nState:\tZ (zombie)\nThreads:\t1\n", Status{State: 'Z', Threads: 1}, false},
		{"page tables", "State:\tS (sleeping)\nVmRSS:\t 100 kB\nVmPTE:\t      88 kB\nThreads:\t3\n", Status{State: 'S', RSSKiB: 100, VmPTEKiB: 88, Threads: 3}, false},
		{"no state", "Name:\tx\nVmRSS:\t1 kB\n", Status{}, true},
		{"bad rss unit", "State:\tR\nVmRSS:\t12 MB\n", Status{}, true},
		{"bad threads", "State:\tR\nThreads:\tmany\n", Status{}, true},
		{"bad switches", "State:\tR\nvoluntary_ctxt_switches:\t-1\n", Status{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatus([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestTCPMemKiB(t *testing.T) {
	if kib, err := openFixture(t).TCPMemKiB(); err != nil || kib != 25*int64(os.Getpagesize())/1024 {
		t.Fatalf("got %d, %v; want 25 pages", kib, err)
	}
	for _, bad := range []string{"", "UDP: inuse 0 mem 3\n", "TCP: inuse 4\n", "TCP: inuse 4 mem x\n"} {
		if _, err := tempRoot(t, map[string]string{"net/sockstat": bad}).TCPMemKiB(); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestTCPSlabKiB(t *testing.T) {
	// (26 × 2496 + 65 × 2368) / 1024 = 213 KiB.
	if kib, err := openFixture(t).TCPSlabKiB(); err != nil || kib != (26*2496+65*2368)/1024 {
		t.Fatalf("got %d, %v; want %d", kib, err, (26*2496+65*2368)/1024)
	}
	noTCP := "slabinfo - version: 2.1\nkmalloc-8 4096 4096 8 512 1 : tunables 0 0 0 : slabdata 8 8 0\n"
	for _, fs := range []FS{tempRoot(t, map[string]string{"slabinfo": noTCP}), tempRoot(t, nil)} {
		if _, err := fs.TCPSlabKiB(); err == nil {
			t.Error("no TCP cache: no error")
		}
	}
}

func TestKernelMemory(t *testing.T) {
	stacks, tables, err := openFixture(t).KernelMemory()
	if err != nil || stacks != 4864<<10 || tables != 9228<<10 {
		t.Fatalf("got %d %d, %v", stacks, tables, err)
	}
	if _, _, err := tempRoot(t, map[string]string{"meminfo": "MemTotal:       24598612 kB\n"}).KernelMemory(); err == nil {
		t.Error("meminfo without KernelStack: no error")
	}
}

// TestSelf reads this process's own entry in the real /proc.
func TestSelf(t *testing.T) {
	fs, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	p := fs.Proc(os.Getpid())
	st, err := p.Status()
	if err != nil || st.RSSKiB <= 0 || st.Threads < 1 {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	if s, err := p.Stat(); err != nil || s.State == 0 || s.KernelThread() {
		t.Fatalf("Stat = %+v, %v", s, err)
	}
	if cpus, err := fs.CPUs(); err != nil || len(cpus) == 0 {
		t.Fatalf("CPUs = %v, %v", cpus, err)
	}
}

// TestSeesHost: the answer comes from the inode of the reader's PID
// namespace, the initial one's being the kernel's constant.
func TestSeesHost(t *testing.T) {
	for _, tt := range []struct {
		link string
		want bool
	}{
		{"pid:[4026531836]", true},  // the host's
		{"pid:[4026532512]", false}, // a container's
	} {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "7", "ns"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("7", filepath.Join(root, "self")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(tt.link, filepath.Join(root, "7", "ns", "pid")); err != nil {
			t.Fatal(err)
		}
		fs, err := Open(root)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := fs.SeesHost(); err != nil || got != tt.want {
			t.Errorf("%s: SeesHost = %v, %v; want %v", tt.link, got, err, tt.want)
		}
	}
	fs, err := Open(fixture) // no self
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.SeesHost(); err == nil {
		t.Error("SeesHost without /proc/self: no error")
	}
}

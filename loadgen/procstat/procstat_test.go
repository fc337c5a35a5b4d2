package procstat

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const statusFixture = `Name:	server
Umask:	0022
State:	S (sleeping)
Tgid:	4242
Pid:	4242
VmPeak:	 1254460 kB
VmHWM:	   10240 kB
VmRSS:	    8812 kB
RssAnon:	    3100 kB
Threads:	7
voluntary_ctxt_switches:	150
nonvoluntary_ctxt_switches:	12
`

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    status
		wantErr bool
	}{
		{"process", statusFixture, status{state: 'S', rssKiB: 8812, hwmKiB: 10240, threads: 7, ctxSwitches: 162}, false},
		{"zombie without memory lines", "Name:\tx\nState:\tZ (zombie)\nThreads:\t1\n", status{state: 'Z', threads: 1}, false},
		{"no state", "Name:\tx\nVmRSS:\t1 kB\n", status{}, true},
		{"bad rss unit", "State:\tR\nVmRSS:\t12 MB\n", status{}, true},
		{"bad threads", "State:\tR\nThreads:\tmany\n", status{}, true},
		{"bad switches", "State:\tR\nvoluntary_ctxt_switches:\t-1\n", status{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatus(strings.NewReader(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		ut, st  uint64
		wantErr bool
	}{
		{"plain", "4242 (server) S 1 4242 4242 0 -1 4194560 1200 0 0 0 345 67 0 0 20 0 7 0 100 1254460 2203 18446744073709551615", 345, 67, false},
		{"name with spaces and parens", "17 (a) b (c) R 1 17 17 0 -1 0 0 0 0 0 9 10 0 0 20 0 1 0", 9, 10, false},
		{"no name", "17 a R 1", 0, 0, true},
		{"short", "17 (a) R 1 2 3", 0, 0, true},
		{"bad number", "1 (a) R 1 1 1 0 -1 0 0 0 0 0 x 10 0", 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ut, st, err := parseStat([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if ut != tc.ut || st != tc.st {
				t.Fatalf("got %d %d, want %d %d", ut, st, tc.ut, tc.st)
			}
		})
	}
}

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

func TestParseStatusVmPTE(t *testing.T) {
	got, err := parseStatus(strings.NewReader("State:\tS (sleeping)\nVmRSS:\t 100 kB\nVmPTE:\t      88 kB\nThreads:\t3\n"))
	if err != nil || got.vmPTEKiB != 88 || got.rssKiB != 100 || got.threads != 3 {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestParseSockstat(t *testing.T) {
	const fixture = "sockets: used 32\nTCP: inuse 4 orphan 0 tw 2041 alloc 4 mem 25\nUDP: inuse 0 mem 0\n"
	if n, err := parseSockstat(strings.NewReader(fixture)); err != nil || n != 25 {
		t.Fatalf("got %d, %v; want 25", n, err)
	}
	for _, bad := range []string{"", "UDP: inuse 0 mem 3\n", "TCP: inuse 4\n", "TCP: inuse 4 mem x\n"} {
		if _, err := parseSockstat(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseSlabinfo(t *testing.T) {
	const fixture = `slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
TCPv6                 26     26   2496   13    8 : tunables    0    0    0 : slabdata      2      2      0
request_sock_TCP       0      0    304   13    1 : tunables    0    0    0 : slabdata      0      0      0
TCP                   65    117   2368   13    8 : tunables    0    0    0 : slabdata      9      9      0
`
	// (26 × 2496 + 65 × 2368) / 1024 = 213 KiB.
	if kib, err := parseSlabinfo(strings.NewReader(fixture)); err != nil || kib != (26*2496+65*2368)/1024 {
		t.Fatalf("got %d, %v; want %d", kib, err, (26*2496+65*2368)/1024)
	}
	if _, err := parseSlabinfo(strings.NewReader("slabinfo - version: 2.1\nUDP 1 1 1 1 1\n")); err == nil {
		t.Error("no TCP cache: no error")
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

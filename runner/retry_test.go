package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/internal/proc"
	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/runner/fakechild"
)

// twoRounds is stdlib and gnet plaintext, closed loop, in two rounds run
// in plan order (no seed): loadgen runs 0 and 1 are round 1's cells.
func twoRounds() Plan {
	p := threeCells()
	p.Backends = []string{"stdlib", "gnet"}
	p.Reps = 2
	return p
}

// summarise renders rows as "backend#rep/attempt:status" in write order.
func summarise(rows []results.Row) string {
	var s []string
	for _, r := range rows {
		s = append(s, fmt.Sprintf("%s#%d/%d:%s", r.Backend, r.Rep, r.Attempt, r.Status))
	}
	return strings.Join(s, " ")
}

// TestRunRerunsGeneratorBound: a generator-bound cell is measured again at
// the end of its round, after the round's other cells; an ok re-run
// replaces it in Latest, and its files do not overwrite the first
// attempt's. A cell whose re-run was generator-bound again is not re-run
// in later rounds; with retries 0 nothing is.
func TestRunRerunsGeneratorBound(t *testing.T) {
	zero := 0
	tests := []struct {
		name     string
		genBound string // loadgen runs that are generator-bound
		retries  *int
		rows     string
		reruns   int
		ok       int
		progress string
		latest   int // attempt Latest keeps of gnet in round 1
	}{
		{"re-run ok", "1", nil,
			"stdlib#1/1:ok gnet#1/1:saturated gnet#1/2:ok stdlib#2/1:ok gnet#2/1:ok", 1, 1,
			"[3/5] gnet/http/plaintext/c4/p1/r0/b0 rep1 re-run 1: 4000 req/s p99 812µs ok\n", 2},
		{"bound again", "1,2,4", nil,
			"stdlib#1/1:ok gnet#1/1:saturated gnet#1/2:saturated stdlib#2/1:ok gnet#2/1:saturated", 1, 0,
			"[5/5] gnet/http/plaintext/c4/p1/r0/b0 rep2: 4000 req/s p99 812µs saturated", 2},
		{"retries off", "1", &zero,
			"stdlib#1/1:ok gnet#1/1:saturated stdlib#2/1:ok gnet#2/1:ok", 0, 0,
			"[4/4] gnet/http/plaintext/c4/p1/r0/b0 rep2", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := twoRounds()
			p.Retries = tt.retries
			cfg, pids := fakeConfig(t, p)
			t.Setenv(fakechild.EnvGenBound, tt.genBound)
			var lines syncBuf
			cfg.Progress = LineProgress{W: &lines}
			var w memRows
			out, err := Run(context.Background(), cfg, &w)
			if err != nil {
				t.Fatal(err)
			}
			if got := summarise(w.rows); got != tt.rows {
				t.Fatalf("rows  %s\nwant  %s", got, tt.rows)
			}
			if out.Ran != len(w.rows) || out.Reruns != tt.reruns || out.RerunsOK != tt.ok || out.Planned != 4 {
				t.Fatalf("outcome %+v", out)
			}
			if !strings.Contains(lines.String(), tt.progress) {
				t.Fatalf("progress lines:\n%s\nwant %q", lines.String(), tt.progress)
			}
			for _, r := range w.rows {
				if r.Status == results.StatusSaturated && (r.Bottleneck != results.BottleneckGenerator || !r.GeneratorBound()) {
					t.Fatalf("saturated row not generator-bound: %+v", r)
				}
				if _, err := os.Stat(filepath.Join(cfg.Dir, r.Hlog)); err != nil || (r.Attempt > 1) != strings.HasSuffix(r.Hlog, fmt.Sprintf("_a%d.hlog", r.Attempt)) {
					t.Fatalf("attempt %d: hlog %q: %v", r.Attempt, r.Hlog, err)
				}
			}
			latest := Latest(w.rows)
			if len(latest) != 4 || latest[1].Backend != "gnet" || latest[1].Rep != 1 || latest[1].Attempt != tt.latest {
				t.Fatalf("latest %s", summarise(latest))
			}
			assertGone(t, pids)
		})
	}
}

// TestRunRerunResume: a resumed run numbers its attempts on from the
// rows already written, and re-runs within its own budget.
func TestRunRerunResume(t *testing.T) {
	p := twoRounds()
	p.Reps = 1
	p.Backends = []string{"gnet"}
	cfg, _ := fakeConfig(t, p)
	cfg.Prior = []results.Row{
		{Cell: "gnet/http/plaintext/c4/p1/r0/b0", Rep: 1, Status: results.StatusNoisy, Attempt: 1},
		{Cell: "gnet/http/plaintext/c4/p1/r0/b0", Rep: 1, Status: results.StatusNoisy, Attempt: 2},
	}
	cfg.Skip = Completed(cfg.Prior)
	t.Setenv(fakechild.EnvGenBound, "0")
	var w memRows
	out, err := Run(context.Background(), cfg, &w)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := summarise(w.rows), "gnet#1/3:saturated gnet#1/4:ok"; got != want || out.Reruns != 1 {
		t.Fatalf("rows %s, want %s; outcome %+v", got, want, out)
	}
	if l := Latest(append(cfg.Prior, w.rows...)); len(l) != 1 || l[0].Attempt != 4 {
		t.Fatalf("latest %s", summarise(l))
	}
}

// noisyHost is a HostProbe on a fake clock of real time: between two
// reads of /proc/stat both CPUs were either idle or busy with another
// process (pid 20), as noisy says at the read. The children's own CPU
// time reads as zero.
type noisyHost struct {
	mu     sync.Mutex
	t0     time.Time
	ticks  uint64 // per CPU, at the last read
	busy   uint64 // per CPU
	others uint64
	noisy  func() bool
}

func (h *noisyHost) probe() *HostProbe {
	return &HostProbe{
		CPUs: func() (map[int]proc.CPUTimes, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			now := uint64(time.Since(h.t0) / (time.Second / proc.UserHZ))
			if h.noisy() {
				h.busy += now - h.ticks
				h.others += 2 * (now - h.ticks)
			}
			h.ticks = now
			idle := now - h.busy
			cpu := proc.CPUTimes{User: h.busy, Idle: idle}
			return map[int]proc.CPUTimes{0: cpu, 1: cpu}, nil
		},
		Stat: func(pid int) (proc.Stat, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			t := uint64(0)
			if pid == 20 {
				t = h.others
			}
			return proc.Stat{Comm: "p", State: 'S', UTime: t}, nil
		},
		PIDs: func() ([]int, error) { return []int{20}, nil },
		Self: 1,
	}
}

// TestRunRerunsNoisy: a noisy cell is re-run after waiting for a quiet
// second, at most Retries times; here the host is busy during the first
// two attempts, so with one retry both rows are noisy and Latest keeps
// the last.
func TestRunRerunsNoisy(t *testing.T) {
	p := twoRounds()
	p.Reps, p.Backends = 1, []string{"gnet"}
	one := 1
	p.Retries = &one
	cfg, pids := fakeConfig(t, p)
	t.Setenv(fakechild.EnvWindow, "1")
	loadgens := func() int {
		m, _ := filepath.Glob(filepath.Join(pids, "loadgen-*.pid"))
		return len(m)
	}
	host := &noisyHost{t0: time.Now(), noisy: func() bool { n := loadgens(); return n == 1 || n == 2 }}
	cfg.Probe = host.probe()
	var w memRows
	out, err := Run(context.Background(), cfg, &w)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := summarise(w.rows), "gnet#1/1:noisy gnet#1/2:noisy"; got != want || out.Reruns != 1 || out.RerunsOK != 0 {
		t.Fatalf("rows %s, want %s; outcome %+v", got, want, out)
	}
	first, rerun := w.rows[0], w.rows[1]
	if first.QuietWaitS != nil || rerun.QuietWaitS == nil || *rerun.QuietWaitS < 1 {
		t.Fatalf("quiet waits: first %v, re-run %v", first.QuietWaitS, rerun.QuietWaitS)
	}
	if !strings.Contains(rerun.Reason, "other processes used") || !strings.Contains(rerun.Reason, "ran after waiting 2s for quiet") {
		t.Fatalf("re-run reason %q", rerun.Reason)
	}
	assertGone(t, pids)
}

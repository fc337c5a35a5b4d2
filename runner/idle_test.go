package runner

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/runner/fakechild"
)

func TestKernelStackKiB(t *testing.T) {
	tests := []struct {
		arch string
		page int
		want int64
		ok   bool
	}{
		{"amd64", 4096, 16, true},
		{"386", 4096, 8, true},
		{"arm64", 4096, 16, true},
		{"arm64", 65536, 0, false},
		{"riscv64", 4096, 0, false},
	}
	for _, tt := range tests {
		if got, ok := kernelStackKiB(tt.arch, tt.page); got != tt.want || ok != tt.ok {
			t.Errorf("kernelStackKiB(%s, %d) = %d, %v; want %d, %v", tt.arch, tt.page, got, ok, tt.want, tt.ok)
		}
	}
}

func TestIdleLoadgenArgs(t *testing.T) {
	p := Plan{Duration: 2 * time.Second, Warmup: time.Second, DialRate: 10000}
	cfg := &Config{Plan: p}
	http := Cell{Workload: Workloads["idle"], Conns: 19000, Pipeline: 1}
	got := strings.Join(loadgenArgs(cfg, http, "127.0.0.1:9", "x.hlog", 42), " ")
	want := "-idle -c 19000 -d 2s -dial-rate 10000 -source-ips 127.0.0.2,127.0.0.3 -json -server-pid 42 http://127.0.0.1:9/plaintext"
	if got != want {
		t.Errorf("idle args\n got %s\nwant %s", got, want)
	}
	cfg.Plan.DialRate = 0
	echo := Cell{Workload: Workloads["idle-echo"], Conns: 64, Pipeline: 1, Payload: 16}
	got = strings.Join(loadgenArgs(cfg, echo, "127.0.0.1:9", "x.hlog", 42), " ")
	want = "-idle -c 64 -d 2s -payload 16 -source-ips 127.0.0.2 -json -server-pid 42 tcp://127.0.0.1:9"
	if got != want {
		t.Errorf("idle-echo args\n got %s\nwant %s", got, want)
	}
}

// TestSourceIPs: idle cells and cells above 5,000 connections connect
// from 127.0.0.2 on, one address per 10,000 connections; others from any.
func TestSourceIPs(t *testing.T) {
	p := Plan{Duration: 2 * time.Second, Warmup: time.Second}
	cfg := &Config{Plan: p}
	tests := []struct {
		workload string
		conns    int
		want     string // the -source-ips value; "" = no flag
	}{
		{"plaintext", 64, ""},
		{"plaintext", 5000, ""},
		{"plaintext", 5001, "127.0.0.2"},
		{"plaintext", 10000, "127.0.0.2"},
		{"echo", 10001, "127.0.0.2,127.0.0.3"},
		{"idle", 1000, "127.0.0.2"},
		{"idle", 19000, "127.0.0.2,127.0.0.3"},
		{"idle", 19744, "127.0.0.2,127.0.0.3"},
		{"idle", 30000, "127.0.0.2,127.0.0.3,127.0.0.4"},
		{"idle", 10_000_000, ""}, // capped at 250 addresses, checked below
	}
	for _, tt := range tests {
		w, err := ParseWorkload(tt.workload)
		if err != nil {
			t.Fatal(err)
		}
		c := Cell{Workload: w, Conns: tt.conns, Pipeline: 1, Payload: 16}
		args := loadgenArgs(cfg, c, "127.0.0.1:9", "x.hlog", 42)
		i := slices.Index(args, "-source-ips")
		if tt.conns == 10_000_000 {
			if ips := strings.Split(args[i+1], ","); len(ips) != 250 || ips[249] != "127.0.0.251" {
				t.Errorf("%d connections: %d addresses, last %s", tt.conns, len(ips), ips[len(ips)-1])
			}
			continue
		}
		got := ""
		if i >= 0 {
			got = args[i+1]
		}
		if got != tt.want {
			t.Errorf("%s at %d connections: -source-ips %q, want %q (%s)", tt.workload, tt.conns, got, tt.want, strings.Join(args, " "))
		}
	}
}

// idleSummary is an idle run at 1000 connections: RSS +10,000 KiB, page
// tables +250 KiB, threads 5 → 1005, TCP buffers +100 KiB and slab
// +4,900 KiB system-wide.
func idleSummary() *summary.Summary {
	return &summary.Summary{
		Conns: 1000, DurationSeconds: 2, StopReason: summary.StopDuration,
		Server: &summary.ServerStats{RSSIdleKiB: 11000, RSSPeakKiB: 11004},
		ServerIdle: &summary.IdleMemory{
			RSSBaseKiB: 1000, RSSKiB: 11000,
			VmPTEBaseKiB: 50, VmPTEKiB: 300,
			ThreadsBase: 5, Threads: 1005,
			SockMemBaseKiB: 10, SockMemKiB: 110,
			SlabBaseKiB: 100, SlabKiB: 5000,
		},
	}
}

// judgeIdle fills the idle columns of r from s and judges it as an idle
// cell, as measureCell does.
func judgeIdle(r *results.Row, s *summary.Summary, stackKiB int64) {
	fell, note := fillIdle(r, s, stackKiB)
	ev := results.Evidence{Summary: s, Idle: true, SocketFellKiB: fell}
	if note != "" {
		ev.Notes = []string{note}
	}
	r.Status, r.Reason = results.Judge(ev)
}

func TestFillIdle(t *testing.T) {
	r := results.Row{Workload: "idle", Conns: 1000}
	s := idleSummary()
	fillRow(&r, s)
	if st, _ := results.Judge(results.Evidence{Summary: s}); st != results.StatusFailed {
		t.Fatalf("judged as a window, an idle cell's should be failed, got %s", st)
	}
	judgeIdle(&r, s, 16)
	if r.Status != results.StatusOK || r.Reason != "" {
		t.Fatalf("status %s %q", r.Status, r.Reason)
	}
	// rss (11000−1000)·1024/1000 = 10240; kernel: 250 KiB page tables +
	// 1000 threads × 16 KiB + (100 + 4900)/2 KiB sockets = 18,750 KiB =
	// 19,200,000 B / 1000 = 19200.
	want := map[string]int64{
		"vm_pte": 300, "kernel_stack": 1005 * 16, "rss_per_conn": 10240, "kernel_per_conn": 19200, "total_per_conn": 29440,
	}
	got := map[string]int64{
		"vm_pte": num(r.VmPTEKiB), "kernel_stack": num(r.KernelStackKiB), "rss_per_conn": num(r.RSSPerConnBytes),
		"kernel_per_conn": num(r.KernelPerConnBytes), "total_per_conn": num(r.TotalPerConnBytes),
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %d, want %d", k, got[k], w)
		}
	}
	if num(r.SocketKiB) != 2500 {
		t.Errorf("socket_kib = %v, want 2500", num(r.SocketKiB))
	}

	t.Run("odd socket KiB", func(t *testing.T) {
		s := idleSummary()
		s.ServerIdle.SlabKiB++ // 5001 KiB more in all: 2500.5 KiB is the server's
		r := results.Row{Workload: "idle", Conns: 1000}
		judgeIdle(&r, s, 16)
		// 250·1024 + 1000·16·1024 + 5001·512 = 19,200,512 B → 19200 per conn
		if num(r.SocketKiB) != 2500.5 || num(r.KernelPerConnBytes) != 19200 {
			t.Errorf("socket %v kernel %d", num(r.SocketKiB), num(r.KernelPerConnBytes))
		}
	})
	t.Run("slab unreadable", func(t *testing.T) {
		s := idleSummary()
		s.ServerIdle.SlabBaseKiB, s.ServerIdle.SlabKiB = -1, -1
		r := results.Row{Workload: "idle", Conns: 1000}
		judgeIdle(&r, s, 16)
		if r.Status != results.StatusOK || r.SocketKiB != nil || r.KernelPerConnBytes != nil || r.TotalPerConnBytes != nil ||
			num(r.RSSPerConnBytes) != 10240 || num(r.VmPTEKiB) != 300 || !strings.Contains(r.Reason, "slab unreadable") {
			t.Errorf("%+v", r)
		}
	})
	t.Run("stack size unknown", func(t *testing.T) {
		r := results.Row{Workload: "idle", Conns: 1000}
		judgeIdle(&r, idleSummary(), 0)
		if r.KernelStackKiB != nil || r.KernelPerConnBytes != nil || r.TotalPerConnBytes != nil || num(r.SocketKiB) != 2500 {
			t.Errorf("%+v", r)
		}
	})
	t.Run("few connections", func(t *testing.T) {
		r := results.Row{Workload: "idle", Conns: 10, RSSPerConnBytes: new(int64(5))}
		judgeIdle(&r, idleSummary(), 16)
		if r.RSSPerConnBytes != nil || r.KernelPerConnBytes != nil || r.VmPTEKiB == nil || r.Status != results.StatusOK {
			t.Errorf("%+v", r)
		}
	})
	t.Run("socket memory fell", func(t *testing.T) {
		s := idleSummary()
		s.ServerIdle.SockMemKiB, s.ServerIdle.SlabKiB = 10, 0 // slab 100 → 0 KiB: others' sockets closed
		r := results.Row{Workload: "idle", Conns: 1000}
		judgeIdle(&r, s, 16)
		if r.Status != results.StatusNoisy || !strings.Contains(r.Reason, "fell by 100 KiB") || num(r.SocketKiB) != -50 {
			t.Errorf("%s %q", r.Status, r.Reason)
		}
	})
}

func TestIdleStatus(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*summary.Summary)
		status results.Status
		reason string
	}{
		{"ok with nothing in the window", func(*summary.Summary) {}, results.StatusOK, ""},
		{"no server_idle", func(s *summary.Summary) { s.ServerIdle = nil }, results.StatusFailed, "no server_idle"},
		{"server exited", func(s *summary.Summary) { s.StopReason = summary.StopServerExited }, results.StatusFailed, "server exited"},
		{"connect error", func(s *summary.Summary) {
			s.Errors, s.ErrorKinds = 1, map[string]uint64{summary.ErrorKindConnect: 1}
		}, results.StatusFailed, "connections failed; 1 errors (connect=1)"},
		{"one request unanswered", func(s *summary.Summary) {
			s.Errors, s.ErrorKinds = 1, map[string]uint64{"timeout": 1}
		}, results.StatusFailed, "not every connection's request was answered; 1 errors (timeout=1)"},
		{"saturated", func(s *summary.Summary) { s.Saturated = true }, results.StatusSaturated, "fell behind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := idleSummary()
			tt.edit(s)
			st, why := results.Judge(results.Evidence{Summary: s, Idle: true})
			if st != tt.status || !strings.Contains(why, tt.reason) || (tt.reason == "" && why != "") {
				t.Errorf("Judge = %s %q, want %s %q", st, why, tt.status, tt.reason)
			}
		})
	}
}

func TestPlanIdleChecks(t *testing.T) {
	p := Plan{
		Name: "idle", Backends: []string{"stdlib"}, Workloads: []string{"idle", "idle-echo"},
		Conns: []int{1000}, Pipeline: []int{1}, Rates: []float64{0}, Payloads: []int{16}, Reps: 1, Duration: time.Second,
	}
	if err := p.Validate(0); err != nil {
		t.Fatal(err)
	}
	cells, _ := p.Expand()
	var keys []string
	for _, c := range cells {
		keys = append(keys, c.Key())
	}
	if want := []string{"stdlib/http/idle/c1000/p1/r0/b0", "stdlib/echo/idle-echo/c1000/p1/r0/b16"}; !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	p.Pipeline, p.Rates = []int{1, 16}, []float64{0, 1000}
	err := p.Validate(0)
	if err == nil || !strings.Contains(err.Error(), "pipeline must be [1]") || !strings.Contains(err.Error(), "rates must be [0]") {
		t.Errorf("Validate = %v", err)
	}
}

// TestRunIdleCell runs an idle cell end to end through the fake children:
// the generator gets -idle, reports nothing completed in its window and
// the server's idle memory, and the row is ok with the kernel figures.
func TestRunIdleCell(t *testing.T) {
	p := Plan{
		Name: "idle", Backends: []string{"stdlib"}, Workloads: []string{"idle"},
		Conns: []int{64}, Pipeline: []int{1}, Rates: []float64{0}, Reps: 1, Duration: time.Second, DialRate: 10000,
	}
	cfg, pids := fakeConfig(t, p)
	var w memRows
	out, err := Run(context.Background(), cfg, &w)
	if err != nil {
		t.Fatal(err)
	}
	if out.Ran != 1 || out.Failed != 0 || len(w.rows) != 1 {
		t.Fatalf("outcome %+v, rows %+v", out, w.rows)
	}
	r := w.rows[0]
	if r.Status != results.StatusOK && r.Status != results.StatusNoisy { // noisy: a busy test machine
		t.Fatalf("status %s %q", r.Status, r.Reason)
	}
	if r.Workload != "idle" || r.Requests != 0 || r.Hlog != "" {
		t.Errorf("row %+v", r)
	}
	// fakechild.IdleSummary(64): RSS +640 KiB, page tables +16 KiB,
	// threads 5 → 7, TCP buffers +8 KiB and slab +320 KiB.
	stack := goarchStackKiB
	if stack == 0 {
		t.Skip("kernel stack size unknown on this architecture")
	}
	kernel := (16*1024 + 2*stack*1024 + 328*512) / 64
	if num(r.RSSPerConnBytes) != 10240 || num(r.VmPTEKiB) != 116 || num(r.KernelStackKiB) != 7*stack ||
		num(r.SocketKiB) != 164 || num(r.KernelPerConnBytes) != kernel || num(r.TotalPerConnBytes) != 10240+kernel {
		t.Errorf("idle columns: rss %d pte %d stack %d socket %v kernel %d (want %d) total %d",
			num(r.RSSPerConnBytes), num(r.VmPTEKiB), num(r.KernelStackKiB), num(r.SocketKiB),
			num(r.KernelPerConnBytes), kernel, num(r.TotalPerConnBytes))
	}
	line := cellLine(1, 1, Cell{Backend: "stdlib", Workload: Workloads["idle"], Conns: 64, Pipeline: 1, Rep: 1}, r)
	if want := fmt.Sprintf("[1/1] stdlib/http/idle/c64/p1/r0/b0 rep1: user 10240 B + kernel %d B per connection %s", kernel, r.Status); !strings.HasPrefix(line, want) {
		t.Errorf("progress line %q, want %q", line, want)
	}
	if want := fakechild.IdleSummary(64); want.ServerIdle == nil {
		t.Fatal("fake idle summary without server_idle")
	}
	assertGone(t, pids)
}

// num is *p, or a sentinel no test expects when p is nil (not measured).
func num[T int64 | float64](p *T) T {
	if p == nil {
		return -999_999
	}
	return *p
}

// TestIdlePlanBudget checks the arithmetic in idle.yaml's comment whatever
// backends are registered: 70 cells (nbio also in its mixed mode), 490 s
// planned (under 9 minutes), the largest count within the open-file limit,
// and every backend of the catalog that serves HTTP in the plan.
func TestIdlePlanBudget(t *testing.T) {
	p, err := LoadPlan("idle")
	if err != nil {
		t.Fatal(err)
	}
	cells := len(p.AllVariants()) * len(p.Workloads) * len(p.Pipeline) * len(p.Rates) * p.Reps
	var total time.Duration
	for _, c := range p.Conns {
		total += time.Duration(cells) * (p.CellTime() + p.dialTime(c))
		if c > 20000-FDHeadroom {
			t.Errorf("%d connections: above the %d the open-file limit allows", c, 20000-FDHeadroom)
		}
	}
	if n := cells * len(p.Conns); n != 70 {
		t.Errorf("%d cells, the comment says 70", n)
	}
	if total > 9*time.Minute || total.Round(time.Second) != 490*time.Second {
		t.Errorf("planned %v; the comment says 490 s and the limit is 9 min", total)
	}
	if err := p.checkRanges(20000 - FDHeadroom); len(err) > 0 {
		t.Errorf("ranges: %v", err)
	}
	if err := p.checkIdle(); len(err) > 0 {
		t.Errorf("idle checks: %v", err)
	}
	for _, w := range p.Workloads {
		if wl, err := ParseWorkload(w); err != nil || !wl.Idle {
			t.Errorf("workload %s: %v, idle %v", w, err, wl.Idle)
		}
	}
	for _, b := range backends.Catalog {
		if b.Serves(backends.ProtoHTTP) && !slices.Contains(p.Backends, b.Name) {
			t.Errorf("backend %s serves HTTP but is not in the idle plan", b.Name)
		}
	}
	for _, want := range []string{"stdlib", "fasthttp", "gnet", "gnet-pool", "threads", "cthreads", "cepoll"} {
		if !slices.Contains(p.Backends, want) {
			t.Errorf("idle plan lacks %s", want)
		}
	}
}

// TestMergeRefusesIdle: an idle run measures one server's memory; merged
// generators' summaries of it would add up nothing meaningful.
func TestMergeRefusesIdle(t *testing.T) {
	d := t.TempDir()
	s := genSummary(mergeTarget, t0, 8, 1, 0)
	s.ServerIdle = idleSummary().ServerIdle
	a := writeGen(t, filepath.Join(d, "a"), "gen", s)
	if _, err := mergeInputs(t, a); err == nil || !strings.Contains(err.Error(), "idle run") {
		t.Errorf("merge of an idle run: %v", err)
	}
}

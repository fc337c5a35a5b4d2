package costs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

// TestParsePerfSchedPipe reads outputs of perf 6.1 captured on this
// project's machine: the threaded variant pinned and unpinned, the process
// variant (refused: bench runs -T) and zero loops, where perf prints inf.
func TestParsePerfSchedPipe(t *testing.T) {
	for _, tt := range []struct {
		file string
		want float64
		err  string
	}{
		{"sched-pipe-T-pinned.txt", 1.913550, ""},
		{"sched-pipe-T-unpinned.txt", 2.061800, ""},
		{"sched-pipe-processes.txt", 0, "not between two threads"},
		{"sched-pipe-T-zero-loops.txt", 0, "not a positive figure"},
	} {
		f, err := os.Open(filepath.Join("testdata/perf", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := parsePerfSchedPipe(f)
		f.Close()
		if tt.err == "" && (err != nil || got != tt.want) {
			t.Errorf("%s: %v, %v; want %v", tt.file, got, err, tt.want)
		}
		if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, errPerfOutput)) {
			t.Errorf("%s: %v, %v; want an error with %q", tt.file, got, err, tt.err)
		}
	}
	for in, want := range map[string]string{
		"":                              "no usecs/op line",
		"  Error: unknown switch `X'\n": "no usecs/op line",
		"# Executed 5 pipe operations between two threads\n  1,5 usecs/op\n": `usecs/op "1,5"`,
	} {
		if _, err := parsePerfSchedPipe(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

// fakePerf writes a shell script that stands in for perf: it prints the
// fixture file, or fails when file is empty.
func fakePerf(t *testing.T, file string) string {
	t.Helper()
	body := "echo 'perf: kernel tools missing' >&2; exit 1"
	if file != "" {
		abs, err := filepath.Abs(file)
		if err != nil {
			t.Fatal(err)
		}
		body = "cat '" + abs + "'"
	}
	path := filepath.Join(t.TempDir(), "perf")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPerfPipe runs a stand-in perf: each round trip becomes two switches,
// and a failing perf is a reason in the result, not an error.
func TestPerfPipe(t *testing.T) {
	o := Options{Reps: 3, Ring: 10, SwitchLoops: 20}.withDefaults()
	p, err := perfPipe(context.Background(), fakePerf(t, "testdata/perf/sched-pipe-T-pinned.txt"), 0, o, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if p.NotMeasured != "" || p.Loops != 100 || !strings.HasSuffix(p.Command, " bench sched pipe -T -l 100") {
		t.Errorf("perf result %+v", p)
	}
	for _, s := range []*Stat{p.Pinned, p.Unpinned} {
		if s == nil || s.Median != 1.913550/2 || len(s.Values) != 3 {
			t.Errorf("switch %+v, want median %v over 3 runs", s, 1.913550/2)
		}
	}
	p, err = perfPipe(context.Background(), fakePerf(t, ""), 0, o, quiet)
	if err != nil || p.Pinned != nil || !strings.HasPrefix(p.NotMeasured, "perf failed: ") || !strings.Contains(p.NotMeasured, "kernel tools missing") {
		t.Errorf("failing perf: %+v, %v", p, err)
	}
}

// quiet is a progress function that drops the lines.
func quiet(string) {}

func TestParseThreadCost(t *testing.T) {
	b, err := os.ReadFile("testdata/threadcost/timings.json")
	if err != nil {
		t.Fatal(err)
	}
	tm, err := parseNativeTimings(b, 2000)
	if err != nil {
		t.Fatal(err)
	}
	want := nativeTimings{CreateThread: 21.158861, ThreadTIDs: 2000, ThreadOps: 2000, HopPipeT: 11.313693, PipeT: 0.263967, StackBytes: 8 << 20}
	if tm != want {
		t.Errorf("timings %+v, want %+v", tm, want)
	}
	if _, err := parseNativeTimings(b, 1000); err == nil {
		t.Error("2000 creations accepted for 1000")
	}
	for _, bad := range []string{
		`{"create_thread":1,"thread_tids":2,"thread_ops":2,"hop_pipe_thread":0,"pipe_thread":1,"stack_bytes":1}`,
		`{"create_thread":1,"thread_tids":2,"thread_ops":2,"hop_pipe_thread":1,"pipe_thread":1,"stack_bytes":1,"extra":1}`,
		`{"create_thread":1,"thread_tids":3,"thread_ops":2,"hop_pipe_thread":1,"pipe_thread":1,"stack_bytes":1}`,
		`{"create_thread":1,`,
	} {
		if _, err := parseNativeTimings([]byte(bad), 2); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}

	if b, err = os.ReadFile("testdata/threadcost/memory.json"); err != nil {
		t.Fatal(err)
	}
	m, err := parseNativeMemory(b, 1000)
	if err != nil {
		t.Fatal(err)
	}
	wantM := nativeMemory{Sample{Tasks: 1000, RSS: 8609792, KernelStack: 16351232, PageTables: 4157440, Threads: 1000}, 8 << 20}
	if m != wantM {
		t.Errorf("memory %+v, want %+v", m, wantM)
	}
	if _, err := parseNativeMemory([]byte(`{"tasks":10,"rss_bytes":1,"kernel_stack_bytes":1,"page_tables_bytes":1,"threads":9,"stack_bytes":1}`), 10); err == nil {
		t.Error("10 tasks with 9 threads accepted")
	}
}

// buildThreadCost compiles the C program into a temporary directory, as
// make build does, with warnings as errors. Without a C compiler it
// returns "" and the reason.
func buildThreadCost(t *testing.T) (path, reason string) {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		return "", "no C compiler (cc) on PATH: threadcost cannot be built here"
	}
	out := filepath.Join(t.TempDir(), "threadcost")
	cmd := exec.Command(cc, "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", out, "threadcost/threadcost.c")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, b)
	}
	return out, ""
}

// TestThreadCostProgram builds threadcost and checks what it prints: one
// JSON object per run with the fields the Go side reads, every figure
// positive, one distinct thread per creation and one more thread per idle
// task; and a bad command line exits 2.
func TestThreadCostProgram(t *testing.T) {
	prog, reason := buildThreadCost(t)
	if prog == "" {
		t.Skip(reason)
	}
	out, err := exec.Command(prog, "timings", "50", "8", "5").Output()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(out, []byte("\n")) != 1 {
		t.Errorf("timings printed %q, want one line", out)
	}
	tm, err := parseNativeTimings(out, 50)
	if err != nil {
		t.Fatal(err)
	}
	if tm.ThreadTIDs != 50 {
		t.Errorf("50 creations ran on %d distinct threads", tm.ThreadTIDs)
	}
	for _, n := range []int{1, 16} {
		out, err := exec.Command(prog, "memory", strconv.Itoa(n)).Output()
		if err != nil {
			t.Fatal(err)
		}
		m, err := parseNativeMemory(out, n)
		if err != nil {
			t.Fatal(err)
		}
		// Each idle thread touched at least one page of its stack.
		if m.RSS < int64(n)*4096 || m.StackBytes < 64<<10 {
			t.Errorf("%d idle threads: %+v", n, m)
		}
	}
	for _, args := range [][]string{{}, {"memory", "0"}, {"memory", "x"}, {"timings", "1", "2"}} {
		err := exec.Command(prog, args...).Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("threadcost %v: %v, want exit status 2", args, err)
		}
	}
}

// fixedReport is a report with made-up figures and every part measured.
func fixedReport() *Report {
	st := func(med float64) Stat {
		return Stat{Median: med, Min: med * 0.9, Max: med * 1.2, Values: []float64{med * 0.9, med, med * 1.2}}
	}
	mem := func(design string, user, kernel float64) Memory {
		return Memory{Design: design, Tasks: []int{1000, 2000, 3000, 4000}, User: user, Kernel: kernel, Total: user + kernel, R2: 0.999}
	}
	tm := func(mode string, k float64) Timings {
		return Timings{Mode: mode, CreateGoroutine: st(0.4 * k), CreateThread: st(30 * k), ThreadsCreated: [2]int{10000, 10000},
			SwitchChannel: st(0.2 * k), SwitchPipeGoroutine: st(1.2 * k), SwitchPipeThread: st(16 * k), PipeGoroutine: st(1.1), PipeThread: st(1.0)}
	}
	ntm := func(mode string, k float64) *NoRuntimeTimings {
		return &NoRuntimeTimings{Mode: mode, Create: st(12 * k), ThreadsCreated: [2]int{10000, 10000}, Switch: st(2 * k), Pipe: st(0.5)}
	}
	cmem := mem(designNoRuntime, 8192, 20480)
	pin, unpin := st(2.5), st(10)
	return &Report{
		GoVersion: "go1.26.8", CPUModel: "Test CPU", Options: Options{Reps: 3},
		Pinned: tm("pinned", 0.5), Unpinned: tm("unpinned", 1),
		Goroutine: mem(designGoroutine, 2765, 27), Thread: mem(designThread, 18534, 16486),
		NoRuntime: NoRuntime{Program: "bin/threadcost", StackBytes: 8 << 20, Pinned: ntm("pinned", 0.5), Unpinned: ntm("unpinned", 1), Memory: &cmem},
		Perf:      PerfPipe{Command: "perf bench sched pipe -T -l 25000", Loops: 25000, Pinned: &pin, Unpinned: &unpin},
	}
}

// TestWriteTableGolden renders the table with everything measured and with
// neither the C program nor perf (-update rewrites the files).
func TestWriteTableGolden(t *testing.T) {
	missing := fixedReport()
	missing.NoRuntime = NoRuntime{NotMeasured: NotBuilt}
	missing.Perf = PerfPipe{NotMeasured: PerfNotInstalled}
	for name, r := range map[string]*Report{"table.golden": fixedReport(), "table-missing.golden": missing} {
		var b bytes.Buffer
		if err := r.WriteTable(&b); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs (go test -run TestWriteTableGolden -update):\n%s", name, b.String())
		}
	}
	// What the golden files must hold, cell by cell, so that -update
	// cannot bless a table that lost a row or a figure.
	var full, none bytes.Buffer
	_ = fixedReport().WriteTable(&full)
	_ = missing.WriteTable(&none)
	for _, want := range [][]string{
		{"create: OS thread in C, no runtime", "17.0 µs", "12.0 µs (10.8–14.4)", "6.00 µs (5.40–7.20)"},
		{"Go thread ÷ C thread", "2.5×", "2.5×"},
		{"switch: OS threads in C, blocking pipe", "1.70 µs", "2.00 µs (1.80–2.40)", "1.00 µs (0.90–1.20)"},
		{"switch: perf bench sched pipe -T, ½ round trip", "–", "10.0 µs (9.00–12.0)", "2.50 µs (2.25–3.00)"},
		{"OS thread in C, no runtime", "20.0 KiB", "8.0 KiB", "20.0 KiB", "28.0 KiB", "0.999"},
	} {
		if got := cells(full.String(), want[0]); !slices.Equal(got, want) {
			t.Errorf("full table: row %q is %q, want %q", want[0], got, want)
		}
	}
	if !strings.Contains(full.String(), "default stack 8.0 MiB") {
		t.Error("full table does not state the C threads' stack")
	}
	for _, want := range [][]string{
		{"create: OS thread in C, no runtime", "17.0 µs", NotBuilt},
		{"switch: OS threads in C, blocking pipe", "1.70 µs", NotBuilt},
		{"switch: perf bench sched pipe -T, ½ round trip", "–", PerfNotInstalled},
		{"OS thread in C, no runtime", "20.0 KiB", NotBuilt},
	} {
		if got := cells(none.String(), want[0]); !slices.Equal(got, want) {
			t.Errorf("table without C and perf: row %q is %q, want %q", want[0], got, want)
		}
	}
	if strings.Contains(none.String(), "C thread") {
		t.Errorf("table without C mentions C threads:\n%s", none.String())
	}
}

// cells returns the cells of the first table row whose first cell is label
// (tabwriter pads cells with at least two spaces).
func cells(table, label string) []string {
	for _, line := range strings.Split(table, "\n") {
		c := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
		if c[0] == label {
			return c
		}
	}
	return nil
}

// TestSummarizeNoRuntime checks the JSON keys: present with their medians
// when measured, left out when not.
func TestSummarizeNoRuntime(t *testing.T) {
	s := fixedReport().Summarize()
	for _, c := range []struct {
		m    map[string]float64
		key  string
		want float64
	}{
		{s.CreateUs, "thread_no_runtime", 12}, {s.CreateUs, "thread_no_runtime_pinned", 6},
		{s.SwitchUs, "thread_no_runtime", 2}, {s.SwitchUs, "thread_no_runtime_pinned", 1},
		{s.SwitchUs, "perf_sched_pipe", 10}, {s.SwitchUs, "perf_sched_pipe_pinned", 2.5},
		{s.MemBytes, "thread_no_runtime", 8192 + 20480}, {s.MemBytes, "thread_no_runtime_user", 8192}, {s.MemBytes, "thread_no_runtime_kernel", 20480},
	} {
		if got, ok := c.m[c.key]; !ok || got != c.want {
			t.Errorf("%s = %v (present %v), want %v", c.key, got, ok, c.want)
		}
	}
	r := fixedReport()
	r.NoRuntime, r.Perf = NoRuntime{NotMeasured: NotBuilt}, PerfPipe{NotMeasured: PerfNotInstalled}
	s = r.Summarize()
	for _, m := range []map[string]float64{s.CreateUs, s.SwitchUs, s.MemBytes} {
		for k := range m {
			if strings.Contains(k, "no_runtime") || strings.Contains(k, "perf") {
				t.Errorf("key %q present though not measured", k)
			}
		}
	}
	b, err := json.Marshal(s)
	if err != nil || !bytes.Contains(b, []byte(`"thread_no_runtime":{"not_measured":"`+NotBuilt+`"}`)) || !bytes.Contains(b, []byte(`"perf_sched_pipe":{"not_measured":"perf not installed"}`)) {
		t.Errorf("report JSON does not say why: %s, %v", b, err)
	}
}

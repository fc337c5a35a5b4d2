package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/runner/cpuset"
	"github.com/asyncbench/asyncbench/runner/fakechild"
)

func TestMain(m *testing.M) {
	fakechild.Main()
	os.Exit(m.Run())
}

// fakeConfig returns a config whose server and loadgen are this test
// binary in fake mode, writing pid files to the returned directory.
func fakeConfig(t *testing.T, p Plan) (Config, string) {
	t.Helper()
	pids := t.TempDir()
	t.Setenv(fakechild.EnvFake, "1")
	t.Setenv(fakechild.EnvDir, pids)
	t.Setenv("GORACE", "atexit_sleep_ms=0") // race-built fakes exit at once
	avail, err := cpuset.Available()
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Plan: p, RunID: "test", Dir: t.TempDir(),
		ServerPath: os.Args[0], LoadgenPath: os.Args[0],
		ServerCPUSet: cpuset.Set{avail[0]}, GeneratorCPUSet: cpuset.Set{avail[len(avail)-1]},
		Env:          Env{GoVersion: "go0", Kernel: "k", CPUModel: "cpu", Commit: "abc"},
		StartTimeout: 10 * time.Second, // race-instrumented fakes start slowly
		StopGrace:    3 * time.Second,
	}, pids
}

func threeCells() Plan {
	return Plan{
		Name: "fake", Backends: []string{"stdlib", "gnet", "fasthttp"},
		Workloads: []string{"plaintext"}, Conns: []int{4}, Pipeline: []int{1},
		Rates: []float64{0}, Reps: 1, Duration: time.Second,
	}
}

type memRows struct{ rows []results.Row }

func (m *memRows) Write(r results.Row) error { m.rows = append(m.rows, r); return nil }

// assertGone fails if any process that wrote a pid file still runs.
func assertGone(t *testing.T, pidDir string) {
	t.Helper()
	if err := fakechild.WaitGone(pidDir, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestRunThreeCells(t *testing.T) {
	cfg, pids := fakeConfig(t, threeCells())
	var lines bytes.Buffer
	cfg.Progress = LineProgress{W: &lines}
	var w memRows
	out, err := Run(context.Background(), cfg, &w)
	if err != nil {
		t.Fatal(err)
	}
	if out.Ran != 3 || out.Failed != 0 || len(w.rows) != 3 {
		t.Fatalf("outcome %+v, %d rows", out, len(w.rows))
	}
	want := fakechild.Summary(4)
	for i, b := range []string{"stdlib", "gnet", "fasthttp"} {
		r := w.rows[i]
		if r.Backend != b || r.Cell != b+"/http/plaintext/c4/p1/r0/b0" || r.Status != results.StatusOK {
			t.Fatalf("row %d: %s %s %s %q", i, r.Backend, r.Cell, r.Status, r.Reason)
		}
		if r.Requests != want.Requests || r.RSSPerConnBytes != nil || deref(r.ReqPerServerCPUSecond) != 8000.0 || deref(r.ReqPerGeneratorCPUSecond) != 16000.0 {
			t.Fatalf("row %d numbers: %+v", i, r)
		}
		if r.GOMAXPROCS != 1 || r.ServerCPUSet != cfg.ServerCPUSet.String() || r.Commit != "abc" || r.Plan != "fake" || r.RunID != "test" {
			t.Fatalf("row %d environment: %+v", i, r)
		}
		if _, err := time.Parse(time.RFC3339, r.StartTime); err != nil {
			t.Fatalf("start time %q: %v", r.StartTime, err)
		}
		if want := b + "_http_plaintext_c4_p1_r0_b0_rep1.hlog"; r.Hlog != want {
			t.Fatalf("row %d hlog = %q, want %q", i, r.Hlog, want)
		}
		// The fake server answers the generator's window marks on its
		// socket, as cmd/server does: its runtime's figures are read.
		if r.GCCycles == nil || r.GCPauseP99Us == nil {
			t.Fatalf("row %d: no runtime figures (gc_cycles %v, gc_pause_p99_us %v)", i, r.GCCycles, r.GCPauseP99Us)
		}
		for _, ext := range []string{".json", ".hlog"} {
			if _, err := os.Stat(filepath.Join(cfg.Dir, strings.ReplaceAll(r.Cell, "/", "_")+"_rep1"+ext)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !strings.Contains(lines.String(), "[2/3] gnet/http/plaintext/c4/p1/r0/b0 rep1: 4000 req/s p99 812µs ok\n") {
		t.Fatalf("progress lines:\n%s", lines.String())
	}
	assertGone(t, pids)
}

func TestRunFailures(t *testing.T) {
	tests := []struct {
		name, env, value, want string
	}{
		{"crash", fakechild.EnvCrash, "gnet", "server exited before listening (exit status 2): panic: fake crash of gnet"},
		{"silent", fakechild.EnvSilent, "gnet", `server printed no "listening on ADDR" line within 1s`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, pids := fakeConfig(t, threeCells())
			if tt.name == "silent" {
				cfg.StartTimeout = time.Second
			}
			t.Setenv(tt.env, tt.value)
			var w memRows
			out, err := Run(context.Background(), cfg, &w)
			if err != nil {
				t.Fatal(err)
			}
			if out.Ran != 3 || out.Failed != 1 {
				t.Fatalf("outcome %+v", out)
			}
			if r := w.rows[1]; r.Status != results.StatusFailed || r.Reason != tt.want {
				t.Fatalf("gnet row: %s %q, want failed %q", r.Status, r.Reason, tt.want)
			}
			if w.rows[0].Status != results.StatusOK || w.rows[2].Status != results.StatusOK {
				t.Fatalf("other rows: %s %s", w.rows[0].Status, w.rows[2].Status)
			}
			assertGone(t, pids)
		})
	}
}

func TestRunLoadgenMissing(t *testing.T) {
	cfg, _ := fakeConfig(t, threeCells())
	cfg.Plan.Backends = []string{"stdlib"}
	cfg.LoadgenPath = filepath.Join(t.TempDir(), "nope")
	var w memRows
	if _, err := Run(context.Background(), cfg, &w); err != nil {
		t.Fatal(err)
	}
	if len(w.rows) != 1 || w.rows[0].Status != results.StatusFailed || !strings.Contains(w.rows[0].Reason, "nope") {
		t.Fatalf("rows %+v", w.rows)
	}
}

func TestRunSkipsDone(t *testing.T) {
	cfg, _ := fakeConfig(t, threeCells())
	cfg.Skip = map[string]bool{"gnet/http/plaintext/c4/p1/r0/b0#1": true}
	var w memRows
	out, err := Run(context.Background(), cfg, &w)
	if err != nil {
		t.Fatal(err)
	}
	if out.Skipped != 1 || out.Ran != 2 || w.rows[1].Backend != "fasthttp" {
		t.Fatalf("outcome %+v", out)
	}
}

func TestRunInterrupted(t *testing.T) {
	cfg, pids := fakeConfig(t, threeCells())
	t.Setenv(fakechild.EnvSlowAfter, "1")
	t.Setenv(fakechild.EnvStubborn, "1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var w memRows
	waited := make(chan error, 1)
	go func() {
		waited <- waitPIDFiles(ctx, pids, "loadgen", 2) // the second cell's generator runs
		cancel()
	}()
	// The second cell's generator would run a minute: Run returning at all
	// shows the interrupt stopped it.
	out, err := Run(ctx, cfg, &w)
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	if err != ErrInterrupted {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
	if out.Ran != 1 || len(w.rows) != 1 || w.rows[0].Status != results.StatusOK {
		t.Fatalf("outcome %+v rows %+v", out, w.rows)
	}
	assertGone(t, pids)
	if n, _ := filepath.Glob(filepath.Join(pids, "stubborn-*.pid")); len(n) == 0 {
		t.Fatal("no stubborn grandchild started")
	}
}

// waitPIDFiles waits until at least n fake children of role have written
// their pid files in dir, or ctx ends. The minute it allows is a hang, not
// a speed limit.
func waitPIDFiles(ctx context.Context, dir, role string, n int) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if m, _ := filepath.Glob(filepath.Join(dir, role+"-*.pid")); len(m) >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fewer than %d %s pid files: %w", n, role, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

func TestChildStopKillsGroup(t *testing.T) {
	t.Setenv(fakechild.EnvFake, "1")
	pids := t.TempDir()
	t.Setenv(fakechild.EnvDir, pids)
	t.Setenv(fakechild.EnvStubborn, "1")
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c, err := startChild(os.Args[0], []string{"-backend", "x", "-proto", "http", "-addr", "127.0.0.1:0"}, nil, nil, w)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	addr, err := scanListen(r)
	if err != nil || addr != "127.0.0.1:1234" {
		t.Fatalf("scanListen = %q, %v", addr, err)
	}
	// The grandchild is recorded before the server is stopped.
	if err := waitPIDFiles(context.Background(), pids, "stubborn", 1); err != nil {
		t.Fatal(err)
	}
	c.stop(syscall.SIGTERM, 5*time.Second)
	if c.err != nil {
		t.Fatalf("server exit: %v", c.err)
	}
	assertGone(t, pids)
}

func TestNewRunDir(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "runs")
	now := time.Date(2026, 11, 25, 20, 30, 0, 0, time.FixedZone("x", 3600))
	var ids []string
	for range 3 {
		_, id, err := NewRunDir(parent, "", now)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if want := "20261125T193000Z 20261125T193000Z-2 20261125T193000Z-3"; strings.Join(ids, " ") != want {
		t.Fatalf("ids %v, want %s", ids, want)
	}
	if l, err := os.Readlink(filepath.Join(parent, "latest")); err != nil || l != ids[2] {
		t.Fatalf("latest → %q, %v", l, err)
	}
	if _, _, err := NewRunDir(parent, "smoke", now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := NewRunDir(parent, "smoke", now); err == nil || !strings.Contains(err.Error(), "-resume") {
		t.Fatalf("reused run id: %v", err)
	}
}

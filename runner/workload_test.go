package runner

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/runner/fakechild"
)

func TestParseWorkload(t *testing.T) {
	good := []struct {
		name, path, key string
		handlerUs       int
		mix             string
	}{
		{"plaintext", "/plaintext", "plaintext", 0, ""},
		{"delay:1000", "/delay?us=1000", "delay-1000us", 1000, ""},
		{"delay:0", "/delay?us=0", "delay-0us", 0, ""},
		{"cpu:50", "/cpu?us=50", "cpu-50us", 50, ""},
		{"cpu:10000000", "/cpu?us=10000000", "cpu-10000000us", 10000000, ""},
		{"mix:/plaintext:99,/cpu?us=1000:1", "/plaintext", "mix-plaintext_99__cpu_us=1000_1-", 0, "/plaintext:99,/cpu?us=1000:1"},
		{"mix:/a:b:3", "/a:b", "mix-a_b_3-", 0, "/a:b:3"},
	}
	for _, tt := range good {
		w, err := ParseWorkload(tt.name)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if w.Path != tt.path || w.HandlerUs != tt.handlerUs || w.Mix != tt.mix || !strings.HasPrefix(w.keyName(), tt.key) {
			t.Errorf("%s: path %q handler %d mix %q key %q", tt.name, w.Path, w.HandlerUs, w.Mix, w.keyName())
		}
	}
	bad := map[string]string{
		"delay":                    "unknown workload",
		"sleep:5":                  "unknown workload",
		"delay:":                   "N must be an integer",
		"delay:-1":                 "N must be an integer",
		"delay:+5":                 "N must be an integer",
		"cpu:10000001":             "N must be an integer from 0 to 10000000",
		"cpu:1.5":                  "N must be an integer",
		"mix:":                     "empty mix",
		"mix:/a":                   `mix entry "/a": want PATH:WEIGHT`,
		"mix:a:1":                  "must start with '/'",
		"mix:/a:0":                 "weight must be an integer from 1",
		"mix:/a:-2":                "weight must be",
		"mix:/a:1,/b:x":            `mix entry "/b:x"`,
		"mix:/a b:1":               "no spaces",
		"mix:/cpu:1":               "/cpu needs us=N",
		"mix:/delay?us=99999999:1": "/delay needs us=N",
	}
	for name, want := range bad {
		_, err := ParseWorkload(name)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "workload") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line with %q", name, err, want)
		}
	}
}

// TestWorkloadCellKeys: keys carry the parameter, differ between
// parameters and mixes, and stay the same from run to run.
func TestWorkloadCellKeys(t *testing.T) {
	p := Plan{Name: "k", Backends: []string{"gnet"}, Conns: []int{64}, Pipeline: []int{1}, Rates: []float64{0}, Reps: 2, Duration: time.Second,
		Workloads: []string{"plaintext", "delay:1000", "delay:10", "cpu:1000", "mix:/plaintext:99,/cpu?us=1000:1", "mix:/plaintext:99,/cpu?us=1000:2"}}
	if err := p.Validate(0); err != nil {
		t.Fatal(err)
	}
	cells, _ := p.Expand()
	seen := map[string]bool{}
	for _, c := range cells {
		id := c.Key() + "#" + string(rune('0'+c.Rep))
		if seen[id] {
			t.Fatalf("key %s twice", id)
		}
		seen[id] = true
	}
	if got, want := cells[1].Key(), "gnet/http/delay-1000us/c64/p1/r0/b0"; got != want {
		t.Errorf("delay key %s, want %s", got, want)
	}
	if got, want := cells[4].Key(), "gnet/http/mix-plaintext_99__cpu_us=1000_1-10ac89ac/c64/p1/r0/b0"; got != want {
		t.Errorf("mix key %s, want %s (the key must not change between versions)", got, want)
	}
	if cells[4].Seed() != 1 || cells[len(cells)-1].Seed() != 2 {
		t.Errorf("seeds %d, %d; want the repetition number", cells[4].Seed(), cells[len(cells)-1].Seed())
	}
	r := baseRow(&Config{}, cells[1], time.Time{})
	if r.Workload != "delay" || r.HandlerUs == nil || *r.HandlerUs != 1000 || r.Mix != "" || r.Seed != nil {
		t.Errorf("delay row columns: %+v", r)
	}
	r = baseRow(&Config{}, cells[len(cells)-1], time.Time{})
	if r.Workload != "mix" || r.HandlerUs != nil || r.Mix != "/plaintext:99,/cpu?us=1000:2" || r.Seed == nil || *r.Seed != 2 {
		t.Errorf("mix row columns: %+v", r)
	}
	r = baseRow(&Config{}, cells[0], time.Time{})
	if r.HandlerUs != nil || r.Mix != "" || r.Seed != nil {
		t.Errorf("plaintext row columns: %+v", r)
	}
}

func TestPlanValidateWorkloadParams(t *testing.T) {
	base := "backends: [gnet]\nconnections: [1]\npipeline: [1]\nrates: [0]\nrepetitions: 1\nduration: 1s\n"
	tests := map[string]string{
		"workloads: [delay:x]\n":                   `workload "delay:x"`,
		"workloads: ['mix:/a:0']\n":                `workload "mix:/a:0"`,
		"workloads: [delay:5, delay:05]\n":         `workloads "delay:5" and "delay:05" are the same workload`,
		"workloads: [plaintext]\ndial_rate: -1\n":  "dial_rate -1",
		"workloads: [plaintext]\ndial_rate: 0.5\n": "dial_rate 0.5",
	}
	for text, want := range tests {
		p, err := ParsePlan([]byte(base+text), "x")
		if err == nil {
			err = p.Validate(0)
		}
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line with %q", text, err, want)
		}
	}
	p, err := ParsePlan([]byte(base+"workloads: [plaintext]\ndial_rate: 5000\n"), "x")
	if err != nil || p.Validate(0) != nil || p.DialRate != 5000 {
		t.Fatalf("dial_rate 5000: %v %v", err, p.Validate(0))
	}
	// 10,000 connections at 5000/s take 2 s to dial; at the default 2000/s, 5 s.
	p.Conns, p.Warmup, p.Duration = []int{10000}, time.Second, 3*time.Second
	if got := p.PlannedTime(); got != 7*time.Second {
		t.Errorf("planned %v, want 7s", got)
	}
	p.DialRate = 0
	if got := p.PlannedTime(); got != 10*time.Second {
		t.Errorf("planned at the default dial rate %v, want 10s", got)
	}
}

// TestChurnWorkload: churn is plain GET /plaintext on a new connection
// per request; a plan refuses it with pipelining, and a merged summary is
// told from plaintext by its churn field.
func TestChurnWorkload(t *testing.T) {
	w, err := ParseWorkload("churn")
	if err != nil || !w.Churn || w.Path != "/plaintext" || w.Proto != "http" || w.keyName() != "churn" || w.UsePayload || w.Idle {
		t.Fatalf("churn: %+v, %v", w, err)
	}
	base := "backends: [stdlib]\nconnections: [64]\nrates: [0]\nrepetitions: 1\nduration: 1s\n"
	p, err := ParsePlan([]byte(base+"workloads: [churn, plaintext]\npipeline: [1, 16]\n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(0); err == nil || !strings.Contains(err.Error(), "churn") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("churn with pipeline 16: %v, want one line naming churn", err)
	}
	p.Pipeline = []int{1}
	if err := p.Validate(0); err != nil {
		t.Fatalf("churn with pipeline 1: %v", err)
	}
	for _, churn := range []bool{false, true} {
		got, err := workloadOf(summary.Summary{Target: "http://127.0.0.1:1/plaintext", Workload: summary.WorkloadHTTP, Churn: churn})
		if want := map[bool]string{false: "plaintext", true: "churn"}[churn]; err != nil || got.Name != want {
			t.Errorf("churn %v: workload %q, %v; want %s", churn, got.Name, err, want)
		}
	}
}

func TestLoadgenArgsWorkloads(t *testing.T) {
	cfg := &Config{Plan: Plan{Duration: 5e9, Warmup: 1e9, DialRate: 5000}}
	mix, _ := ParseWorkload("mix:/plaintext:99,/cpu?us=1000:1")
	delay, _ := ParseWorkload("delay:1000")
	tests := []struct {
		c    Cell
		want string
	}{
		{Cell{Workload: delay, Conns: 64, Pipeline: 1, Rep: 2},
			"-c 64 -P 1 -d 5s -warmup 1s -dial-rate 5000 -json -hlog H -server-pid 42 http://127.0.0.1:9/delay?us=1000"},
		{Cell{Workload: mix, Conns: 64, Pipeline: 1, Rep: 3},
			"-c 64 -P 1 -d 5s -warmup 1s -mix /plaintext:99,/cpu?us=1000:1 -seed 3 -dial-rate 5000 -json -hlog H -server-pid 42 http://127.0.0.1:9/plaintext"},
		{Cell{Workload: Workloads["churn"], Conns: 64, Pipeline: 1, Rep: 1},
			"-c 64 -P 1 -d 5s -warmup 1s -churn -dial-rate 5000 -json -hlog H -server-pid 42 http://127.0.0.1:9/plaintext"},
	}
	for _, tt := range tests {
		if got := strings.Join(loadgenArgs(cfg, tt.c, "127.0.0.1:9", "H", 42), " "); got != tt.want {
			t.Errorf("args = %s\nwant   %s", got, tt.want)
		}
	}
}

type memEndpoints struct{ rows []results.EndpointRow }

func (m *memEndpoints) Write(r []results.EndpointRow) error {
	m.rows = append(m.rows, r...)
	return nil
}

// TestRunSlowAndMixCells runs a delay cell whose requests mostly time out
// (the generator exits with its failed status) and a mix cell: the first
// still gives a row with its throughput, errors and reason; the second a
// row with its mix and seed and one endpoint row per mix entry.
func TestRunSlowAndMixCells(t *testing.T) {
	p := Plan{Name: "slow", Backends: []string{"gnet"}, Workloads: []string{"delay:1000", "mix:/plaintext:99,/cpu?us=1000:1"},
		Conns: []int{4}, Pipeline: []int{1}, Rates: []float64{0}, Reps: 1, Duration: time.Second}
	cfg, pids := fakeConfig(t, p)
	t.Setenv(fakechild.EnvTimeouts, "1")
	var eps memEndpoints
	cfg.Endpoints = &eps
	var w memRows
	out, err := Run(context.Background(), cfg, &w)
	if err != nil {
		t.Fatal(err)
	}
	if out.Ran != 2 || out.Failed != 1 || len(w.rows) != 2 {
		t.Fatalf("outcome %+v, %d rows", out, len(w.rows))
	}
	slow, mix := w.rows[0], w.rows[1]
	if slow.Status != results.StatusFailed || slow.RPS != 4000 || slow.Errors != 36000 ||
		!strings.Contains(slow.Reason, "timeout=36000") {
		t.Errorf("slow cell: status %s rps %v errors %d reason %q", slow.Status, slow.RPS, slow.Errors, slow.Reason)
	}
	if *slow.HandlerUs != 1000 || slow.Workload != "delay" {
		t.Errorf("slow cell columns: %+v", slow)
	}
	if mix.Status != results.StatusOK || mix.Mix != "/plaintext:99,/cpu?us=1000:1" || *mix.Seed != 1 {
		t.Errorf("mix cell: %+v", mix)
	}
	if len(eps.rows) != 2 {
		t.Fatalf("endpoint rows %+v", eps.rows)
	}
	e := eps.rows[0]
	if e.Cell != mix.Cell || e.Rep != 1 || e.RunID != "test" || e.Path != "/plaintext" || e.Weight != 99 || e.Requests != 3960 || e.P99Us != 1000 ||
		eps.rows[1].Path != "/cpu?us=1000" || eps.rows[1].Requests != 40 {
		t.Errorf("endpoint rows %+v", eps.rows)
	}
	assertGone(t, pids)
}

// TestMergeHandlerWorkloads: generators that drove /delay?us=N merge into
// a delay row with its handler time; a mix is refused with the reason.
func TestMergeHandlerWorkloads(t *testing.T) {
	d := t.TempDir()
	target := "http://127.0.0.1:8080/delay?us=1000"
	a := writeGen(t, filepath.Join(d, "a"), "gen", genSummary(target, t0, 8, 1, 0))
	b := writeGen(t, filepath.Join(d, "b"), "gen", genSummary(target, t0half, 8, 1, 0))
	r, err := mergeInputs(t, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if r.Workload != "delay" || r.HandlerUs == nil || *r.HandlerUs != 1000 || r.Cell != "gnet/http/delay-1000us/c16/p1/r0/b0" {
		t.Errorf("merged delay row: workload %s handler %v cell %s", r.Workload, r.HandlerUs, r.Cell)
	}
	mix := genSummary("http://127.0.0.1:8080/plaintext", t0, 8, 1, 0)
	mix.Mix = "/plaintext:9,/cpu?us=5:1"
	m := writeGen(t, filepath.Join(d, "m"), "gen", mix)
	if _, err := mergeInputs(t, m); err == nil || !strings.Contains(err.Error(), "mixes cannot be merged") {
		t.Errorf("mix merge: %v", err)
	}
}

// TestMarshalRoundTripWorkloadParams: plan.yaml of a run keeps the
// parameterised workloads and the dial rate, so -resume runs the same cells.
func TestMarshalRoundTripWorkloadParams(t *testing.T) {
	p := Plan{Name: "rt", Backends: []string{"gnet"}, Conns: []int{64}, Pipeline: []int{1}, Rates: []float64{0}, Reps: 1, Duration: time.Second,
		Workloads: []string{"delay:1000", "mix:/plaintext:99,/cpu?us=1000:1"}, DialRate: 5000}
	data, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParsePlan(data, "x")
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	a, _ := p.Expand()
	b, _ := back.Expand()
	if len(a) != len(b) || back.DialRate != 5000 || a[1].Key() != b[1].Key() || b[1].Workload.Mix != "/plaintext:99,/cpu?us=1000:1" {
		t.Fatalf("round trip changed the plan:\n%s", data)
	}
}

package runner

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/plans"
)

func validPlan() Plan {
	return Plan{
		Name: "t", Backends: []string{"stdlib", "gnet", "fasthttp"},
		Workloads: []string{"plaintext", "echo"}, Conns: []int{16, 256},
		Pipeline: []int{1}, Rates: []float64{0}, Payloads: []int{64},
		Reps: 2, Duration: 5 * time.Second, Warmup: time.Second,
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*Plan)
		maxConns int
		want     string // substring of the error; empty = valid
	}{
		{"valid", func(*Plan) {}, 0, ""},
		{"unknown backend", func(p *Plan) { p.Backends = append(p.Backends, "nginx") }, 0, `unknown backend "nginx"`},
		{"unknown workload", func(p *Plan) { p.Workloads = []string{"post"} }, 0, `unknown workload "post"`},
		{"no backends", func(p *Plan) { p.Backends = nil }, 0, "no backends"},
		{"conns over limit", func(p *Plan) { p.Conns = []int{16, 30000} }, 19744, "connections 30000: above the open-file limit"},
		{"conns at limit", func(p *Plan) { p.Conns = []int{19744} }, 19744, ""},
		{"zero conns", func(p *Plan) { p.Conns = []int{0} }, 0, "connections 0"},
		{"zero pipeline", func(p *Plan) { p.Pipeline = []int{0} }, 0, "pipeline 0"},
		{"negative rate", func(p *Plan) { p.Rates = []float64{-1} }, 0, "rates -1"},
		{"NaN rate", func(p *Plan) { p.Rates = []float64{math.NaN()} }, 0, "rates NaN"},
		{"infinite rate", func(p *Plan) { p.Rates = []float64{math.Inf(1)} }, 0, "rates +Inf"},
		{"absurd rate", func(p *Plan) { p.Rates = []float64{2e7} }, 0, "rates 2e+07"},
		{"deep pipeline", func(p *Plan) { p.Pipeline = []int{MaxPipeline + 1} }, 0, "pipeline 1025"},
		{"huge payload", func(p *Plan) { p.Payloads = []int{MaxPayload + 1} }, 0, "payloads 1048577"},
		{"zero payload", func(p *Plan) { p.Payloads = []int{0} }, 0, "payloads 0"},
		{"day-long duration", func(p *Plan) { p.Duration = 48 * time.Hour }, 0, "duration 48h0m0s"},
		{"no rates", func(p *Plan) { p.Rates = nil }, 0, "no rates"},
		{"echo without payload", func(p *Plan) { p.Payloads = nil }, 0, "no payloads"},
		{"plaintext without payload", func(p *Plan) { p.Payloads, p.Workloads = nil, []string{"plaintext"} }, 0, ""},
		{"zero reps", func(p *Plan) { p.Reps = 0 }, 0, "repetitions 0"},
		{"zero duration", func(p *Plan) { p.Duration = 0 }, 0, "duration 0s"},
		{"retries off", func(p *Plan) { p.Retries = new(0) }, 0, ""},
		{"negative retries", func(p *Plan) { p.Retries = new(-1) }, 0, "retries -1: must be 0 (never) to 10"},
		{"too many retries", func(p *Plan) { p.Retries = new(MaxRetries + 1) }, 0, "retries 11"},
		{"negative warmup", func(p *Plan) { p.Warmup = -time.Second }, 0, "warmup -1s"},
		{"duplicate conns", func(p *Plan) { p.Conns = []int{16, 16} }, 0, "connections 16 listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPlan()
			tt.edit(&p)
			err := p.Validate(tt.maxConns)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	p := validPlan()
	p.Workloads = []string{"plaintext", "echo-http", "echo"}
	p.Payloads = []int{64, 4096}
	cells, skipped := p.Expand()
	if want := []string{"fasthttp/echo"}; strings.Join(skipped, ",") != strings.Join(want, ",") {
		t.Fatalf("skipped = %v, want %v", skipped, want)
	}
	// Per rep: stdlib and gnet 2 conns × (1 + 2 + 2); fasthttp 2 × (1 + 2).
	perRep := 2*2*5 + 2*3
	if len(cells) != 2*perRep {
		t.Fatalf("%d cells, want %d", len(cells), 2*perRep)
	}
	seen := map[string]bool{}
	for i, c := range cells {
		wantRep := 1 + i/perRep
		if c.Rep != wantRep {
			t.Fatalf("cell %d has rep %d, want %d (reps interleaved)", i, c.Rep, wantRep)
		}
		if i >= perRep && cells[i-perRep].Key() != c.Key() {
			t.Fatalf("rep 2 order differs at %d: %s vs %s", i, cells[i-perRep].Key(), c.Key())
		}
		id := rowID(c.Key(), c.Rep)
		if seen[id] {
			t.Fatalf("duplicate cell %s", id)
		}
		seen[id] = true
		if c.Workload.Name == "plaintext" && c.Payload != 0 {
			t.Fatalf("plaintext cell with payload: %s", c.Key())
		}
	}
	wantFirst := []string{
		"stdlib/http/plaintext/c16/p1/r0/b0",
		"stdlib/http/plaintext/c256/p1/r0/b0",
		"stdlib/http/echo-http/c16/p1/r0/b64",
		"stdlib/http/echo-http/c16/p1/r0/b4096",
		"stdlib/http/echo-http/c256/p1/r0/b64",
	}
	for i, w := range wantFirst {
		if got := cells[i].Key(); got != w {
			t.Errorf("cell %d = %s, want %s", i, got, w)
		}
	}
}

func TestCellKey(t *testing.T) {
	tests := []struct {
		c    Cell
		key  string
		file string
	}{
		{Cell{Backend: "gnet", Workload: Workloads["plaintext"], Conns: 64, Pipeline: 1, Rep: 1},
			"gnet/http/plaintext/c64/p1/r0/b0", "gnet_http_plaintext_c64_p1_r0_b0_rep1"},
		{Cell{Backend: "stdlib", Workload: Workloads["echo"], Conns: 1024, Pipeline: 16, Rate: 20000, Payload: 4096, Rep: 3},
			"stdlib/echo/echo/c1024/p16/r20000/b4096", "stdlib_echo_echo_c1024_p16_r20000_b4096_rep3"},
		{Cell{Backend: "fasthttp", Workload: Workloads["echo-http"], Conns: 8, Pipeline: 2, Rate: 1500.5, Payload: 1, Rep: 2},
			"fasthttp/http/echo-http/c8/p2/r1500.5/b1", "fasthttp_http_echo-http_c8_p2_r1500.5_b1_rep2"},
	}
	for _, tt := range tests {
		if got := tt.c.Key(); got != tt.key {
			t.Errorf("Key = %s, want %s", got, tt.key)
		}
		if got := tt.c.FileName(); got != tt.file {
			t.Errorf("FileName = %s, want %s", got, tt.file)
		}
	}
}

func TestParsePlan(t *testing.T) {
	yamlText := "backends: [gnet]\nworkloads: [echo]\nconnections: [2]\npipeline: [1]\nrates: [0, 100.5]\npayloads: [64]\nrepetitions: 1\nduration: 1500ms\nwarmup: 0s\n"
	jsonText := `{"name": "j", "backends": ["gnet"], "workloads": ["echo"], "connections": [2], "pipeline": [1], "rates": [0, 100.5], "payloads": [64], "repetitions": 1, "duration": "1500ms", "warmup": "0s"}`
	for _, tt := range []struct{ name, text, wantName string }{
		{"yaml", yamlText, "dflt"},
		{"json", jsonText, "j"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePlan([]byte(tt.text), "dflt")
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != tt.wantName || p.Duration != 1500*time.Millisecond || len(p.Rates) != 2 || p.Rates[1] != 100.5 {
				t.Fatalf("parsed %+v", p)
			}
			if err := p.Validate(0); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := ParsePlan([]byte("backend: [gnet]\n"), "x"); err == nil || !strings.Contains(err.Error(), "backend") {
		t.Fatalf("unknown key accepted: %v", err)
	}
	// retries: absent is the default, 0 is off, and plan.yaml keeps 0.
	p, err := ParsePlan([]byte(yamlText), "d")
	if err != nil || p.Retries != nil || p.RetryLimit() != DefaultRetries {
		t.Fatalf("no retries key: %v, %v", p.Retries, err)
	}
	p, err = ParsePlan([]byte(yamlText+"retries: 0\n"), "d")
	if err != nil || p.RetryLimit() != 0 {
		t.Fatalf("retries 0: %+v, %v", p, err)
	}
	data, err := p.Marshal()
	if err != nil || !strings.Contains(string(data), "\nretries: 0\n") {
		t.Fatalf("marshalled without retries 0: %v\n%s", err, data)
	}
}

func TestParsePlanErrorsOneLine(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"backends: [gnet]\nconections: [16]\nbogus: 1\n", `plan x: line 2: unknown key "conections"; line 3: unknown key "bogus"`},
		{`{"backends": ["gnet"], "conections": [16]}`, `plan x: line 1: unknown key "conections"`},
		{"", "plan x: empty plan"},
		{"repetitions: many\n", "plan x: line 1: cannot unmarshal"},
	} {
		_, err := ParsePlan([]byte(tt.text), "x")
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParsePlan(%q) = %v, want one line starting %q", tt.text, err, tt.want)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	p := validPlan()
	data, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "#   stdlib/http/plaintext/c16/p1/r0/b0 rep1\n") ||
		!strings.Contains(string(data), "# skipped: fasthttp/echo") {
		t.Fatalf("cell comments missing:\n%s", data)
	}
	back, err := ParsePlan(data, "x")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.Expand()
	b, _ := back.Expand()
	if len(a) != len(b) || back.Duration != p.Duration || back.Name != p.Name {
		t.Fatalf("round trip changed the plan: %+v", back)
	}
}

func TestBuiltinPlans(t *testing.T) {
	names := plans.Names()
	if strings.Join(names, ",") != "calibrate,floor,full,idle,latency,pollers,quick,scheduling" {
		t.Fatalf("built-in plans = %v", names)
	}
	for _, name := range append(names, "../plans/example.yaml") {
		p, err := LoadPlan(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Validate(20000 - FDHeadroom); err != nil {
			t.Errorf("%s: %v", name, err) // go on: the other plans' checks still run
		}
	}
	for name, most := range map[string]time.Duration{"quick": 5 * time.Minute, "calibrate": 8 * time.Minute} {
		q, _ := LoadPlan(name)
		cells, _ := q.Expand()
		total := time.Duration(len(cells)) * (q.Duration + q.Warmup + cellOverhead)
		if total > most {
			t.Errorf("%s plans %d cells, %v: too long", name, len(cells), total)
		}
		if q.Reps < 6 {
			t.Errorf("%s: %d rounds; verdicts need at least 6", name, q.Reps)
		}
		// At most max_repetitions rounds, with the 0.5 s per cell beyond
		// warm-up and window measured here, still fit.
		if q.MaxReps > q.Reps {
			more := q
			more.Reps = q.MaxReps
			cells, _ := more.Expand()
			var t2 time.Duration
			for _, c := range cells {
				t2 += q.Duration + q.Warmup + 500*time.Millisecond + q.dialTime(c.Conns)
			}
			if t2 > 5*time.Minute {
				t.Errorf("%s: %d rounds take %v: too long", name, q.MaxReps, t2)
			}
		}
	}
	q, _ := LoadPlan("quick")
	if _, skipped := q.Expand(); strings.Join(skipped, ",") != "fasthttp/echo" {
		t.Fatalf("quick skipped %v", skipped)
	}
	if !slices.Equal(q.Backends, []string{"stdlib", "gnet", "fasthttp"}) || !slices.Equal(q.Workloads, []string{"plaintext", "echo"}) {
		t.Errorf("quick lost a backend/protocol pair: %v × %v", q.Backends, q.Workloads)
	}
	l, _ := LoadPlan("latency")
	if cells, _ := l.Expand(); len(cells) != 120 || len(l.Fractions) < 2 || !slices.Contains(l.Rates, 0) {
		t.Errorf("latency: %d cells, fractions %v; its comment plans 120 and a curve needs capacity and two fractions", len(cells), l.Fractions)
	}
	c, _ := LoadPlan("calibrate")
	labels := c.Labels()
	if c.ReferenceLabel() != labels[0] || len(labels) != 4 || !strings.Contains(labels[2], "handicap") ||
		c.Variants[0].Backend != c.Variants[1].Backend || c.Variants[0].Backend != c.Variants[2].Backend ||
		!slices.Contains(c.Variants[2].ServerArgs, "-handicap-cpu-us") ||
		!slices.Contains(c.Variants[3].ServerArgs, "-handicap-delay-us") || !c.SharedCapacity || len(c.Fractions) != 1 {
		t.Errorf("calibrate: %+v", c)
	}
	if _, err := LoadPlan("nosuch"); err == nil || !strings.Contains(err.Error(), "built-in: calibrate, floor, full, idle, latency, pollers, quick, scheduling") {
		t.Fatalf("LoadPlan(nosuch) = %v", err)
	}
}

// TestParsePlanRejectsNonFinite: a plan with rates [.nan] or [.inf] decoded
// fine and then failed every cell; it must fail once, naming the key.
func TestParsePlanRejectsNonFinite(t *testing.T) {
	for _, rate := range []string{".nan", ".inf", "-.inf", "1e12"} {
		text := "backends: [gnet]\nworkloads: [plaintext]\nconnections: [1]\npipeline: [1]\nrates: [" + rate + "]\nrepetitions: 1\nduration: 1s\n"
		p, err := ParsePlan([]byte(text), "x")
		if err == nil {
			err = p.Validate(0)
		}
		if err == nil || !strings.Contains(err.Error(), "rates ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("rates [%s]: %v, want one line naming rates", rate, err)
		}
	}
}

// TestSchedulingPlanBudget checks the arithmetic in scheduling.yaml's
// comment whatever backends are registered: 330 cells, at most 33 minutes
// with dialling, 10,000 connections within the open-file limit, every
// backend of the catalog in it, threads also at GOMAXPROCS=1024 and nbio
// also in its mixed mode.
func TestSchedulingPlanBudget(t *testing.T) {
	p, err := LoadPlan("scheduling")
	if err != nil {
		t.Fatal(err)
	}
	cells := len(p.AllVariants()) * len(p.Workloads) * len(p.Pipeline) * len(p.Rates) * p.Reps
	var total time.Duration
	for _, c := range p.Conns {
		total += time.Duration(cells) * (p.CellTime() + p.dialTime(c))
		if c+FDHeadroom > 20000 {
			t.Errorf("%d connections need %d open files", c, c+FDHeadroom)
		}
	}
	if n := cells * len(p.Conns); n != 330 {
		t.Errorf("%d cells, the comment says 330", n)
	}
	if total > 33*time.Minute || total.Round(time.Second) != 1894*time.Second {
		t.Errorf("planned %v; the comment says 1894 s and the limit is 33 min", total)
	}
	if got := p.PlannedTime().Round(time.Second); got != 1894*time.Second {
		t.Errorf("PlannedTime %v", got)
	}
	if !slices.Contains(p.Workloads, "churn") {
		t.Error("no churn workload: creation cost does not show")
	}
	for _, w := range p.Workloads {
		if _, err := ParseWorkload(w); err != nil {
			t.Error(err)
		}
	}
	for _, b := range backends.Catalog {
		if !slices.Contains(p.Backends, b.Name) {
			t.Errorf("backend %s is not in the scheduling plan", b.Name)
		}
	}
	i := slices.IndexFunc(p.Variants, func(v Variant) bool { return v.Label == "threads-gmp1024" })
	if i < 0 || p.Variants[i].Backend != "threads" || p.Variants[i].Env["GOMAXPROCS"] != "1024" || len(p.Variants) != 2 {
		t.Errorf("variants %+v", p.Variants)
	}
	if i := slices.IndexFunc(p.Variants, func(v Variant) bool { return v.Label == "nbio-mixed" }); i < 0 ||
		p.Variants[i].Backend != "nbio" || !slices.Equal(p.Variants[i].ServerArgs, []string{"-nbio-mode", "mixed"}) {
		t.Errorf("no nbio-mixed variant with -nbio-mode mixed: %+v", p.Variants)
	}
	if err := p.Validate(20000 - FDHeadroom); err != nil {
		t.Error(err)
	}
}

// TestBuiltinPlansPrograms: only the plans about designs, and the
// calibration (on a server without a runtime, so that its A/A spread is
// the instrument's), name backends that are separate programs; the default
// and latency plans run with the Go server alone, so they run wherever it
// builds.
func TestBuiltinPlansPrograms(t *testing.T) {
	withPrograms := []string{"calibrate", "floor", "idle", "scheduling"}
	for _, name := range plans.Names() {
		p, err := LoadPlan(name)
		if err != nil {
			t.Fatal(err)
		}
		var programs []string
		for _, v := range p.AllVariants() {
			if info, _ := backends.Lookup(v.Backend); info.External() || len(v.Command) > 0 {
				programs = append(programs, v.Label)
			}
		}
		if got := len(programs) > 0; got != slices.Contains(withPrograms, name) {
			t.Errorf("plan %s: programs %v", name, programs)
		}
	}
}

func TestMaxRepetitions(t *testing.T) {
	p := threeCells()
	p.Reps = 6
	for _, tc := range []struct {
		max int
		ok  bool
	}{{0, true}, {6, true}, {9, true}, {5, false}, {MaxRepetitions + 1, false}} {
		p.MaxReps = tc.max
		if err := p.Validate(0); (err == nil) != tc.ok {
			t.Errorf("max_repetitions %d: %v, want ok %v", tc.max, err, tc.ok)
		}
	}
}

package runner

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

func variantPlan() Plan {
	return Plan{
		Name: "cal", Workloads: []string{"plaintext"}, Conns: []int{4}, Pipeline: []int{1},
		Rates: []float64{0}, Reps: 2, Duration: time.Second, Reference: "stdlib-a",
		Variants: []Variant{
			{Label: "stdlib-a", Backend: "stdlib"},
			{Label: "stdlib-b", Backend: "stdlib"},
			{Label: "stdlib-handicap", Backend: "stdlib", ServerArgs: []string{"-handicap-cpu-us", "3"}},
		},
	}
}

func TestVariantsValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Plan)
		want string
	}{
		{"valid", func(*Plan) {}, ""},
		{"with backends", func(p *Plan) { p.Backends = []string{"gnet"} }, ""},
		{"duplicate label", func(p *Plan) { p.Variants[1].Label = "stdlib-a" }, `label "stdlib-a" used twice`},
		{"label clashes with backend", func(p *Plan) { p.Backends = []string{"stdlib-a"} }, `label "stdlib-a" used twice`},
		{"no label", func(p *Plan) { p.Variants[0].Label = "" }, "variants[0]: no label"},
		{"slash in label", func(p *Plan) { p.Variants[0].Label = "a/b" }, `label "a/b": use letters`},
		{"unknown backend", func(p *Plan) { p.Variants[2].Backend = "nginx" }, `variants[2]: unknown backend "nginx"`},
		{"unknown reference", func(p *Plan) { p.Reference = "gnet" }, `reference "gnet"`},
		{"nothing", func(p *Plan) { p.Variants = nil }, "no backends"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := variantPlan()
			p.Reference = ""
			if tt.name == "unknown reference" || tt.name == "valid" {
				p.Reference = "stdlib-a"
			}
			tt.edit(&p)
			err := p.Validate(0)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestReferenceLabel(t *testing.T) {
	p := variantPlan()
	if got := p.ReferenceLabel(); got != "stdlib-a" {
		t.Errorf("explicit: %s", got)
	}
	p.Reference = ""
	if got := p.ReferenceLabel(); got != "stdlib-a" {
		t.Errorf("no stdlib label, first: %s", got)
	}
	p = validPlan()
	p.Backends = []string{"gnet", "stdlib"}
	if got := p.ReferenceLabel(); got != "stdlib" {
		t.Errorf("default: %s", got)
	}
}

func TestParsePlanVariants(t *testing.T) {
	text := `name: cal
workloads: [plaintext]
connections: [4]
pipeline: [1]
rates: [0]
repetitions: 2
duration: 1s
seed: 42
reference: stdlib-a
variants:
  - {label: stdlib-a, backend: stdlib}
  - {label: stdlib-handicap, backend: stdlib, server_args: ["-handicap-cpu-us", "3"]}
`
	p, err := ParsePlan([]byte(text), "x")
	if err != nil {
		t.Fatal(err)
	}
	if p.Seed != 42 || len(p.Variants) != 2 || !slices.Equal(p.Variants[1].ServerArgs, []string{"-handicap-cpu-us", "3"}) {
		t.Fatalf("%+v", p)
	}
	out, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParsePlan(out, "x")
	if err != nil {
		t.Fatal(err)
	}
	if back.Seed != 42 || back.Reference != "stdlib-a" || len(back.Variants) != 2 {
		t.Fatalf("round trip: %+v\n%s", back, out)
	}
	if !strings.Contains(string(out), "#   stdlib-handicap/http/plaintext/c4/p1/r0/b0 rep") {
		t.Fatalf("cell keys use labels:\n%s", out)
	}
}

func TestExpandRounds(t *testing.T) {
	p := validPlan()
	p.Reps = 6
	key := func(c Cell) string { return c.Key() }
	order := func(p Plan) [][]string {
		cells, _ := p.Expand()
		var rounds [][]string
		for _, c := range cells {
			if c.Rep > len(rounds) {
				rounds = append(rounds, nil)
			}
			rounds[c.Rep-1] = append(rounds[c.Rep-1], key(c))
		}
		return rounds
	}
	plain := order(p)
	p.Seed = 7
	a, b := order(p), order(p)
	if len(a) != 6 {
		t.Fatalf("%d rounds", len(a))
	}
	distinct := map[string]bool{}
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Fatal("the same seed gave two orders")
		}
		x, y := slices.Clone(a[i]), slices.Clone(plain[i])
		slices.Sort(x)
		slices.Sort(y)
		if !slices.Equal(x, y) {
			t.Fatalf("round %d is not a permutation of the plan's cells", i+1)
		}
		distinct[strings.Join(a[i], ",")] = true
	}
	if len(distinct) < 5 {
		t.Errorf("only %d distinct orders in 6 rounds", len(distinct))
	}
	// Paired: the labels of one configuration run back to back, so every
	// configuration's cells form one run within the round, and not always
	// in the same order.
	leaders := map[string]map[string]bool{} // configuration → labels that ran first
	for i, round := range a {
		var seen []string
		for j, k := range round {
			label, pk, _ := strings.Cut(k, "/")
			if j > 0 && strings.HasSuffix(round[j-1], "/"+pk) {
				continue
			}
			if slices.Contains(seen, pk) {
				t.Fatalf("round %d: %s runs in two separate stretches: %v", i+1, pk, round)
			}
			seen = append(seen, pk)
			if leaders[pk] == nil {
				leaders[pk] = map[string]bool{}
			}
			leaders[pk][label] = true
		}
	}
	varied := false
	for _, l := range leaders {
		varied = varied || len(l) > 1
	}
	if !varied {
		t.Errorf("the same label always runs first: %v", leaders)
	}
	p.Seed = 8
	if c := order(p); slices.Equal(c[0], a[0]) && slices.Equal(c[1], a[1]) {
		t.Error("another seed gave the same order")
	}
	// Pinned: the first round of seed 7 must not change between releases,
	// or a resumed run would repeat cells in another order.
	if got := a[0][0]; got != pinnedFirstCell {
		t.Errorf("first cell of seed 7 = %s, want %s", got, pinnedFirstCell)
	}
}

const pinnedFirstCell = "gnet/echo/echo/c16/p1/r0/b64"

func TestRunVariants(t *testing.T) {
	p := variantPlan()
	p.Reps = 1
	p.Seed = 3
	cfg, pids := fakeConfig(t, p)
	var w memRows
	out, err := Run(context.Background(), cfg, &w)
	if err != nil || out.Ran != 3 {
		t.Fatalf("%+v %v", out, err)
	}
	var labels []string
	for _, r := range w.rows {
		if r.Backend != "stdlib" || r.Label == "" || !strings.HasPrefix(r.Cell, r.Label+"/") || r.Status != "ok" {
			t.Fatalf("row %+v", r)
		}
		labels = append(labels, r.Label)
	}
	slices.Sort(labels)
	if !slices.Equal(labels, []string{"stdlib-a", "stdlib-b", "stdlib-handicap"}) {
		t.Fatalf("labels %v", labels)
	}
	assertGone(t, pids)

	// The server arguments reach the server: one it does not know fails
	// that variant's cell only.
	p.Variants[1].ServerArgs = []string{"-no-such-flag"}
	cfg, pids = fakeConfig(t, p)
	w = memRows{}
	if _, err := Run(context.Background(), cfg, &w); err != nil {
		t.Fatal(err)
	}
	for _, r := range w.rows {
		if (r.Status == "failed") != (r.Label == "stdlib-b") {
			t.Fatalf("row %s: %s %q", r.Label, r.Status, r.Reason)
		}
	}
	assertGone(t, pids)
}

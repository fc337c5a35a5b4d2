package runner

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/runner/fakechild"
)

func TestParseRateFractions(t *testing.T) {
	text := "backends: [gnet]\nworkloads: [plaintext]\nconnections: [2]\npipeline: [1]\nrates: [0, 1000, \"25%\", '12.5 %']\nrepetitions: 1\nduration: 1s\n"
	p, err := ParsePlan([]byte(text), "f")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rates) != 2 || p.Rates[1] != 1000 || len(p.Fractions) != 2 || p.Fractions[0] != 0.25 || p.Fractions[1] != 0.125 {
		t.Fatalf("rates %v fractions %v", p.Rates, p.Fractions)
	}
	if err := p.Validate(0); err != nil {
		t.Fatal(err)
	}
	// plan.yaml round trip, as -resume reads it.
	data, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "- 25%\n") || !strings.Contains(string(data), "r12.5pct") {
		t.Fatalf("marshalled:\n%s", data)
	}
	q, err := ParsePlan(data, "f")
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Rates) != 2 || len(q.Fractions) != 2 || q.Fractions[1] != 0.125 {
		t.Fatalf("round trip: rates %v fractions %v", q.Rates, q.Fractions)
	}

	for _, tc := range []struct{ rates, want string }{
		{`["0%"]`, "rates 0%: a percentage of capacity must be above 0%"},
		{`["2000%"]`, "rates 2000%"},
		{`["50%", "50%"]`, "rate 50% listed twice"},
		{`["fast"]`, `rates "fast": want a number of requests/s or a percentage`},
		{`["x%"]`, `rates "x%"`},
	} {
		p, err := ParsePlan([]byte(strings.Replace(text, `[0, 1000, "25%", '12.5 %']`, tc.rates, 1)), "f")
		if err == nil {
			err = p.Validate(0)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("rates %s: err %v, want %q", tc.rates, err, tc.want)
		}
	}
}

// TestExpandCapacityFirst: a plan with fractions but no closed loop gets
// the closed-loop cells, and in every shuffled round each runs before the
// fractions of its combination.
func TestExpandCapacityFirst(t *testing.T) {
	p := validPlan()
	p.Rates, p.Fractions, p.Reps, p.Seed = nil, []float64{0.25, 0.5, 0.9}, 5, 42
	cells, _ := p.Expand()
	// 3 backends, plaintext + echo (fasthttp has no echo) = 5 pairs × 2 conns × (1 + 3 rates).
	if len(cells) != 5*2*4*5 {
		t.Fatalf("%d cells", len(cells))
	}
	seen := map[string]bool{}
	for _, c := range cells {
		if c.Fraction == 0 {
			if c.Rate != 0 {
				t.Fatalf("absolute rate %g in a fractions-only plan", c.Rate)
			}
			seen[rowID(c.Key(), c.Rep)] = true
			continue
		}
		if !strings.Contains(c.Key(), "/r"+formatRate(c.Fraction*100)+"pct/") {
			t.Errorf("key %s", c.Key())
		}
		if !seen[rowID(c.capacityCell().Key(), c.Rep)] {
			t.Fatalf("%s rep %d before its capacity cell", c.Key(), c.Rep)
		}
	}
}

func fractionPlan() Plan {
	return Plan{
		Name: "frac", Backends: []string{"stdlib", "gnet"},
		Workloads: []string{"plaintext"}, Conns: []int{4}, Pipeline: []int{1},
		Rates: []float64{0}, Fractions: []float64{0.5}, Reps: 1, Duration: time.Second, Seed: 7,
	}
}

// TestRunFractions: a fraction cell runs at its capacity × fraction (the
// fake generator serves 1000 req/s per connection), one whose capacity
// cell failed gives a failed row naming it, and a resumed run finds the
// capacity in the rows already written.
func TestRunFractions(t *testing.T) {
	cfg, pids := fakeConfig(t, fractionPlan())
	t.Setenv(fakechild.EnvCrash, "gnet")
	var w memRows
	if _, err := Run(context.Background(), cfg, &w); err != nil {
		t.Fatal(err)
	}
	if len(w.rows) != 4 {
		t.Fatalf("%d rows", len(w.rows))
	}
	for _, r := range w.rows {
		switch {
		case r.Cell == "stdlib/http/plaintext/c4/p1/r50pct/b0":
			if r.Status != results.StatusOK || r.Rate != 2000 || r.RateFraction == nil || *r.RateFraction != 0.5 {
				t.Errorf("stdlib fraction row: %s rate %g fraction %v %q", r.Status, r.Rate, r.RateFraction, r.Reason)
			}
		case r.Cell == "gnet/http/plaintext/c4/p1/r50pct/b0":
			if r.Status != results.StatusFailed || !strings.HasPrefix(r.Reason, "capacity cell gnet/http/plaintext/c4/p1/r0/b0 (round 1) failed; server exited") {
				t.Errorf("gnet fraction row: %s %q", r.Status, r.Reason)
			}
		case r.RateFraction != nil:
			t.Errorf("closed-loop row with a fraction: %+v", r)
		}
	}
	assertGone(t, pids)

	// Resume: the capacity rows are done, the failed fraction runs again.
	t.Setenv(fakechild.EnvCrash, "")
	cfg.Prior = w.rows
	cfg.Skip = Completed(w.rows)
	var w2 memRows
	out, err := Run(context.Background(), cfg, &w2)
	if err != nil {
		t.Fatal(err)
	}
	// gnet's capacity cell failed, so it runs again before its fraction.
	if out.Ran != 2 || w2.rows[0].Cell != "gnet/http/plaintext/c4/p1/r0/b0" || w2.rows[1].Rate != 2000 || w2.rows[1].Status != results.StatusOK {
		t.Fatalf("resumed: %+v; rows %+v", out, w2.rows)
	}
	assertGone(t, pids)
}

func TestCapacityResolve(t *testing.T) {
	c := Cell{Backend: "gnet", Workload: Workloads["plaintext"], Conns: 8, Pipeline: 1, Fraction: 0.25, Rep: 2}
	capKey := c.capacityCell().Key()
	caps := newCapacities([]results.Row{
		{Cell: capKey, Rep: 1, Status: results.StatusOK, RPS: 100},
		{Cell: capKey, Rep: 2, Status: results.StatusFailed, Reason: "boom"},
		{Cell: capKey, Rep: 2, Status: results.StatusSaturated, RPS: 40_000, Reason: "generator-bound"},
	})
	rc, note, reason := caps.resolve(c)
	if reason != "" || rc.Rate != 10_000 || !strings.Contains(note, "saturated") {
		t.Fatalf("rate %g, note %q, reason %q", rc.Rate, note, reason)
	}
	c.Rep = 3
	if _, _, reason := caps.resolve(c); !strings.Contains(reason, "was not measured") {
		t.Errorf("reason %q", reason)
	}
	// A later failed row does not replace a usable one.
	caps.add(results.Row{Cell: capKey, Rep: 1, Status: results.StatusFailed})
	c.Rep = 1
	if rc, _, _ := caps.resolve(c); rc.Rate != 25 {
		t.Errorf("rate %g", rc.Rate)
	}
}

// TestRunFractionsRerun: a capacity cell that came out generator-bound is
// re-run at the end of its round; the fraction cell that ran before then
// found the round's capacity in the first attempt, and says so, and
// Latest (hence a resumed run's capacities) keeps the re-run.
func TestRunFractionsRerun(t *testing.T) {
	p := fractionPlan()
	p.Backends = []string{"gnet"}
	cfg, pids := fakeConfig(t, p)
	t.Setenv(fakechild.EnvGenBound, "0")
	var w memRows
	out, err := Run(context.Background(), cfg, &w)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := summarise(w.rows), "gnet#1/1:saturated gnet#1/1:ok gnet#1/2:ok"; got != want || out.Reruns != 1 {
		t.Fatalf("rows %s, want %s; outcome %+v", got, want, out)
	}
	frac := w.rows[1]
	if frac.RateFraction == nil || frac.Rate != 2000 || !strings.Contains(frac.Reason, "capacity 4000 req/s from a saturated closed-loop cell") {
		t.Fatalf("fraction row: rate %g %q", frac.Rate, frac.Reason)
	}
	caps := newCapacities(w.rows)
	if r := caps[rowID("gnet/http/plaintext/c4/p1/r0/b0", 1)]; r.Attempt != 2 || r.Status != results.StatusOK {
		t.Fatalf("capacity kept: %+v", r)
	}
	assertGone(t, pids)
}

// TestExpandSharedCapacity: with shared_capacity every label's fraction
// cells take the reference label's capacity cell of the same round, which
// comes first in the round.
func TestExpandSharedCapacity(t *testing.T) {
	p := fractionPlan()
	p.Reps, p.SharedCapacity, p.Reference = 4, true, "gnet"
	cells, _ := p.Expand()
	seen := map[string]bool{}
	fractions := 0
	for _, c := range cells {
		if c.Fraction == 0 {
			seen[rowID(c.Key(), c.Rep)] = true
			continue
		}
		fractions++
		if got, want := c.capacityCell().Key(), "gnet/http/plaintext/c4/p1/r0/b0"; got != want {
			t.Errorf("%s: capacity cell %s, want %s", c.Key(), got, want)
		}
		if !seen[rowID(c.capacityCell().Key(), c.Rep)] {
			t.Errorf("%s rep %d before the reference's capacity cell", c.Key(), c.Rep)
		}
	}
	if fractions != 2*4 {
		t.Errorf("%d fraction cells, want 8", fractions)
	}
	// Without it, each label its own.
	p.SharedCapacity = false
	cells, _ = p.Expand()
	for _, c := range cells {
		if c.Fraction > 0 && !strings.HasPrefix(c.capacityCell().Key(), c.Label+"/") && !strings.HasPrefix(c.capacityCell().Key(), c.Backend+"/") {
			t.Errorf("%s: capacity cell %s of another label", c.Key(), c.capacityCell().Key())
		}
	}
}

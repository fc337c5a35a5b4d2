package runner

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/results"
)

// simServer is a simulated server whose p99 is a known function of the
// offered rate: base / (1 − rate/capacity), as a single queue's tail grows,
// times multiplicative noise drawn from a fixed seed. At or above capacity
// the generator falls behind and the step does not count.
type simServer struct {
	base     time.Duration
	capacity float64
	noise    float64 // p99 is multiplied by a factor within [1−noise, 1+noise]
	rng      *rand.Rand
	calls    int
}

func (s *simServer) p99(rate float64) float64 {
	return float64(s.base) / (1 - rate/s.capacity)
}

func (s *simServer) Measure(rate float64, _ StepKind) (Step, error) {
	s.calls++
	if rate >= s.capacity {
		return Step{Reason: "generator fell behind its schedule"}, nil
	}
	f := 1.0
	if s.noise > 0 {
		f = 1 + s.noise*(2*s.rng.Float64()-1)
	}
	return Step{P99: time.Duration(s.p99(rate) * f), Pass: true}, nil
}

// lowestStepDown is the factor of the first answer that s's confirmations
// reach when all but the last fail.
func lowestStepDown(s *SLOSearch) float64 {
	d := s.defaults()
	f := 1.0
	for i := range d.MaxConfirm - 1 {
		f *= 1 - math.Min(d.StepDown*math.Pow(2, float64(i)), maxStepDown)
	}
	return f
}

// trueRate is the rate at which the simulated p99 times factor equals target.
func (s *simServer) trueRate(target time.Duration, factor float64) float64 {
	return s.capacity * (1 - factor*float64(s.base)/float64(target))
}

func TestSLOSearchSimulated(t *testing.T) {
	tests := []struct {
		name   string
		start  float64
		noise  float64
		target time.Duration
	}{
		{"grow from low", 1000, 0, 2 * time.Millisecond},
		{"shrink from high", 45_000, 0, 2 * time.Millisecond},
		{"noisy", 5000, 0.05, 2 * time.Millisecond},
		{"noisy tight target", 20_000, 0.10, 300 * time.Microsecond},
		{"target near capacity", 1000, 0.02, 50 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := &simServer{base: 200 * time.Microsecond, capacity: 50_000, noise: tc.noise, rng: rand.New(rand.NewPCG(1, 2))}
			s := SLOSearch{Target: tc.target, Start: tc.start}
			res, err := s.Run(sim)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Met {
				t.Fatalf("not met: %s", res.Note)
			}
			// With noise the measured p99 is within ±noise of the truth, so
			// the answer lies between the rates where the true p99 is
			// target/(1−noise) and target/(1+noise), less the tolerance.
			lo := sim.trueRate(tc.target, 1+tc.noise) * (1 - DefaultSLOTolerance) * lowestStepDown(&s)
			hi := sim.trueRate(tc.target, 1-tc.noise) + 1
			if res.MaxRate < lo || res.MaxRate > hi {
				t.Errorf("max rate %g outside [%g, %g] (true %g); steps %+v", res.MaxRate, lo, hi, sim.trueRate(tc.target, 1), res.Steps)
			}
			if tc.noise == 0 {
				truth := sim.trueRate(tc.target, 1)
				if res.BracketLow > truth || (res.BracketHigh != 0 && res.BracketHigh < truth) {
					t.Errorf("bracket [%g, %g] does not hold the true answer %g", res.BracketLow, res.BracketHigh, truth)
				}
				if w := (res.BracketHigh - res.BracketLow) / res.BracketLow; w > DefaultSLOTolerance {
					t.Errorf("bracket [%g, %g] wider than %g", res.BracketLow, res.BracketHigh, DefaultSLOTolerance)
				}
				if res.MaxRate != res.BracketLow {
					t.Errorf("answer %g, want the bracket's low end %g", res.MaxRate, res.BracketLow)
				}
			}
			if res.MaxRate > res.BracketLow || res.P99AtMax > tc.target {
				t.Errorf("answer %g (p99 %v) above bracket low %g or target", res.MaxRate, res.P99AtMax, res.BracketLow)
			}
			// Doubling from start to the bracket, then bisecting a 2× bracket
			// to 2% (6 halvings), then confirmations.
			grow := int(math.Ceil(math.Abs(math.Log2(sim.trueRate(tc.target, 1)/tc.start)))) + 1
			bound := 1 + grow + 6 + DefaultSLOMaxConfirm
			if n := len(res.Steps); n > bound || n > s.MaxSteps() || n != sim.calls {
				t.Errorf("%d steps (%d calls), want at most %d (MaxSteps %d)", n, sim.calls, bound, s.MaxSteps())
			}
		})
	}
}

// TestSLOSearchRetriesInconclusive: a noisy step is measured again, so a
// host that is noisy one run in three does not move the answer.
func TestSLOSearchRetriesInconclusive(t *testing.T) {
	sim := &simServer{base: 200 * time.Microsecond, capacity: 50_000}
	rng := rand.New(rand.NewPCG(3, 4))
	noisy := 0
	m := MeasureFunc(func(rate float64, kind StepKind) (Step, error) {
		if rng.IntN(3) == 0 {
			noisy++
			return Step{Inconclusive: true, Reason: "noisy"}, nil
		}
		return sim.Measure(rate, kind)
	})
	s := SLOSearch{Target: 2 * time.Millisecond, Start: 1000}
	res, err := s.Run(m)
	if err != nil {
		t.Fatal(err)
	}
	truth := sim.trueRate(s.Target, 1)
	if !res.Met || res.BracketLow > truth || res.BracketHigh < truth || noisy == 0 {
		t.Fatalf("bracket [%g, %g], truth %g, %d noisy; %s", res.BracketLow, res.BracketHigh, truth, noisy, res.Note)
	}
	if len(res.Steps) > s.MaxSteps() {
		t.Errorf("%d steps > %d", len(res.Steps), s.MaxSteps())
	}
	// Always noisy: every rate is tried 1 + Retries times, then taken as
	// not meeting the target.
	always := MeasureFunc(func(float64, StepKind) (Step, error) { return Step{Inconclusive: true, Reason: "noisy"}, nil })
	s = SLOSearch{Target: time.Millisecond, Start: 400, MinRate: 100}
	res, err = s.Run(always)
	if err != nil || res.Met || len(res.Steps) != 3*(1+DefaultSLORetries) {
		t.Errorf("always noisy: %v, met %v, %d steps", err, res.Met, len(res.Steps))
	}
}

func TestSLOSearchNeverMet(t *testing.T) {
	sim := &simServer{base: 2 * time.Millisecond, capacity: 50_000}
	s := SLOSearch{Target: time.Millisecond, Start: 10_000, MinRate: 100}
	res, err := s.Run(sim)
	if err != nil {
		t.Fatal(err)
	}
	if res.Met || res.MaxRate != 0 || res.BracketLow != 0 {
		t.Fatalf("met: %+v", res)
	}
	if res.BracketHigh != 100 || !strings.Contains(res.Note, "not met even at 100 req/s") {
		t.Errorf("bracket high %g, note %q", res.BracketHigh, res.Note)
	}
	// 10000 → 5000 → … → 100 halving: 8 steps.
	if len(res.Steps) > 1+DefaultSLOGrowSteps || len(res.Steps) != 8 {
		t.Errorf("%d steps", len(res.Steps))
	}
}

func TestSLOSearchMetAtMaxRate(t *testing.T) {
	sim := &simServer{base: 10 * time.Microsecond, capacity: 1e9}
	s := SLOSearch{Target: time.Millisecond, Start: 1000, MaxRate: 5000}
	res, err := s.Run(sim)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Met || res.MaxRate != 5000 || res.BracketHigh != 0 {
		t.Errorf("%+v", res)
	}
}

func TestSLOSearchConfirmationStepsDown(t *testing.T) {
	// The first run at every rate meets the target; the second run at
	// the bisection's answer does not, so the search steps down.
	seen := map[float64]int{}
	var answer float64
	m := MeasureFunc(func(rate float64, _ StepKind) (Step, error) {
		seen[rate]++
		if rate > 10_000 {
			return Step{P99: 2 * time.Millisecond, Pass: true}, nil
		}
		if seen[rate] > 1 && answer == 0 {
			answer = rate
			return Step{Pass: false, Reason: "noisy"}, nil
		}
		return Step{P99: 500 * time.Microsecond, Pass: true}, nil
	})
	s := SLOSearch{Target: time.Millisecond, Start: 1000}
	res, err := s.Run(m)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Met || res.MaxRate >= answer || !strings.Contains(res.Note, "stepped down") {
		t.Errorf("%+v (failed confirmation at %g)", res, answer)
	}
}

func TestSLOSearchStops(t *testing.T) {
	stop := errors.New("interrupted")
	n := 0
	m := MeasureFunc(func(rate float64, _ StepKind) (Step, error) {
		n++
		if n == 3 {
			return Step{}, stop
		}
		return Step{P99: time.Microsecond, Pass: true}, nil
	})
	s := SLOSearch{Target: time.Millisecond, Start: 1000}
	res, err := s.Run(m)
	if !errors.Is(err, stop) || len(res.Steps) != 2 {
		t.Errorf("err %v, %d steps", err, len(res.Steps))
	}
	if err := (&SLOSearch{Start: 10}).Validate(); err == nil {
		t.Error("no target accepted")
	}
}

// TestSLOSearchConfirmationStepsDownGeometrically: every search step up to
// 10,000 req/s meets the target, but confirmations fail above 80% of the
// first answer. Steps of 5, 10 and 20% reach 0.68×, where the fourth
// confirmation holds; three fixed 5% steps (0.86×) never got there.
func TestSLOSearchConfirmationStepsDownGeometrically(t *testing.T) {
	var first float64
	m := MeasureFunc(func(rate float64, kind StepKind) (Step, error) {
		if kind == Confirmation && first == 0 {
			first = rate
		}
		if rate > 10_000 || (kind == Confirmation && rate > 0.8*first) {
			return Step{P99: 2 * time.Millisecond, Pass: true}, nil
		}
		return Step{P99: 500 * time.Microsecond, Pass: true}, nil
	})
	s := SLOSearch{Target: time.Millisecond, Start: 1000}
	res, err := s.Run(m)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Met || res.MaxRate > 0.8*first || res.MaxRate < 0.6*first {
		t.Fatalf("met %v at %g, first answer %g: %s", res.Met, res.MaxRate, first, res.Note)
	}
	var confirms []float64
	for _, st := range res.Steps {
		if st.Kind == Confirmation {
			confirms = append(confirms, st.Rate)
		}
	}
	want := []float64{first, math.Round(first * 0.95)}
	want = append(want, math.Round(want[1]*0.9))
	want = append(want, math.Round(want[2]*0.8))
	if !slices.Equal(confirms, want) || res.MaxRate != want[3] {
		t.Errorf("confirmations at %v, want %v", confirms, want)
	}
	for _, r := range want[:3] {
		if !strings.Contains(res.Note, "confirmation at "+formatRate(r)+" req/s failed (p99 2ms > 1ms), stepped down") {
			t.Errorf("note %q does not list the failure at %g", res.Note, r)
		}
	}
	if !strings.HasSuffix(res.Note, "confirmed at "+formatRate(res.MaxRate)+" req/s") {
		t.Errorf("note %q", res.Note)
	}
}

// TestSLOSearchConfirmationFloor: confirmations that never hold step down
// to MinRate and no further, then end without an answer; the last failure
// is not said to step down.
func TestSLOSearchConfirmationFloor(t *testing.T) {
	m := MeasureFunc(func(rate float64, kind StepKind) (Step, error) {
		if kind == Confirmation {
			return Step{Reason: "generator fell behind its schedule"}, nil
		}
		return Step{P99: 500 * time.Microsecond, Pass: true}, nil
	})
	s := SLOSearch{Target: time.Millisecond, Start: 1000, MinRate: 900, MaxRate: 1000}
	res, err := s.Run(m)
	if err != nil {
		t.Fatal(err)
	}
	var confirms []float64
	for _, st := range res.Steps {
		if st.Kind == Confirmation {
			confirms = append(confirms, st.Rate)
		}
	}
	// 1000 → 950 → 900 (10% would be 855) → no lower.
	if res.Met || !slices.Equal(confirms, []float64{1000, 950, 900}) {
		t.Fatalf("met %v, confirmations at %v: %s", res.Met, confirms, res.Note)
	}
	if strings.Count(res.Note, "stepped down") != 2 || !strings.HasSuffix(res.Note, "no rate confirmed") {
		t.Errorf("note %q", res.Note)
	}
}

// TestSLOSearchStepKinds: the Measurer is told which runs are
// confirmations, retried ones included, and the steps record it.
func TestSLOSearchStepKinds(t *testing.T) {
	sim := &simServer{base: 200 * time.Microsecond, capacity: 50_000}
	var kinds []StepKind
	retried := false
	m := MeasureFunc(func(rate float64, kind StepKind) (Step, error) {
		kinds = append(kinds, kind)
		if kind == Confirmation && !retried {
			retried = true
			return Step{Inconclusive: true, Reason: "noisy"}, nil
		}
		return sim.Measure(rate, kind)
	})
	s := SLOSearch{Target: 2 * time.Millisecond, Start: 1000}
	res, err := s.Run(m)
	if err != nil || !res.Met {
		t.Fatalf("%v: %+v", err, res)
	}
	n := len(kinds)
	if n < 3 || kinds[n-1] != Confirmation || kinds[n-2] != Confirmation || slices.Contains(kinds[:n-2], Confirmation) {
		t.Fatalf("kinds %v: want search steps, then a retried confirmation", kinds)
	}
	for i, st := range res.Steps {
		if st.Kind != kinds[i] {
			t.Errorf("step %d kind %v, measured as %v", i, st.Kind, kinds[i])
		}
	}
	if st := res.Steps[n-1]; st.Rate != res.MaxRate || st.Rate != res.Steps[n-2].Rate {
		t.Errorf("confirmed %g, answer %g", st.Rate, res.MaxRate)
	}
}

// TestStepOf: a step counts only when ok, error-free, on schedule and
// served; a server that fell behind the offered rate does not pass
// whatever its p99 over a short window.
func TestStepOf(t *testing.T) {
	ok := results.Row{Status: results.StatusOK, Rate: 200, RPS: 199, P99Us: 900}
	tests := []struct {
		name   string
		mod    func(*results.Row)
		pass   bool
		inconc bool
		reason string
	}{
		{"ok", func(*results.Row) {}, true, false, ""},
		{"served 98%", func(r *results.Row) { r.RPS = 196 }, true, false, ""},
		{"fell behind", func(r *results.Row) { r.RPS = 50 }, false, false, "the server answered 50 of the 200 req/s offered"},
		{"errors", func(r *results.Row) { r.Errors = 3 }, false, false, "3 errors"},
		{"saturated", func(r *results.Row) { r.Saturated = true }, false, false, "generator fell behind"},
		{"noisy", func(r *results.Row) { r.Status = results.StatusNoisy; r.Reason = "other" }, false, true, "noisy"},
	}
	for _, tt := range tests {
		r := ok
		tt.mod(&r)
		st := StepOf(r)
		if st.Pass != tt.pass || st.Inconclusive != tt.inconc || !strings.Contains(st.Reason, tt.reason) || st.P99 != 900*time.Microsecond {
			t.Errorf("%s: %+v", tt.name, st)
		}
	}
}

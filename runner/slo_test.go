package runner

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncbench/asyncbench/results"
)

// flat returns n interval histograms of 100 samples, all us µs: a run
// whose p99 is us with nothing to resample, so every verdict is decided.
func flat(us int64, n int) []*hdrhistogram.Histogram {
	out := make([]*hdrhistogram.Histogram, n)
	for i := range out {
		out[i] = hdrhistogram.New(1, 60_000_000, 3)
		_ = out[i].RecordValues(us, 100)
	}
	return out
}

// tailed returns an interval histogram of 100 samples: 98 at low µs and
// 2 at high µs, so its own p99 is high while pooled with an interval of
// flat(low, 1) its p99 is low.
func tailed(low, high int64) *hdrhistogram.Histogram {
	h := hdrhistogram.New(1, 60_000_000, 3)
	_ = h.RecordValues(low, 98)
	_ = h.RecordValues(high, 2)
	return h
}

// simServer is a simulated server whose p99 is a known function of the
// offered rate, base / (1 − rate/capacity), as a single queue's tail
// grows, without noise. At or above capacity the generator falls behind
// and the step does not count.
type simServer struct {
	base     time.Duration
	capacity float64
	calls    int
}

func (s *simServer) p99(rate float64) time.Duration {
	return time.Duration(float64(s.base) / (1 - rate/s.capacity))
}

func (s *simServer) Measure(rate float64, _ StepKind) (Step, error) {
	s.calls++
	if rate >= s.capacity {
		return Step{Reason: "generator fell behind its schedule"}, nil
	}
	p := s.p99(rate)
	return Step{P99: p, Pass: true, Intervals: flat(p.Microseconds(), 3)}, nil
}

// trueRate is the rate at which the simulated p99 equals target.
func (s *simServer) trueRate(target time.Duration) float64 {
	return s.capacity * (1 - float64(s.base)/float64(target))
}

func TestDecide(t *testing.T) {
	target := time.Millisecond
	p := func(us, lo, hi int64) results.Percentile {
		return results.Percentile{Q: 99, Us: us, LoUs: lo, HiUs: hi}
	}
	tests := []struct {
		name        string
		p           results.Percentile
		runs        int
		want        Verdict
		close       bool
		description string
	}{
		{"below", p(700, 600, 900), 1, Meets, false, "upper end below target"},
		{"upper end at target", p(800, 600, 1000), 1, Meets, false, "≤ target meets"},
		{"above", p(1300, 1100, 1600), 1, Misses, false, "lower end above target"},
		{"lower end at target", p(1100, 1000, 1200), 1, Again, false, "the target is inside"},
		{"straddles", p(900, 700, 1300), 1, Again, false, "measure again"},
		{"straddles, second run", p(900, 700, 1300), 2, Again, false, "measure again"},
		{"straddles at the last run, below", p(900, 700, 1300), 3, Meets, true, "point decides"},
		{"straddles at the last run, at target", p(1000, 700, 1300), 3, Meets, true, "point decides"},
		{"straddles at the last run, above", p(1001, 700, 1300), 3, Misses, true, "point decides"},
		{"past the last run", p(1200, 700, 1300), 5, Misses, true, "point decides"},
	}
	for _, tc := range tests {
		v, c := Decide(tc.p, target, tc.runs, 3)
		if v != tc.want || c != tc.close {
			t.Errorf("%s (%s): %v close %v, want %v close %v", tc.name, tc.description, v, c, tc.want, tc.close)
		}
	}
}

// TestSLOSearchStraddling: a rate whose interval holds the target is
// measured again, its runs pooled, at most MaxRuns times; then the pooled
// p99 decides and the verdict is close.
func TestSLOSearchStraddling(t *testing.T) {
	// Each run: one interval at 800 µs, one whose own p99 is 1,200 µs.
	// Any two pooled have a p99 of 800 µs, but resampling can draw the
	// tailed one twice: the interval is 800–1,200 µs, around 1 ms.
	runs := map[float64]int{}
	m := MeasureFunc(func(rate float64, _ StepKind) (Step, error) {
		runs[rate]++
		if rate > 1000 {
			return Step{P99: 5 * time.Millisecond, Pass: true, Intervals: flat(5000, 2)}, nil
		}
		return Step{P99: 800 * time.Microsecond, Pass: true, Intervals: []*hdrhistogram.Histogram{flat(800, 1)[0], tailed(800, 1200)}}, nil
	})
	var seen []Step
	s := SLOSearch{Target: time.Millisecond, Start: 1000, MaxRate: 1000, OnStep: func(st Step) { seen = append(seen, st) }}
	res, err := s.Run(m)
	if err != nil {
		t.Fatal(err)
	}
	if runs[1000] != DefaultSLOMaxRuns || len(res.Steps) != DefaultSLOMaxRuns || len(seen) != len(res.Steps) {
		t.Fatalf("%d runs at 1000 req/s, %d steps, %d seen; want %d", runs[1000], len(res.Steps), len(seen), DefaultSLOMaxRuns)
	}
	for i, st := range res.Steps {
		want := Again
		if i == len(res.Steps)-1 {
			want = Meets
		}
		if st.Verdict != want || st.Pooled.Rounds != i+1 || st.Pooled.LoUs > 1000 || st.Pooled.HiUs <= 1000 {
			t.Errorf("run %d: %v, pooled %+v; want %v over %d rounds straddling 1000 µs", i+1, st.Verdict, st.Pooled, want, i+1)
		}
	}
	if !res.Met || !res.Close || res.MaxRate != 1000 || res.P99AtMax.Us != 800 || res.P99AtMax.Rounds != 3 {
		t.Fatalf("%+v", res)
	}
	if !strings.Contains(res.Note, "p99 800 µs (95% interval 800–1200 µs, 3 runs), close") {
		t.Errorf("note %q", res.Note)
	}

	// The same where the pool's p99 is above the target: 1,000 req/s
	// misses after three runs, and the search halves.
	clear(runs)
	m = MeasureFunc(func(rate float64, _ StepKind) (Step, error) {
		runs[rate]++
		if rate < 1000 {
			return Step{P99: 500 * time.Microsecond, Pass: true, Intervals: flat(500, 3)}, nil
		}
		return Step{P99: 1200 * time.Microsecond, Pass: true, Intervals: []*hdrhistogram.Histogram{flat(800, 1)[0], flat(1200, 1)[0]}}, nil
	})
	res, err = (&SLOSearch{Target: time.Millisecond, Start: 1000}).Run(m)
	if err != nil {
		t.Fatal(err)
	}
	if runs[1000] != 3 || res.BracketHigh != 1000 || res.BracketLow >= 1000 || !res.Met {
		t.Errorf("runs %v, %+v", runs, res)
	}
}

// TestSLOSearchDecisive: a run far from the target decides alone; no
// rate is measured twice except the bracket's ends, confirmed.
func TestSLOSearchDecisive(t *testing.T) {
	tests := []struct {
		name   string
		start  float64
		target time.Duration
	}{
		{"grow from low", 1000, 2 * time.Millisecond},
		{"shrink from high", 45_000, 2 * time.Millisecond},
		{"tight target", 20_000, 300 * time.Microsecond},
		{"target near capacity", 1000, 50 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := &simServer{base: 200 * time.Microsecond, capacity: 50_000}
			s := SLOSearch{Target: tc.target, Start: tc.start}
			res, err := s.Run(sim)
			if err != nil {
				t.Fatal(err)
			}
			truth := sim.trueRate(tc.target)
			if !res.Met || res.BracketLow > truth || res.BracketHigh < truth {
				t.Fatalf("bracket [%g, %g] does not hold the true answer %g: %s", res.BracketLow, res.BracketHigh, truth, res.Note)
			}
			if w := (res.BracketHigh - res.BracketLow) / res.BracketLow; w > DefaultSLOTolerance || res.MaxRate != res.BracketLow {
				t.Errorf("bracket [%g, %g] wider than %g, or answer %g not its low end", res.BracketLow, res.BracketHigh, DefaultSLOTolerance, res.MaxRate)
			}
			if res.Close || res.P99AtMax.Rounds != 2 || res.P99AtMax.Us > tc.target.Microseconds() {
				t.Errorf("answer's p99 %+v, close %v: want two runs within target", res.P99AtMax, res.Close)
			}
			// Doubling from start to the bracket, bisecting a 2× bracket to 2%
			// (6 halvings), and the confirmations of its ends.
			grow := int(math.Ceil(math.Abs(math.Log2(truth/tc.start)))) + 1
			if n := len(res.Steps); n > 1+grow+6+2 || n > s.MaxSteps() || n != sim.calls {
				t.Errorf("%d steps (%d calls), want at most %d", n, sim.calls, 1+grow+6+2)
			}
			var confirmed []float64
			for _, st := range res.Steps {
				if st.Kind == Confirmation {
					confirmed = append(confirmed, st.Rate)
				}
			}
			// A high end where the run did not count (at capacity) is not
			// confirmed: the rate failed, it did not just miss.
			want := []float64{res.BracketLow, res.BracketHigh}
			if res.BracketHigh >= sim.capacity {
				want = want[:1]
			}
			if !slices.Equal(confirmed, want) {
				t.Errorf("confirmed %v, want %v", confirmed, want)
			}
		})
	}
}

// TestSLOSearchSeeded runs 50 searches, each with its own seed, against
// a simulated server whose tail is as noisy from run to run as a Go
// server's, and counts the answers within ±15% of the curve's crossing.
// These 50 seeds give 45; a search that decides each step on one run's
// p99 and steps down after a failed confirmation gives 34.
func TestSLOSearchSeeded(t *testing.T) {
	target := 2 * time.Millisecond
	const searches = 50
	within, worst := 0, 0
	var answers []float64
	for seed := range uint64(searches) {
		sim := burstyServer(seed)
		truth := sim.crossing(target)
		s := SLOSearch{Target: target, Start: 15_000, MinRate: 100}
		res, err := s.Run(sim)
		if err != nil {
			t.Fatal(err)
		}
		worst = max(worst, len(res.Steps))
		if len(res.Steps) > s.MaxSteps() || len(res.Steps) != sim.runs {
			t.Errorf("seed %d: %d steps, %d runs, budget %d", seed, len(res.Steps), sim.runs, s.MaxSteps())
		}
		answers = append(answers, res.MaxRate)
		if res.Met && math.Abs(res.MaxRate/truth-1) <= 0.15 {
			within++
		}
		if res.Met && (res.BracketHigh != 0 && res.BracketHigh <= res.MaxRate) {
			t.Errorf("seed %d: bracket [%g, %g] around answer %g", seed, res.BracketLow, res.BracketHigh, res.MaxRate)
		}
	}
	t.Logf("%d of %d answers within ±15%% of %g req/s; most runs in a search %d", within, searches, burstyServer(0).crossing(target), worst)
	if within < searches*86/100 {
		t.Errorf("%d of %d answers within ±15%%, want at least 86%%: %v", within, searches, answers)
	}
}

// TestSLOSearchConfirmationFallsBack: the answer's second run misses, so
// the pool misses; the answer becomes the bracket's high end and the
// search answers below it, at the highest rate that had met.
func TestSLOSearchConfirmationFallsBack(t *testing.T) {
	var answer float64
	m := MeasureFunc(func(rate float64, kind StepKind) (Step, error) {
		if rate > 10_000 {
			return Step{P99: 5 * time.Millisecond, Pass: true, Intervals: flat(5000, 3)}, nil
		}
		if kind == Confirmation && answer == 0 {
			answer = rate
			return Step{P99: 5 * time.Millisecond, Pass: true, Intervals: flat(5000, 6)}, nil
		}
		return Step{P99: 500 * time.Microsecond, Pass: true, Intervals: flat(500, 3)}, nil
	})
	res, err := (&SLOSearch{Target: time.Millisecond, Start: 1000}).Run(m)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Met || res.BracketHigh != answer || res.MaxRate >= answer || res.MaxRate < 0.98*answer-1 || res.P99AtMax.Rounds != 2 {
		t.Fatalf("%+v (failed confirmation at %g)", res, answer)
	}
	if !strings.Contains(res.Note, fmt.Sprintf("confirmation at %s req/s missed (p99 ", formatRate(answer))) {
		t.Errorf("note %q", res.Note)
	}
}

// TestSLOSearchConfirmationsBounded: confirmations that always miss end
// after MaxConfirm, and the search answers at a rate it could not
// confirm, saying so.
func TestSLOSearchConfirmationsBounded(t *testing.T) {
	m := MeasureFunc(func(rate float64, kind StepKind) (Step, error) {
		if kind == Confirmation {
			return Step{Reason: "generator fell behind its schedule"}, nil
		}
		return Step{P99: 500 * time.Microsecond, Pass: true, Intervals: flat(500, 3)}, nil
	})
	res, err := (&SLOSearch{Target: time.Millisecond, Start: 1000, MinRate: 100, MaxRate: 1000}).Run(m)
	if err != nil {
		t.Fatal(err)
	}
	var confirms []float64
	for _, st := range res.Steps {
		if st.Kind == Confirmation {
			confirms = append(confirms, st.Rate)
		}
	}
	// 1000 met at the maximum; its confirmation fails, so 500 (halving)
	// meets, bisection reaches 985, whose confirmation fails; 969 and 954
	// fail theirs, and 938 is left unconfirmed.
	if !slices.Equal(confirms, []float64{1000, 985, 969, 954}) || len(confirms) != DefaultSLOMaxConfirm {
		t.Fatalf("confirmations at %v", confirms)
	}
	if !res.Met || res.MaxRate != 938 || res.BracketHigh != 954 || !strings.HasSuffix(res.Note, "1 run), not confirmed") ||
		strings.Count(res.Note, "(generator fell behind its schedule)") != 4 {
		t.Errorf("%+v", res)
	}
}

// TestSLOSearchRetriesInconclusive: a noisy run is measured again, so a
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
	truth := sim.trueRate(s.Target)
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
	if err != nil || res.Met || len(res.Steps) != 3*(1+DefaultSLORetries) || !strings.Contains(res.Note, "not met even at 100 req/s (noisy)") {
		t.Errorf("always noisy: %v, met %v, %d steps, %q", err, res.Met, len(res.Steps), res.Note)
	}
}

// TestSLOSearchBudget: a search never makes more runs than its budget,
// and answers with what it found, saying it stopped.
func TestSLOSearchBudget(t *testing.T) {
	sim := &simServer{base: 200 * time.Microsecond, capacity: 50_000}
	s := SLOSearch{Target: 2 * time.Millisecond, Start: 1000, Budget: 5}
	res, err := s.Run(sim)
	if err != nil {
		t.Fatal(err)
	}
	// 1000, 2000, 4000, 8000, 16000: all met, the budget is spent.
	if sim.calls != 5 || s.MaxSteps() != 5 || !res.Met || res.MaxRate != 16_000 || res.BracketHigh != 0 ||
		!strings.Contains(res.Note, "stopped after 5 runs, the budget") || !strings.Contains(res.Note, "not confirmed") {
		t.Errorf("%d calls: %+v", sim.calls, res)
	}
	if (&SLOSearch{}).MaxSteps() != DefaultSLOBudget {
		t.Errorf("default MaxSteps %d", (&SLOSearch{}).MaxSteps())
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
	if res.BracketHigh != 100 || !strings.Contains(res.Note, "not met even at 100 req/s (p99 2004 µs (95% interval 2004–2004 µs, 1 run) > 1ms)") {
		t.Errorf("bracket high %g, note %q", res.BracketHigh, res.Note)
	}
	// 10000 → 5000 → … → 100 halving: 8 steps.
	if len(res.Steps) != 8 {
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
	if !res.Met || res.MaxRate != 5000 || res.BracketHigh != 0 || res.P99AtMax.Rounds != 2 {
		t.Errorf("%+v", res)
	}
}

// TestSLOSearchNoIntervals: a run that passes without interval
// histograms cannot be judged and does not count.
func TestSLOSearchNoIntervals(t *testing.T) {
	m := MeasureFunc(func(float64, StepKind) (Step, error) { return Step{P99: time.Microsecond, Pass: true}, nil })
	res, err := (&SLOSearch{Target: time.Millisecond, Start: 200, MinRate: 100}).Run(m)
	if err != nil || res.Met || !strings.Contains(res.Note, "not met even at 100 req/s (no interval histograms)") {
		t.Errorf("%v: %+v", err, res)
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
		return Step{P99: time.Microsecond, Pass: true, Intervals: flat(1, 3)}, nil
	})
	s := SLOSearch{Target: time.Millisecond, Start: 1000}
	res, err := s.Run(m)
	if !errors.Is(err, stop) || len(res.Steps) != 2 || res.MaxRate != 2000 {
		t.Errorf("err %v, %d steps, answer %g", err, len(res.Steps), res.MaxRate)
	}
	if err := (&SLOSearch{Start: 10}).Validate(); err == nil {
		t.Error("no target accepted")
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
	// Search steps, then the answer's confirmation (retried), then the
	// bracket's high end confirmed.
	n := len(kinds)
	if n < 4 || countKind(kinds[n-3:], Confirmation) != 3 || countKind(kinds[:n-3], Confirmation) != 0 {
		t.Fatalf("kinds %v: want search steps, then three confirmations", kinds)
	}
	for i, st := range res.Steps {
		if st.Kind != kinds[i] {
			t.Errorf("step %d kind %v, measured as %v", i, st.Kind, kinds[i])
		}
	}
	if a, b, c := res.Steps[n-3], res.Steps[n-2], res.Steps[n-1]; a.Rate != res.MaxRate || b.Rate != res.MaxRate ||
		a.Verdict != Again || !a.Inconclusive || b.Verdict != Meets || c.Rate != res.BracketHigh {
		t.Errorf("last steps %+v %+v %+v; answer %g", a, b, c, res.MaxRate)
	}
}

func countKind(ks []StepKind, k StepKind) int {
	n := 0
	for _, x := range ks {
		if x == k {
			n++
		}
	}
	return n
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
		{"backlog", func(r *results.Row) { r.Status = results.StatusBacklog }, true, false, ""},
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

// TestSLOSearchUndecided: over a plateau of rates whose p99 intervals hold
// the target, the result names the range the evidence left undecided;
// a server whose p99 is decided at every rate has none.
func TestSLOSearchUndecided(t *testing.T) {
	m := MeasureFunc(func(rate float64, _ StepKind) (Step, error) {
		switch {
		case rate < 1000:
			return Step{P99: 500 * time.Microsecond, Pass: true, Intervals: flat(500, 3)}, nil
		case rate <= 1500: // the interval of any pool holds 1 ms
			return Step{P99: time.Millisecond, Pass: true, Intervals: []*hdrhistogram.Histogram{flat(800, 1)[0], tailed(800, 1200)}}, nil
		}
		return Step{P99: 5 * time.Millisecond, Pass: true, Intervals: flat(5000, 3)}, nil
	})
	res, err := (&SLOSearch{Target: time.Millisecond, Start: 700}).Run(m)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := res.UndecidedLow, res.UndecidedHigh
	if lo < 1000 || hi > 1500 || lo > hi {
		t.Fatalf("undecided %g–%g, want within the plateau 1000–1500; %s", lo, hi, res.Note)
	}
	for _, st := range res.Steps {
		if st.Rate >= 1000 && st.Rate <= 1500 && (st.Rate < lo || st.Rate > hi) {
			t.Errorf("plateau rate %g outside the undecided range %g–%g", st.Rate, lo, hi)
		}
	}
	sharp, err := (&SLOSearch{Target: 2 * time.Millisecond, Start: 1000}).Run(&simServer{base: 200 * time.Microsecond, capacity: 50_000})
	if err != nil {
		t.Fatal(err)
	}
	if sharp.UndecidedLow != 0 || sharp.UndecidedHigh != 0 {
		t.Errorf("a server decided at every rate has undecided range %g–%g", sharp.UndecidedLow, sharp.UndecidedHigh)
	}
}

package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/asyncbench/asyncbench/results"
)

// Step is one measurement of an SLO search: an open-loop run at Rate.
// Pass is true when the run met every condition but the latency target:
// it completed with zero errors, the generator kept its schedule and the
// host was quiet. Reason says why not, when Pass is false.
type Step struct {
	Rate float64       // offered load, requests/s
	P99  time.Duration // corrected p99; 0 when not measured
	Pass bool          // the run counts (see above); Meets adds the target
	// Inconclusive marks a run that says nothing about the server (the
	// host was noisy): the search measures the rate again, at most
	// Retries times, before taking it as not meeting the target.
	Inconclusive bool
	Reason       string
	Kind         StepKind // what the search measured the rate for
}

// Meets reports whether the step counts and its p99 is within target.
func (s Step) Meets(target time.Duration) bool {
	return s.Pass && s.P99 > 0 && s.P99 <= target
}

// StepKind says what a step is for. A confirmation re-measures the
// search's answer; a Measurer may measure it longer than a search step.
type StepKind int

// Kinds of steps.
const (
	SearchStep   StepKind = iota // the start, a doubling, halving or bisection
	Confirmation                 // a run of the answer that must meet the target again
)

// Measurer runs one open-loop step of the given kind. Measure returns an
// error only when the search must stop (interrupted, results not
// writable); a run that fails is a Step with Pass false. Implementations
// need not be safe for concurrent use: a search calls Measure from one
// goroutine.
type Measurer interface {
	Measure(rate float64, kind StepKind) (Step, error)
}

// MeasureFunc adapts a function to Measurer.
type MeasureFunc func(rate float64, kind StepKind) (Step, error)

// Measure calls f(rate, kind).
func (f MeasureFunc) Measure(rate float64, kind StepKind) (Step, error) { return f(rate, kind) }

var _ Measurer = MeasureFunc(nil)

// SLOSearch finds the highest open-loop rate whose corrected p99 stays at
// or below Target. From Start it doubles the rate until the target breaks
// (or halves it until the target holds, down to MinRate), bisects the
// bracket [highest rate that met, lowest that did not] until it is within
// Tolerance of its low end, and runs the answer once more (a Confirmation)
// to confirm it. A confirmation that fails steps the answer down and
// confirms again, at most MaxConfirm confirmations in all: the first step
// down is StepDown, each further one twice the last, at most 50%, and
// none goes below MinRate. Rates are whole requests per second.
//
// The number of steps is bounded: at most GrowSteps doublings or halvings,
// BisectSteps bisections and MaxConfirm confirmations (see MaxSteps).
type SLOSearch struct {
	Target    time.Duration
	Start     float64 // first rate tried, > 0
	MinRate   float64 // lowest rate tried while halving; default 1
	MaxRate   float64 // highest rate tried while doubling; default MaxRate
	Tolerance float64 // bracket width ÷ low end at which bisection stops; default 0.02
	// Bounds; zero = the defaults below.
	GrowSteps   int
	BisectSteps int
	MaxConfirm  int
	StepDown    float64 // share by which the first failed confirmation lowers the answer; default 0.05
	Retries     int     // re-measurements of an inconclusive step; 0 = DefaultSLORetries, <0 = none
}

// Defaults of SLOSearch.
const (
	DefaultSLOTolerance   = 0.02
	DefaultSLOGrowSteps   = 12 // ×2 twelve times spans 4096×
	DefaultSLOBisectSteps = 10
	DefaultSLOMaxConfirm  = 5 // step-downs of 5, 10, 20, 40% reach 0.41× the first answer
	DefaultSLOStepDown    = 0.05
	DefaultSLORetries     = 2
)

// SLOResult is the outcome of a search.
type SLOResult struct {
	Met      bool    // some rate met the target and was confirmed
	MaxRate  float64 // the answer; 0 when !Met
	P99AtMax time.Duration
	// BracketLow is the highest rate that met the target (0: none);
	// BracketHigh the lowest rate above it that did not (0: none, the
	// search stopped at MaxRate or after GrowSteps doublings).
	BracketLow, BracketHigh float64
	Steps                   []Step
	Note                    string // why the target was not met, or how the answer was confirmed
}

func (s *SLOSearch) defaults() SLOSearch {
	d := *s
	if d.MinRate <= 0 {
		d.MinRate = 1
	}
	if d.MaxRate <= 0 {
		d.MaxRate = MaxRate
	}
	if d.Tolerance <= 0 {
		d.Tolerance = DefaultSLOTolerance
	}
	if d.GrowSteps <= 0 {
		d.GrowSteps = DefaultSLOGrowSteps
	}
	if d.BisectSteps <= 0 {
		d.BisectSteps = DefaultSLOBisectSteps
	}
	if d.MaxConfirm <= 0 {
		d.MaxConfirm = DefaultSLOMaxConfirm
	}
	if d.StepDown <= 0 || d.StepDown >= 1 {
		d.StepDown = DefaultSLOStepDown
	}
	switch {
	case d.Retries == 0:
		d.Retries = DefaultSLORetries
	case d.Retries < 0:
		d.Retries = 0
	}
	return d
}

// MaxSteps is the most measurements Run makes: one start, GrowSteps
// doublings or halvings, BisectSteps bisections and MaxConfirm
// confirmations (however far they step down), each measured up to
// 1 + Retries times.
func (s *SLOSearch) MaxSteps() int {
	d := s.defaults()
	return (1 + d.GrowSteps + d.BisectSteps + d.MaxConfirm) * (1 + d.Retries)
}

// Validate checks the search parameters.
func (s *SLOSearch) Validate() error {
	d := s.defaults()
	switch {
	case s.Target <= 0:
		return errors.New("slo: the p99 target must be positive")
	case math.IsNaN(s.Start) || s.Start < d.MinRate || s.Start > d.MaxRate:
		return fmt.Errorf("slo: start rate %g must be within %g to %g req/s", s.Start, d.MinRate, d.MaxRate)
	case d.MinRate > d.MaxRate:
		return fmt.Errorf("slo: minimum rate %g above maximum %g", d.MinRate, d.MaxRate)
	}
	return nil
}

// Run searches with m. It returns the result so far together with the
// error of a Measure call that stopped it.
func (s *SLOSearch) Run(m Measurer) (SLOResult, error) {
	if err := s.Validate(); err != nil {
		return SLOResult{}, err
	}
	r := &sloRun{d: s.defaults(), m: m}
	b, last, err := r.bracket()
	if err != nil {
		return r.res, err
	}
	if b.low == 0 {
		r.res.BracketHigh = b.high
		r.res.Note = fmt.Sprintf("target p99 ≤ %v not met even at %s req/s (%s)", r.d.Target, formatRate(b.high), last.failure(r.d.Target))
		return r.res, nil
	}
	if err := r.bisect(&b); err != nil {
		return r.res, err
	}
	r.res.BracketLow, r.res.BracketHigh = b.low, b.high
	err = r.confirm(b.low, b.lowP99)
	return r.res, err
}

// sloRun is one search in progress: its parameters with the defaults
// filled in, its measurer and the result so far.
type sloRun struct {
	d   SLOSearch
	m   Measurer
	res SLOResult
}

// sloBracket is a search's bracket: low met the target, high did not;
// 0 = not found yet. lowP99 is the p99 measured at low.
type sloBracket struct {
	low, high float64
	lowP99    time.Duration
}

// measure measures rate as a step of kind, again while the step is
// inconclusive, at most Retries more times, and records every step in the
// result.
func (r *sloRun) measure(rate float64, kind StepKind) (Step, error) {
	for try := 0; ; try++ {
		st, err := r.m.Measure(rate, kind)
		if err != nil {
			return st, err
		}
		st.Rate, st.Kind = rate, kind
		r.res.Steps = append(r.res.Steps, st)
		if !st.Inconclusive || try >= r.d.Retries {
			return st, nil
		}
	}
}

// bracket measures the start rate, then doubles it until the target
// breaks or halves it until the target holds. It returns the bracket found
// and the last step measured.
func (r *sloRun) bracket() (sloBracket, Step, error) {
	var b sloBracket
	rate := math.Round(r.d.Start)
	st, err := r.measure(rate, SearchStep)
	if err != nil {
		return b, st, err
	}
	if st.Meets(r.d.Target) {
		b.low, b.lowP99 = rate, st.P99
		return r.growUp(b, rate, st)
	}
	b.high = rate
	return r.growDown(b, rate, st)
}

// growUp doubles rate, at most GrowSteps times and up to MaxRate, until a
// step misses the target, raising b's low end on every step that meets
// it. st is the step at rate; growUp returns the last step measured.
func (r *sloRun) growUp(b sloBracket, rate float64, st Step) (sloBracket, Step, error) {
	for range r.d.GrowSteps {
		next := math.Min(math.Round(rate*2), r.d.MaxRate)
		if next <= rate {
			break
		}
		rate = next
		var err error
		if st, err = r.measure(rate, SearchStep); err != nil {
			return b, st, err
		}
		if !st.Meets(r.d.Target) {
			b.high = rate
			break
		}
		b.low, b.lowP99 = rate, st.P99
	}
	return b, st, nil
}

// growDown halves rate, at most GrowSteps times and down to MinRate, until
// a step meets the target, lowering b's high end on every step that
// misses it. st is the step at rate; growDown returns the last step
// measured.
func (r *sloRun) growDown(b sloBracket, rate float64, st Step) (sloBracket, Step, error) {
	for range r.d.GrowSteps {
		next := math.Max(math.Round(rate/2), r.d.MinRate)
		if next >= rate {
			break
		}
		rate = next
		var err error
		if st, err = r.measure(rate, SearchStep); err != nil {
			return b, st, err
		}
		if st.Meets(r.d.Target) {
			b.low, b.lowP99 = rate, st.P99
			break
		}
		b.high = rate
	}
	return b, st, nil
}

// bisect narrows b, at most BisectSteps times, until it has no high end or
// is within Tolerance of its low end.
func (r *sloRun) bisect(b *sloBracket) error {
	for range r.d.BisectSteps {
		if b.high == 0 || (b.high-b.low) <= r.d.Tolerance*b.low {
			break
		}
		mid := math.Round((b.low + b.high) / 2)
		if mid <= b.low || mid >= b.high {
			break
		}
		st, err := r.measure(mid, SearchStep)
		if err != nil {
			return err
		}
		if st.Meets(r.d.Target) {
			b.low, b.lowP99 = mid, st.P99
		} else {
			b.high = mid
		}
	}
	return nil
}

// confirm measures answer once more, which must meet the target a second
// time; each failure steps the answer down (see stepDown), at most
// MaxConfirm confirmations in all. lowP99 is the p99 first measured at
// answer. confirm sets the result's answer and note.
func (r *sloRun) confirm(answer float64, lowP99 time.Duration) error {
	d := r.d
	var notes []string
	for i := range d.MaxConfirm {
		st, err := r.measure(answer, Confirmation)
		if err != nil {
			return err
		}
		if st.Meets(d.Target) {
			r.res.Met, r.res.MaxRate, r.res.P99AtMax = true, answer, max(lowP99, st.P99)
			if i == 0 {
				r.res.Note = "confirmed by a second run"
			} else {
				r.res.Note = joinReason(append(notes, fmt.Sprintf("confirmed at %s req/s", formatRate(answer)))...)
			}
			return nil
		}
		note := fmt.Sprintf("confirmation at %s req/s failed (%s)", formatRate(answer), st.failure(d.Target))
		next := d.stepDown(answer, i)
		if i == d.MaxConfirm-1 || next >= answer {
			notes = append(notes, note)
			break
		}
		notes = append(notes, fmt.Sprintf("%s, stepped down to %s req/s", note, formatRate(next)))
		lowP99 = 0
		answer = next
	}
	r.res.Note = joinReason(append(notes, "no rate confirmed")...)
	return nil
}

// maxStepDown caps a step down: each keeps at least half the rate.
const maxStepDown = 0.5

// stepDown is the rate to confirm after the i-th failed confirmation
// (from 0) at rate: rate lowered by StepDown·2^i, at most maxStepDown, and
// not below MinRate.
func (d *SLOSearch) stepDown(rate float64, i int) float64 {
	share := math.Min(d.StepDown*math.Pow(2, float64(i)), maxStepDown)
	return math.Max(math.Round(rate*(1-share)), d.MinRate)
}

// failure says why a step did not meet the target.
func (s Step) failure(target time.Duration) string {
	switch {
	case !s.Pass && s.Reason != "":
		return s.Reason
	case !s.Pass:
		return "the run did not count"
	case s.P99 <= 0:
		return "no p99 measured"
	}
	return fmt.Sprintf("p99 %v > %v", s.P99, target)
}

// FormatRate writes a rate as cell keys do: the shortest exact decimal.
func FormatRate(r float64) string { return formatRate(r) }

// RunCell measures one cell outside a plan's expansion (bench slo builds
// its cells step by step) and writes its row to w, a mix's endpoint rows
// first. cfg must validate as for Run; its Skip is ignored. When ctx ends
// mid-cell nothing is written and RunCell returns ErrInterrupted.
func RunCell(ctx context.Context, cfg Config, c Cell, w RowWriter) (results.Row, error) {
	if err := cfg.Validate(); err != nil {
		return results.Row{}, fmt.Errorf("run: %w", err)
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = DefaultStopGrace
	}
	if cfg.Probe == nil {
		cfg.Probe = NewHostProbe()
	}
	if ctx.Err() != nil {
		return results.Row{}, ErrInterrupted
	}
	row, eps, interrupted := runCell(ctx, &cfg, c)
	if interrupted {
		return row, ErrInterrupted
	}
	if err := writeEndpoints(cfg.Endpoints, eps); err != nil {
		return row, fmt.Errorf("run: %w", err)
	}
	if err := w.Write(row); err != nil {
		return row, fmt.Errorf("run: %w", err)
	}
	return row, nil
}

// StepOf judges a measured open-loop row for an SLO search: it counts when
// its status is ok, it had no errors at all and the server kept up with
// the offered rate (results.Row.FellBehind): otherwise a short step could
// meet a target the server cannot hold.
func StepOf(r results.Row) Step {
	st := Step{Rate: r.Rate, P99: time.Duration(r.P99Us) * time.Microsecond}
	switch {
	case !r.Status.Counts():
		st.Reason = joinReason(string(r.Status), r.Reason)
		st.Inconclusive = r.Status == results.StatusNoisy
	case r.Errors > 0:
		st.Reason = fmt.Sprintf("%d errors", r.Errors)
	case r.Saturated:
		st.Reason = "generator fell behind its schedule"
	case r.FellBehind():
		st.Reason = fmt.Sprintf("the server answered %s of the %s req/s offered: it fell behind, and its p99 grows with the window",
			formatRate(math.Round(r.RPS)), formatRate(r.Rate))
	default:
		st.Pass = true
	}
	return st
}

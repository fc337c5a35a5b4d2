package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncbench/asyncbench/results"
)

// Step is one run of an SLO search: an open-loop run at Rate. Pass is true
// when the run counts: it completed with zero errors, the generator kept
// its schedule, the server kept up and the host was quiet (see StepOf).
// Reason says why not, when Pass is false. A run that passes carries its
// interval histograms; the search pools them with the other runs at the
// same rate and judges the target on the pooled p99 and its interval.
type Step struct {
	Rate float64       // offered load, requests/s
	P99  time.Duration // the run's own corrected p99; 0 when not measured
	Pass bool          // the run counts (see above)
	// Inconclusive marks a run that says nothing about the server (the
	// host was noisy): the search measures the rate again, at most
	// Retries times, before taking it as not meeting the target.
	Inconclusive bool
	Reason       string
	Kind         StepKind // what the search measured the rate for
	// Intervals are the run's histograms of corrected latency in µs, one
	// per interval of about 1 s of its measured window (its .hlog). A run
	// that passes without any is taken as one that did not count.
	Intervals []*hdrhistogram.Histogram

	// Set by the search once it has judged the run: the p99 over every
	// run at Rate that counted so far, with its 95% interval (zero when
	// this run did not count), what that says, and whether it was decided
	// by the point estimate alone (see Decide).
	Pooled  results.Percentile
	Verdict Verdict
	Close   bool
}

// StepKind says what a step is for. A confirmation re-measures an end of
// the final bracket that rests on one run; a Measurer may measure it
// longer than a search step.
type StepKind int

// Kinds of steps.
const (
	SearchStep   StepKind = iota // the start, a doubling, halving, bisection, or a run again at a rate
	Confirmation                 // the second run at an end of the final bracket
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
// (or halves it until the target holds, down to MinRate), then bisects the
// bracket [highest rate that met, lowest that did not] until it is within
// Tolerance of its low end. Rates are whole requests per second.
//
// Each rate is judged on evidence, not on one run's p99: the interval
// histograms of every run at the rate that counted are pooled (one round
// per run, each a fresh server) and the p99 of the pool with its 95%
// interval (results.Tails, a two-stage bootstrap) goes to Decide. While
// the interval holds the target the rate is measured again, at most
// MaxRuns runs; then the pooled p99 decides and the verdict is marked
// close. A run that does not count (errors, generator behind, server
// behind) makes the rate miss at once.
//
// The answer is the highest rate that met, the bracket's low end. One
// run's intervals cannot show how one server process differs from the
// next, so each end of the final bracket that rests on one run is
// measured once more (the first of these runs a Confirmation), pooled and
// judged again by the same rule. A low end that misses becomes the high
// end, and the answer falls back to the highest rate below it that met
// (halving when none did); a high end that meets becomes the low end and
// the search goes on above it; then bisection resumes. At most MaxConfirm
// confirmations in all.
//
// Every run counts against Budget, retries of noisy runs included; the
// search stops there with the answer found so far.
type SLOSearch struct {
	Target    time.Duration
	Start     float64 // first rate tried, > 0
	MinRate   float64 // lowest rate tried while halving; default 1
	MaxRate   float64 // highest rate tried while doubling; default MaxRate
	Tolerance float64 // bracket width ÷ low end at which bisection stops; default 0.02
	// Bounds; zero = the defaults below.
	GrowSteps   int // doublings or halvings in a row
	BisectSteps int // bisections in a row
	MaxRuns     int // runs at one rate while its p99's interval holds the target
	MaxConfirm  int // confirmations of the final bracket's ends
	Retries     int // re-measurements of an inconclusive run; 0 = DefaultSLORetries, <0 = none
	Budget      int // runs in all (see MaxSteps)
	// OnStep, when not nil, is called with every run once it is judged.
	OnStep func(Step)
}

// Defaults of SLOSearch.
//
// DefaultSLOBudget keeps one backend's search with bench slo's defaults
// within 5 minutes: a run is its 3 s window + 1 s warm-up + about 1 s to
// start and stop the server, 5 s; a confirmation's first run has a 6 s
// window, 8 s. At most MaxConfirm × (1 + Retries) = 12 runs are that
// long (4 confirmations, each retried twice if noisy), so the capacity
// probe (5 s) + 36 × 5 s + 12 × 8 s = 281 s, about 4.7 minutes; without
// noisy retries 5 s + 44 × 5 s + 4 × 8 s = 257 s.
const (
	DefaultSLOTolerance   = 0.02
	DefaultSLOGrowSteps   = 12 // ×2 twelve times spans 4096×
	DefaultSLOBisectSteps = 10
	DefaultSLOMaxRuns     = 3
	DefaultSLOMaxConfirm  = 4
	DefaultSLORetries     = 2
	DefaultSLOBudget      = 48
)

// SLOResult is the outcome of a search.
type SLOResult struct {
	Met     bool    // some rate met the target
	MaxRate float64 // the answer; 0 when !Met
	// P99AtMax is the p99 pooled over the runs at MaxRate with its 95%
	// interval; its Rounds is the number of runs.
	P99AtMax results.Percentile
	// Close: MaxRate's interval still held the target after MaxRuns runs
	// and the pooled p99 alone decided that it met.
	Close bool
	// BracketLow is the highest rate that met the target (0: none);
	// BracketHigh the lowest rate above it that did not (0: none, the
	// search stopped at MaxRate or after GrowSteps doublings). The answer
	// is known to this resolution, no finer.
	BracketLow, BracketHigh float64
	// UndecidedLow–UndecidedHigh is where the evidence left the target
	// undecided: from the lowest rate judged that did not meet with its
	// interval under the target to the highest that did not miss with its
	// interval over it (both 0 when every rate was decided by its
	// interval). Where p99 stays near the target over a range of rates,
	// the answer falls anywhere in that range by chance; this is how wide
	// it is.
	UndecidedLow, UndecidedHigh float64
	Steps                       []Step
	Note                        string // the answer's evidence and confirmations, or why the target was not met
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
	if d.MaxRuns <= 0 {
		d.MaxRuns = DefaultSLOMaxRuns
	}
	if d.MaxConfirm <= 0 {
		d.MaxConfirm = DefaultSLOMaxConfirm
	}
	switch {
	case d.Retries == 0:
		d.Retries = DefaultSLORetries
	case d.Retries < 0:
		d.Retries = 0
	}
	if d.Budget <= 0 {
		d.Budget = DefaultSLOBudget
	}
	return d
}

// MaxSteps is the most runs Run makes: Budget, retried runs included.
func (s *SLOSearch) MaxSteps() int { return s.defaults().Budget }

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

// errBudget stops a search whose runs reached its Budget.
var errBudget = errors.New("slo: run budget spent")

// Run searches with m. It returns the result so far together with the
// error of a Measure call that stopped it.
func (s *SLOSearch) Run(m Measurer) (SLOResult, error) {
	if err := s.Validate(); err != nil {
		return SLOResult{}, err
	}
	r := &sloRun{d: s.defaults(), m: m, ev: map[float64]*evidence{}}
	err := r.search()
	if errors.Is(err, errBudget) {
		r.notes = append(r.notes, fmt.Sprintf("stopped after %d runs, the budget", r.d.Budget))
		err = nil
	}
	r.finish()
	return r.res, err
}

// sloRun is one search in progress: its parameters with the defaults
// filled in, its measurer, the evidence per rate, the bracket and the
// result so far.
type sloRun struct {
	d     SLOSearch
	m     Measurer
	ev    map[float64]*evidence
	b     sloBracket
	runs  int      // runs measured, retries included
	notes []string // confirmations that failed, the budget
	res   SLOResult
}

// sloBracket is a search's bracket: low met the target, high did not;
// 0 = not found yet.
type sloBracket struct{ low, high float64 }

// search brackets the answer, bisects, and confirms each end of the
// bracket that rests on one run: a low end that misses when pooled with a
// second run becomes the high end, a high end that meets becomes the low
// end, and the search goes on from there.
func (r *sloRun) search() error {
	if err := r.bracket(); err != nil {
		return err
	}
	for confirms := 0; r.b.low > 0 && confirms < r.d.MaxConfirm; {
		if err := r.bisect(); err != nil {
			return err
		}
		if low := r.b.low; len(r.ev[low].rounds) == 1 {
			confirms++
			v, err := r.judge(low, Confirmation)
			if err != nil {
				return err
			}
			if v != Meets {
				r.notes = append(r.notes, fmt.Sprintf("confirmation at %s req/s missed (%s)", formatRate(low), r.ev[low].failure(r.d.Target)))
				r.b.high, r.b.low = low, r.highestMetBelow(low)
				if r.b.low == 0 {
					if err := r.growDown(low); err != nil {
						return err
					}
				}
				continue
			}
		}
		high := r.b.high
		if e := r.ev[high]; high == 0 || e.failed != "" || len(e.rounds) != 1 || confirms == r.d.MaxConfirm {
			return nil
		}
		confirms++
		v, err := r.judge(high, Confirmation)
		if err != nil || v != Meets {
			return err
		}
		r.notes = append(r.notes, fmt.Sprintf("%s req/s met on a second run (p99 %s)", formatRate(high), r.ev[high].describe()))
		r.b.low, r.b.high = high, r.lowestMissedAbove(high)
		if r.b.high == 0 {
			if err := r.growUp(high); err != nil {
				return err
			}
		}
	}
	return nil
}

// lowestMissedAbove is the lowest rate above rate that missed the target,
// 0 when none did.
func (r *sloRun) lowestMissedAbove(rate float64) float64 {
	best := 0.0
	for x, e := range r.ev {
		if x > rate && (best == 0 || x < best) && e.verdict == Misses {
			best = x
		}
	}
	return best
}

// highestMetBelow is the highest rate below rate that met the target, 0
// when none did.
func (r *sloRun) highestMetBelow(rate float64) float64 {
	best := 0.0
	for x, e := range r.ev {
		if x < rate && x > best && e.verdict == Meets {
			best = x
		}
	}
	return best
}

// measure runs rate as a step of kind, again while the run is
// inconclusive, at most Retries more times. Every run counts against the
// budget; inconclusive ones are recorded here, the last one by the caller.
func (r *sloRun) measure(rate float64, kind StepKind) (Step, error) {
	for try := 0; ; try++ {
		if r.runs >= r.d.Budget {
			return Step{}, errBudget
		}
		r.runs++
		st, err := r.m.Measure(rate, kind)
		if err != nil {
			return st, err
		}
		st.Rate, st.Kind = rate, kind
		if !st.Inconclusive || try >= r.d.Retries {
			return st, nil
		}
		st.Verdict = Again
		r.record(st)
	}
}

func (r *sloRun) record(st Step) {
	r.res.Steps = append(r.res.Steps, st)
	if r.d.OnStep != nil {
		r.d.OnStep(st)
	}
}

// judge decides whether rate meets the target. A rate already decided is
// not measured again unless kind is Confirmation; otherwise judge measures
// it, pools the run with the rate's earlier ones and decides (Decide),
// measuring again while the verdict is Again.
func (r *sloRun) judge(rate float64, kind StepKind) (Verdict, error) {
	e := r.ev[rate]
	if e == nil {
		e = &evidence{}
		r.ev[rate] = e
	} else if kind != Confirmation && e.verdict != Again {
		return e.verdict, nil
	}
	maxRuns := max(r.d.MaxRuns, len(e.rounds)+1)
	for ; ; kind = SearchStep {
		st, err := r.measure(rate, kind)
		if err != nil {
			return Again, err
		}
		r.pool(e, &st, maxRuns)
		r.record(st)
		if e.verdict != Again {
			return e.verdict, nil
		}
	}
}

// bracket measures the start rate, then doubles it until the target
// breaks or halves it until the target holds.
func (r *sloRun) bracket() error {
	rate := math.Round(r.d.Start)
	v, err := r.judge(rate, SearchStep)
	if err != nil {
		return err
	}
	if v == Meets {
		r.b.low = rate
		return r.growUp(rate)
	}
	r.b.high = rate
	return r.growDown(rate)
}

// growUp doubles rate, at most GrowSteps times and up to MaxRate, until a
// rate misses the target, raising the bracket's low end on every rate
// that meets it.
func (r *sloRun) growUp(rate float64) error {
	for range r.d.GrowSteps {
		next := math.Min(math.Round(rate*2), r.d.MaxRate)
		if next <= rate {
			break
		}
		rate = next
		v, err := r.judge(rate, SearchStep)
		if err != nil {
			return err
		}
		if v != Meets {
			r.b.high = rate
			break
		}
		r.b.low = rate
	}
	return nil
}

// growDown halves rate, at most GrowSteps times and down to MinRate, until
// a rate meets the target, lowering the bracket's high end on every rate
// that misses it.
func (r *sloRun) growDown(rate float64) error {
	for range r.d.GrowSteps {
		next := math.Max(math.Round(rate/2), r.d.MinRate)
		if next >= rate {
			break
		}
		rate = next
		v, err := r.judge(rate, SearchStep)
		if err != nil {
			return err
		}
		if v == Meets {
			r.b.low = rate
			break
		}
		r.b.high = rate
	}
	return nil
}

// bisect narrows the bracket, at most BisectSteps times, until it has no
// high end or is within Tolerance of its low end.
func (r *sloRun) bisect() error {
	for range r.d.BisectSteps {
		b := &r.b
		if b.high == 0 || (b.high-b.low) <= r.d.Tolerance*b.low {
			break
		}
		mid := math.Round((b.low + b.high) / 2)
		if mid <= b.low || mid >= b.high {
			break
		}
		v, err := r.judge(mid, SearchStep)
		if err != nil {
			return err
		}
		if v == Meets {
			b.low = mid
		} else {
			b.high = mid
		}
	}
	return nil
}

// finish fills the result from the bracket and the evidence.
func (r *sloRun) finish() {
	r.res.BracketLow, r.res.BracketHigh = r.b.low, r.b.high
	r.res.UndecidedLow, r.res.UndecidedHigh = r.undecided()
	if r.b.low == 0 {
		if e := r.ev[r.b.high]; e != nil && e.verdict == Misses {
			r.notes = append(r.notes, fmt.Sprintf("target p99 ≤ %v not met even at %s req/s (%s)", r.d.Target, formatRate(r.b.high), e.failure(r.d.Target)))
		}
		r.res.Note = results.JoinReason(r.notes...)
		return
	}
	e := r.ev[r.b.low]
	r.res.Met, r.res.MaxRate, r.res.P99AtMax, r.res.Close = true, r.b.low, e.p99, e.close
	what := "p99 " + e.describe()
	if len(e.rounds) == 1 {
		what += ", not confirmed"
	}
	if e.close {
		what += ": the interval held the target, the pooled p99 decided"
	}
	r.res.Note = results.JoinReason(append(r.notes, what)...)
}

// undecided returns the range of rates the evidence left undecided (see
// SLOResult.UndecidedLow); 0, 0 when there is none.
func (r *sloRun) undecided() (low, high float64) {
	for rate, e := range r.ev {
		clearMeet := e.verdict == Meets && !e.close
		clearMiss := e.verdict == Misses && !e.close
		if !clearMeet && (low == 0 || rate < low) {
			low = rate
		}
		if !clearMiss && rate > high {
			high = rate
		}
	}
	if low == 0 || high == 0 || low > high {
		return 0, 0
	}
	return low, high
}

// failure says why a run did not count.
func (s Step) failure() string {
	if s.Reason != "" {
		return s.Reason
	}
	return "the run did not count"
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
		st.Reason = results.JoinReason(string(r.Status), r.Reason)
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

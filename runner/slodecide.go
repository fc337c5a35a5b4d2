package runner

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncbench/asyncbench/results"
)

// The decision statistics of an SLO search: what the runs at one rate
// show, pooled, and what that says about the target.

// Verdict is what the runs at one rate say about the target.
type Verdict int

// Verdicts.
const (
	Again  Verdict = iota // the p99's interval holds the target: measure the rate again
	Meets                 // the p99 is at or below the target
	Misses                // the p99 is above the target, or a run did not count
)

func (v Verdict) String() string {
	switch v {
	case Meets:
		return "meets"
	case Misses:
		return "misses"
	}
	return "again"
}

// Decide judges p, the p99 pooled over runs runs at one rate, against
// target: Meets when the upper end of its 95% interval is at or below the
// target, Misses when the lower end is above it. An interval that holds
// the target gives Again while runs < maxRuns; from then on the point
// estimate decides (p.Us ≤ target meets) and close is true.
func Decide(p results.Percentile, target time.Duration, runs, maxRuns int) (v Verdict, close bool) {
	t := target.Microseconds()
	switch {
	case p.HiUs <= t:
		return Meets, false
	case p.LoUs > t:
		return Misses, false
	case runs < maxRuns:
		return Again, false
	case p.Us <= t:
		return Meets, true
	}
	return Misses, true
}

// evidence is what the runs at one rate showed.
type evidence struct {
	rounds  [][]*hdrhistogram.Histogram // interval histograms of each run that counted
	p99     results.Percentile          // pooled over rounds
	verdict Verdict
	close   bool
	failed  string // why a run did not count; the rate then misses
}

// failure says why the rate did not meet target.
func (e *evidence) failure(target time.Duration) string {
	if e.failed != "" {
		return e.failed
	}
	return fmt.Sprintf("p99 %s > %v", e.describe(), target)
}

// describe writes the pooled p99 with its interval and runs.
func (e *evidence) describe() string {
	s := fmt.Sprintf("%d µs (95%% interval %d–%d µs, %s)", e.p99.Us, e.p99.LoUs, e.p99.HiUs, plural(len(e.rounds), "run"))
	if e.close {
		s += ", close"
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// pool adds st to the evidence e of its rate and judges the pool; st gets
// the verdict.
func (r *sloRun) pool(e *evidence, st *Step, maxRuns int) {
	e.verdict, e.close = Misses, false
	switch {
	case !st.Pass:
		e.failed = st.failure()
	case len(st.Intervals) == 0:
		e.failed = "no interval histograms"
	default:
		t, err := results.NewTails(append(e.rounds, st.Intervals))
		if err != nil {
			e.failed = "no latency samples"
			break
		}
		e.rounds = append(e.rounds, st.Intervals)
		rng := rand.New(rand.NewPCG(math.Float64bits(st.Rate), uint64(len(e.rounds))))
		e.p99 = t.Percentile(99, rng)
		e.verdict, e.close = Decide(e.p99, r.d.Target, len(e.rounds), maxRuns)
		st.Pooled = e.p99
	}
	st.Verdict, st.Close = e.verdict, e.close
}

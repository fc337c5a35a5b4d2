package report

import (
	"fmt"

	"github.com/asyncbench/asyncbench/results"
)

// NarrowInterval is the widest a throughput interval may be, relative to
// its ratio ((high − low) ÷ ratio), to count as narrow in a Tally: 0.2
// tells a 10% difference from none.
const NarrowInterval = 0.2

// Tally counts a run's verdicts by kind, and how many of its throughput
// intervals are narrow: the figures by which a plan is judged to decide.
type Tally struct {
	Decided      int // higher or lower (one-sided verdicts from generator-bound rounds included)
	NoDifference int
	TooFew       int
	Intervals    int // throughput (rps) verdicts with a two-sided interval
	Narrow       int // of those, the ones narrower than NarrowInterval of their ratio
	// ClosedIntervals and ClosedNarrow count the closed-loop ones among
	// them: an open-loop cell's throughput is its offered rate whenever
	// the server keeps up, so its interval is narrow by construction.
	ClosedIntervals, ClosedNarrow int
}

// TallyVerdicts counts vs.
func TallyVerdicts(vs []Verdict) Tally {
	var t Tally
	for _, v := range vs {
		switch v.Verdict {
		case VerdictHigher, VerdictLower:
			t.Decided++
		case VerdictNoDifference:
			t.NoDifference++
		default:
			t.TooFew++
		}
		if v.Metric != "rps" || !finite(v.CILow) || !finite(v.CIHigh) || !(v.Ratio > 0) {
			continue
		}
		narrow := (v.CIHigh-v.CILow)/v.Ratio < NarrowInterval
		t.Intervals++
		if narrow {
			t.Narrow++
		}
		if v.Rate == 0 {
			t.ClosedIntervals++
			if narrow {
				t.ClosedNarrow++
			}
		}
	}
	return t
}

// RunTally is the Tally of the verdicts WriteWith writes for rows (one
// per cell repetition, as runner.Latest keeps them) against reference
// (empty: DefaultReference).
func RunTally(rows []results.Row, reference string) Tally {
	rows = byLabel(rows)
	if reference == "" {
		reference = DefaultReference(rows)
	}
	return TallyVerdicts(Verdicts(withoutIdle(rows), reference))
}

// Total is the number of verdicts counted.
func (t Tally) Total() int { return t.Decided + t.NoDifference + t.TooFew }

// String is the one-line account, e.g. "verdicts: 40 decided, 4 no clear
// difference, 4 too few rounds; throughput intervals narrower than 20%:
// 9 of 11 (closed loop: 3 of 5)".
func (t Tally) String() string {
	return fmt.Sprintf("verdicts: %d decided, %d no clear difference, %d too few rounds; throughput intervals narrower than %g%%: %d of %d (closed loop: %d of %d)",
		t.Decided, t.NoDifference, t.TooFew, 100*NarrowInterval, t.Narrow, t.Intervals, t.ClosedNarrow, t.ClosedIntervals)
}

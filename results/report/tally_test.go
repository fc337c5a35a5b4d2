package report

import (
	"math"
	"testing"
)

func TestTallyVerdicts(t *testing.T) {
	nan := math.NaN()
	vs := []Verdict{
		{Metric: "rps", Verdict: VerdictHigher, Ratio: 1.5, CILow: 1.4, CIHigh: 1.6},                     // width 0.2/1.5 = 0.133: narrow
		{Metric: "rps", Verdict: VerdictHigher, Ratio: 1.709, CILow: 1.077, CIHigh: 2.294},               // 0.712: wide
		{Metric: "rps", Verdict: VerdictNoDifference, Ratio: 1, CILow: 0.89, CIHigh: 1.1},                // 0.21: wide
		{Metric: "rps", Verdict: VerdictNoDifference, Rate: 10000, Ratio: 1, CILow: 0.91, CIHigh: 1.1},   // 0.19: narrow
		{Metric: "rps", Verdict: VerdictHigher, Ratio: 1.45, CILow: 1.2, CIHigh: nan, Bound: BoundLower}, // one-sided: no width
		{Metric: "rps", Verdict: VerdictTooFewRounds, Ratio: 1.2, CILow: nan, CIHigh: nan},
		{Metric: "p99_us", Verdict: VerdictLower, Ratio: 0.5, CILow: 0.49, CIHigh: 0.51}, // not throughput
		{Metric: "rss_peak_kib", Verdict: VerdictTooFewRounds, Ratio: nan, CILow: nan, CIHigh: nan},
	}
	got := TallyVerdicts(vs)
	want := Tally{Decided: 4, NoDifference: 2, TooFew: 2, Intervals: 4, Narrow: 2, ClosedIntervals: 3, ClosedNarrow: 1}
	if got != want || got.Total() != len(vs) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if s, w := got.String(), "verdicts: 4 decided, 2 no clear difference, 2 too few rounds; throughput intervals narrower than 20%: 2 of 4 (closed loop: 1 of 3)"; s != w {
		t.Fatalf("got %q\nwant %q", s, w)
	}
}

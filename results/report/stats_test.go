package report

import (
	"testing"

	"golang.org/x/perf/benchmath"
)

// TestSignTestAgainstBenchmath pins why verdicts keep their own interval
// rather than benchmath.AssumeNothing's summary. Both take the interval
// for the median from order statistics, and from 6 and 7 rounds they
// agree. benchmath grows its interval from the mode outward, left first
// on ties, and stops as soon as the coverage reaches the level, so from 8
// rounds it ends at the 7th value ([x(1), x(7)], coverage 96.1%, 3.5% above
// and 0.4% below) where the equal-tailed interval ends at the 8th
// ([x(1), x(8)], at most 2.5% on each side). A verdict is a one-sided
// reading of the interval, "lower" when its top is below 1, so the
// left-biased interval would call "lower" more readily than "higher", and
// a label's verdict against the reference would not mirror the
// reference's against the label.
func TestSignTestAgainstBenchmath(t *testing.T) {
	for _, tc := range []struct {
		n    int
		same bool
	}{{6, true}, {7, true}, {8, false}} {
		xs := make([]float64, tc.n)
		for i := range xs {
			xs[i] = float64(i + 1)
		}
		lo, hi, ok := SignTestInterval(xs, Confidence)
		th := benchmath.DefaultThresholds
		s := benchmath.AssumeNothing.Summary(benchmath.NewSample(append([]float64(nil), xs...), &th), Confidence)
		if !ok {
			t.Fatalf("n=%d: no sign-test interval", tc.n)
		}
		if same := lo == s.Lo && hi == s.Hi; same != tc.same {
			t.Errorf("n=%d: sign test [%g, %g], benchmath [%g, %g]; same = %v, want %v", tc.n, lo, hi, s.Lo, s.Hi, same, tc.same)
		}
		if lo != 1 || hi != float64(tc.n) {
			t.Errorf("n=%d: sign test [%g, %g], want the full range [1, %d]", tc.n, lo, hi, tc.n)
		}
	}
}

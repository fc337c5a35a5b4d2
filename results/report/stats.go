package report

import (
	"math"
	"slices"
)

// sample summarises repeated measurements of one metric.
type sample struct {
	n                int
	median, min, max float64
}

// summarize returns the median, minimum and maximum of xs. It does not
// modify xs.
func summarize(xs []float64) sample {
	if len(xs) == 0 {
		return sample{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return sample{n: n, median: med, min: s[0], max: s[n-1]}
}

// spreadPct is the largest distance from the median to the minimum or
// maximum, as a percentage of the median.
func (s sample) spreadPct() float64 {
	if s.median == 0 {
		return 0
	}
	d := math.Max(s.max-s.median, s.median-s.min)
	return 100 * d / math.Abs(s.median)
}

// overlaps reports whether the [min, max] ranges of s and o intersect.
func (s sample) overlaps(o sample) bool {
	return s.min <= o.max && o.min <= s.max
}

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

// exactLimit is the largest combined sample size for which mannWhitneyP
// enumerates the exact null distribution; beyond it a normal approximation
// is used.
const exactLimit = 100

// mannWhitneyP returns the two-sided p-value of the Mann–Whitney U test of
// a against b. Ties get mid-ranks, and for small samples the p-value comes
// from the exact permutation distribution of the rank sum given those
// ranks, so it stays exact with ties. It returns 1 when either sample is
// empty.
func mannWhitneyP(a, b []float64) float64 {
	n1, n2 := len(a), len(b)
	if n1 == 0 || n2 == 0 {
		return 1
	}
	n := n1 + n2
	type obs struct {
		v     float64
		fromA bool
	}
	all := make([]obs, 0, n)
	for _, v := range a {
		all = append(all, obs{v, true})
	}
	for _, v := range b {
		all = append(all, obs{v, false})
	}
	slices.SortFunc(all, func(x, y obs) int {
		switch {
		case x.v < y.v:
			return -1
		case x.v > y.v:
			return 1
		}
		return 0
	})
	// Doubled mid-ranks are integers: positions i..j (1-based) share i+j.
	ranks := make([]int, n)
	tieTerm := 0.0
	for i := 0; i < n; {
		j := i
		for j+1 < n && all[j+1].v == all[i].v {
			j++
		}
		for k := i; k <= j; k++ {
			ranks[k] = (i + 1) + (j + 1)
		}
		t := float64(j - i + 1)
		tieTerm += t*t*t - t
		i = j + 1
	}
	w := 0
	for k, o := range all {
		if o.fromA {
			w += ranks[k]
		}
	}
	mean := float64(n1 * (n + 1)) // doubled
	dev := math.Abs(float64(w) - mean)
	if n > exactLimit {
		// Normal approximation with tie correction, on the undoubled scale.
		nf, n1f, n2f := float64(n), float64(n1), float64(n2)
		v := n1f * n2f / 12 * ((nf + 1) - tieTerm/(nf*(nf-1)))
		if v <= 0 {
			return 1
		}
		z := (dev / 2) / math.Sqrt(v)
		return math.Min(1, math.Erfc(z/math.Sqrt2))
	}
	total := n * (n + 1)
	// ways[k][s]: subsets of size k of the ranks seen so far summing to s.
	ways := make([][]float64, n1+1)
	for k := range ways {
		ways[k] = make([]float64, total+1)
	}
	ways[0][0] = 1
	for _, r := range ranks {
		for k := n1; k >= 1; k-- {
			prev, cur := ways[k-1], ways[k]
			for s := total; s >= r; s-- {
				cur[s] += prev[s-r]
			}
		}
	}
	var extreme, all1 float64
	for s, c := range ways[n1] {
		if c == 0 {
			continue
		}
		all1 += c
		if math.Abs(float64(s)-mean) >= dev-1e-9 {
			extreme += c
		}
	}
	return math.Min(1, extreme/all1)
}

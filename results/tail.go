package results

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency percentiles with intervals.
//
// A cell's percentile comes from the exact sum of its histograms (every
// round, every interval): percentiles are never averaged. Its 95%
// interval comes from a two-stage bootstrap: each replicate draws the
// rounds with replacement, then, within each drawn round, its interval
// histograms (about 1 s each) with replacement, adds them up and reads the
// percentile. Two stages because a tail has two sources of spread: bursts
// (a GC cycle, a scheduling stall) that last milliseconds and fall inside
// one interval, so whole intervals are the unit that keeps a burst
// together; and differences between server processes (each round starts
// a fresh one), which only resampling rounds can show. With one round the
// interval comes from the intervals alone and says nothing about the
// second source; the report says how many rounds an interval rests on.

// MinBeyond is the fewest samples above a percentile for it to be shown
// without a warning: with fewer, a handful of slow requests decides it.
const MinBeyond = 50

// BootReplicates is the number of bootstrap replicates behind an interval.
const BootReplicates = 1000

// Percentile is one latency percentile of a cell, in microseconds.
type Percentile struct {
	Q      float64 // percent: 99, 99.9
	Us     int64   // from the summed histograms
	LoUs   int64   // 95% interval, two-stage bootstrap; equal to Us when
	HiUs   int64   // there is nothing to resample (one interval)
	Beyond int64   // samples above Us
	Rounds int     // rounds the interval rests on
}

// Few reports whether the percentile rests on fewer than MinBeyond samples
// beyond it.
func (p Percentile) Few() bool { return p.Beyond < MinBeyond }

// ReadIntervals returns the interval histograms of the HdrHistogram
// interval log at path that carry the first interval's tag, in order.
func ReadIntervals(path string) ([]*hdrhistogram.Histogram, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read hlog: %w", err)
	}
	defer f.Close()
	out, err := readIntervals(f)
	if err != nil {
		return nil, fmt.Errorf("read hlog %s: %w", path, err)
	}
	return out, nil
}

// readIntervals reads the interval histograms of an interval log that
// carry the first interval's tag, in order.
func readIntervals(r io.Reader) ([]*hdrhistogram.Histogram, error) {
	lr := hdrhistogram.NewHistogramLogReader(r)
	var out []*hdrhistogram.Histogram
	for n := 1; ; n++ {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			return nil, fmt.Errorf("interval %d: %w", n, err)
		}
		if h == nil {
			break
		}
		if len(out) > 0 && h.Tag() != out[0].Tag() {
			continue
		}
		out = append(out, h)
	}
	if len(out) == 0 {
		return nil, ErrEmptyHlog
	}
	return out, nil
}

// Tails holds a cell's rounds, each a list of interval histograms, as
// count vectors over the buckets any of them uses, ready to resample.
type Tails struct {
	values []int64     // bucket values (highest equivalent), ascending
	rounds [][][]int64 // rounds × intervals × bucket counts
	total  []int64     // every interval summed
}

// NewTails indexes rounds (each a list of interval histograms; empty
// rounds are dropped). It fails when there is no sample at all.
func NewTails(rounds [][]*hdrhistogram.Histogram) (*Tails, error) {
	index := map[int64]int{}
	for _, r := range rounds {
		for _, h := range r {
			for _, b := range h.Distribution() {
				if b.Count > 0 {
					index[b.To] = 0
				}
			}
		}
	}
	if len(index) == 0 {
		return nil, ErrEmptyHlog
	}
	t := &Tails{values: make([]int64, 0, len(index))}
	for v := range index {
		t.values = append(t.values, v)
	}
	slices.Sort(t.values)
	for i, v := range t.values {
		index[v] = i
	}
	t.total = make([]int64, len(t.values))
	for _, r := range rounds {
		var ivs [][]int64
		for _, h := range r {
			vec := make([]int64, len(t.values))
			n := int64(0)
			for _, b := range h.Distribution() {
				if b.Count > 0 {
					vec[index[b.To]] += b.Count
					n += b.Count
				}
			}
			if n == 0 {
				continue
			}
			ivs = append(ivs, vec)
			addInto(t.total, vec)
		}
		if len(ivs) > 0 {
			t.rounds = append(t.rounds, ivs)
		}
	}
	return t, nil
}

// Rounds is the number of non-empty rounds.
func (t *Tails) Rounds() int { return len(t.rounds) }

// Count is the number of samples.
func (t *Tails) Count() int64 { return sum(t.total) }

// Percentile returns percentile q (percent) of the summed histograms with
// its 95% interval from BootReplicates two-stage replicates drawn with
// rng.
func (t *Tails) Percentile(q float64, rng *rand.Rand) Percentile {
	v, beyond := quantile(t.values, t.total, q)
	p := Percentile{Q: q, Us: v, LoUs: v, HiUs: v, Beyond: beyond, Rounds: len(t.rounds)}
	if t.intervals() < 2 {
		return p
	}
	reps := make([]int64, BootReplicates)
	acc := make([]int64, len(t.values))
	for i := range reps {
		t.resample(acc, rng)
		reps[i], _ = quantile(t.values, acc, q)
	}
	slices.Sort(reps)
	p.LoUs, p.HiUs = reps[int(0.025*float64(len(reps)))], reps[int(math.Ceil(0.975*float64(len(reps))))-1]
	return p
}

// intervals counts the intervals over all rounds.
func (t *Tails) intervals() int {
	n := 0
	for _, r := range t.rounds {
		n += len(r)
	}
	return n
}

// resample fills acc with one two-stage bootstrap replicate.
func (t *Tails) resample(acc []int64, rng *rand.Rand) {
	clear(acc)
	for range t.rounds {
		r := t.rounds[rng.IntN(len(t.rounds))]
		for range r {
			addInto(acc, r[rng.IntN(len(r))])
		}
	}
}

// RatioCI returns the ratio of percentile q of b to that of a, with a 95%
// interval from a paired two-stage bootstrap: each replicate draws round
// numbers with replacement and takes the same rounds of both (round i of
// a and of b were measured side by side), then intervals within each.
// When the two have different numbers of rounds the rounds are drawn
// independently. ok is false when either has no sample at q.
func RatioCI(a, b *Tails, q float64, rng *rand.Rand) (ratio, lo, hi float64, ok bool) {
	pa, _ := quantile(a.values, a.total, q)
	pb, _ := quantile(b.values, b.total, q)
	if pa <= 0 || pb <= 0 {
		return 0, 0, 0, false
	}
	ratio = float64(pb) / float64(pa)
	if a.intervals() < 2 || b.intervals() < 2 {
		return ratio, ratio, ratio, true
	}
	paired := len(a.rounds) == len(b.rounds)
	accA, accB := make([]int64, len(a.values)), make([]int64, len(b.values))
	reps := make([]float64, BootReplicates)
	for i := range reps {
		clear(accA)
		clear(accB)
		for range a.rounds {
			ra := rng.IntN(len(a.rounds))
			rb := ra
			if !paired {
				rb = rng.IntN(len(b.rounds))
			}
			for range a.rounds[ra] {
				addInto(accA, a.rounds[ra][rng.IntN(len(a.rounds[ra]))])
			}
			for range b.rounds[rb] {
				addInto(accB, b.rounds[rb][rng.IntN(len(b.rounds[rb]))])
			}
		}
		va, _ := quantile(a.values, accA, q)
		vb, _ := quantile(b.values, accB, q)
		reps[i] = float64(vb) / float64(max(va, 1))
	}
	slices.Sort(reps)
	lo, hi = reps[int(0.025*float64(len(reps)))], reps[int(math.Ceil(0.975*float64(len(reps))))-1]
	return ratio, lo, hi, true
}

// quantile returns the value at percentile q of the counts over values,
// by HdrHistogram's rule (the highest equivalent value of the bucket
// holding the sample of rank q/100·n, rounded half up), and how many
// samples lie above it.
func quantile(values, counts []int64, q float64) (v, beyond int64) {
	n := sum(counts)
	if n == 0 {
		return 0, 0
	}
	rank := int64(1)
	if r := min(q, 100)/100*float64(n) + 0.5; r >= float64(n) {
		rank = n
	} else if r >= 1 {
		rank = int64(r)
	}
	cum := int64(0)
	for i, c := range counts {
		cum += c
		if cum >= rank {
			return values[i], n - cum
		}
	}
	return values[len(values)-1], 0
}

func addInto(acc, v []int64) {
	for i, c := range v {
		acc[i] += c
	}
}

func sum(v []int64) int64 {
	n := int64(0)
	for _, c := range v {
		n += c
	}
	return n
}

package loadgen

import (
	"math/rand/v2"

	"github.com/asyncbench/asyncbench/loadgen/mix"
)

// MixEntry is one entry of a request mix.
type MixEntry = mix.Entry

// ParseMix parses a -mix spec; mix.Parse says what it accepts.
func ParseMix(s string) ([]MixEntry, error) { return mix.Parse(s) }

// picker draws mix entries by weight from a generator seeded with the run's
// seed and the connection's index, so a run repeats its draws connection by
// connection. It draws without allocating.
type picker struct {
	rng *rand.Rand
	cum []uint64 // cumulative weights; cum[len-1] is the total
}

// newPicker returns the picker of connection id over weights.
func newPicker(cum []uint64, seed uint64, id int) *picker {
	return &picker{rng: rand.New(rand.NewPCG(seed, uint64(id))), cum: cum}
}

// cumulative returns the running sums of the entries' weights.
func cumulative(es []MixEntry) []uint64 {
	cum := make([]uint64, len(es))
	var t uint64
	for i, e := range es {
		t += uint64(e.Weight)
		cum[i] = t
	}
	return cum
}

// next returns the index of the next entry drawn.
func (p *picker) next() int {
	r := p.rng.Uint64N(p.cum[len(p.cum)-1])
	for i, c := range p.cum {
		if r < c {
			return i
		}
	}
	return len(p.cum) - 1 // unreachable
}

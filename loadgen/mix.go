package loadgen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// MixEntry is one entry of a weighted request mix: a path (with its query)
// sent as written, and its relative weight.
type MixEntry struct {
	Path   string
	Weight int
}

// Limits of a mix.
const (
	maxMixEntries = 1000
	maxMixWeight  = 1 << 30
)

// ParseMix parses 'PATH:WEIGHT,PATH:WEIGHT,…'. The last ':' of each entry
// separates the weight, so a path may hold ':' but not ','. Weights are
// positive integers; paths start with '/' and hold no spaces, control
// characters or line breaks.
func ParseMix(s string) ([]MixEntry, error) {
	if s == "" {
		return nil, fmt.Errorf("mix: empty")
	}
	parts := strings.Split(s, ",")
	if len(parts) > maxMixEntries {
		return nil, fmt.Errorf("mix: %d entries, at most %d", len(parts), maxMixEntries)
	}
	es := make([]MixEntry, 0, len(parts))
	for _, p := range parts {
		i := strings.LastIndexByte(p, ':')
		if i < 0 {
			return nil, fmt.Errorf("mix entry %q: want PATH:WEIGHT", p)
		}
		path, ws := p[:i], p[i+1:]
		w, err := strconv.Atoi(ws)
		if err != nil || w < 1 || w > maxMixWeight {
			return nil, fmt.Errorf("mix entry %q: weight must be an integer in [1, %d], got %q", p, maxMixWeight, ws)
		}
		if !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("mix entry %q: path must start with '/'", p)
		}
		for _, c := range []byte(path) {
			if c <= ' ' || c == 0x7f {
				return nil, fmt.Errorf("mix entry %q: path must not contain spaces or control characters", p)
			}
		}
		es = append(es, MixEntry{Path: path, Weight: w})
	}
	return es, nil
}

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

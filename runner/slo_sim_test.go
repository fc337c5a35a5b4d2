package runner

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// noisyServer simulates a server whose tail comes in bursts. A request's
// latency is log-normal with three sources of spread: the run (one server
// process, sigmaRun), the interval (a burst within one second, sigmaIv)
// and the request itself (sigmaReq). The known curve is the p99 of a
// typical process (run factor 1) at rate r, base/(1 − r/capacity) µs;
// each run's p99 is drawn around it. At or above capacity the generator
// falls behind and the run does not count.
type noisyServer struct {
	base      float64 // µs
	capacity  float64 // req/s
	sigmaRun  float64
	sigmaIv   float64
	sigmaReq  float64
	intervals int // per run
	samples   int // per interval
	rng       *rand.Rand
	runs      int
}

// z99 is the standard normal's 99th percentile.
const z99 = 2.3263478740408408

// burstyServer is the simulated server of the searches below: at the
// crossing of a 2 ms target (21,000 req/s) a 3 s run's p99 spreads ×3.9
// between the 5th and 95th percentile of runs (1.0 to 4.0 ms), as a Go
// server's does from one process to the next.
func burstyServer(seed uint64) *noisyServer {
	return &noisyServer{base: 600, capacity: 30_000, sigmaRun: 0.35, sigmaIv: 0.25, sigmaReq: 0.5,
		intervals: 3, samples: 2000, rng: rand.New(rand.NewPCG(seed, 7))}
}

// p99 is the curve: a typical process's p99 at rate, µs.
func (s *noisyServer) p99(rate float64) float64 { return s.base / (1 - rate/s.capacity) }

// crossing is the rate where the curve crosses target.
func (s *noisyServer) crossing(target time.Duration) float64 {
	return s.capacity * (1 - s.base/float64(target.Microseconds()))
}

// Measure draws one run at rate.
func (s *noisyServer) Measure(rate float64, kind StepKind) (Step, error) {
	s.runs++
	if rate >= s.capacity {
		return Step{Reason: "generator fell behind its schedule"}, nil
	}
	ivs := s.intervals
	if kind == Confirmation {
		ivs *= 2
	}
	within := math.Sqrt(s.sigmaIv*s.sigmaIv + s.sigmaReq*s.sigmaReq)
	mu := math.Log(s.p99(rate)) - z99*within + s.sigmaRun*s.rng.NormFloat64()
	st := Step{Pass: true}
	all := simHist()
	for range ivs {
		h := simHist()
		m := mu + s.sigmaIv*s.rng.NormFloat64()
		for range s.samples {
			v := int64(math.Exp(m + s.sigmaReq*s.rng.NormFloat64()))
			_ = h.RecordValue(max(v, 1))
		}
		all.Merge(h)
		st.Intervals = append(st.Intervals, h)
	}
	st.P99 = time.Duration(all.ValueAtQuantile(99)) * time.Microsecond
	return st, nil
}

// simHist keeps one significant digit (buckets about 6% wide), enough
// for a p99 against a target and cheap to resample.
func simHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, 60_000_000, 1) }

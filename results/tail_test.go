package results

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// rounds makes n rounds of k intervals of m log-normal samples each.
func makeRounds(rng *rand.Rand, n, k, m int, median float64) [][]*hdrhistogram.Histogram {
	out := make([][]*hdrhistogram.Histogram, n)
	for i := range out {
		for range k {
			h := newHist()
			logNormal(rng, h, m, median, 0.6)
			out[i] = append(out[i], h)
		}
	}
	return out
}

func TestTailsPointIsTheMergedHistogram(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rs := makeRounds(rng, 5, 3, 2000, 300)
	all := newHist()
	for _, r := range rs {
		for _, h := range r {
			all.Merge(h)
		}
	}
	tl, err := NewTails(rs)
	if err != nil {
		t.Fatal(err)
	}
	if tl.Count() != all.TotalCount() || tl.Rounds() != 5 {
		t.Fatalf("count %d rounds %d, want %d 5", tl.Count(), tl.Rounds(), all.TotalCount())
	}
	for _, q := range quantiles {
		p := tl.Percentile(q, rand.New(rand.NewPCG(9, 9)))
		if want := all.ValueAtQuantile(q); p.Us != want {
			t.Errorf("p%g = %d, want %d (merged histogram)", q, p.Us, want)
		}
		if p.LoUs > p.Us || p.HiUs < p.Us {
			t.Errorf("p%g = %d outside its interval [%d, %d]", q, p.Us, p.LoUs, p.HiUs)
		}
	}
	// 30,000 samples: 300 beyond p99, 30 beyond p99.9.
	if p := tl.Percentile(99, rng); p.Few() || p.Beyond < 250 || p.Beyond > 300 {
		t.Errorf("p99 beyond = %d (few %v), want about 300", p.Beyond, p.Few())
	}
	if p := tl.Percentile(99.9, rng); !p.Few() {
		t.Errorf("p99.9 beyond = %d, want it flagged as few", p.Beyond)
	}
}

// A round whose tail is much worse than the others widens the interval:
// the rounds are resampled, not only the intervals.
func TestTailsIntervalSeesRounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	same := makeRounds(rng, 6, 3, 3000, 300)
	mixed := makeRounds(rng, 6, 3, 3000, 300)
	mixed[2] = makeRounds(rng, 1, 3, 3000, 3000)[0]
	a, _ := NewTails(same)
	b, _ := NewTails(mixed)
	pa := a.Percentile(99, rand.New(rand.NewPCG(5, 5)))
	pb := b.Percentile(99, rand.New(rand.NewPCG(5, 5)))
	wa, wb := float64(pa.HiUs-pa.LoUs)/float64(pa.Us), float64(pb.HiUs-pb.LoUs)/float64(pb.Us)
	if wa > 0.25 {
		t.Errorf("homogeneous rounds: p99 %d [%d, %d], relative width %.2f, want ≤ 0.25", pa.Us, pa.LoUs, pa.HiUs, wa)
	}
	if wb < 2*wa {
		t.Errorf("one slow round: relative width %.2f, want at least twice %.2f", wb, wa)
	}
}

func TestTailsOneInterval(t *testing.T) {
	h := newHist()
	for v := int64(1); v <= 1000; v++ {
		h.RecordValue(v)
	}
	tl, err := NewTails([][]*hdrhistogram.Histogram{{h}, {}})
	if err != nil {
		t.Fatal(err)
	}
	p := tl.Percentile(99, rand.New(rand.NewPCG(1, 1)))
	if p.Us != h.ValueAtQuantile(99) || p.LoUs != p.Us || p.HiUs != p.Us || p.Rounds != 1 {
		t.Errorf("got %+v, want the point as its own interval over 1 round", p)
	}
	if _, err := NewTails(nil); err == nil {
		t.Error("NewTails(nil) = nil error, want ErrEmptyHlog")
	}
}

func TestRatioCI(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	a := makeRounds(rng, 8, 2, 4000, 300)
	b := makeRounds(rng, 8, 2, 4000, 300)
	slow := makeRounds(rng, 8, 2, 4000, 600)
	ta, _ := NewTails(a)
	tb, _ := NewTails(b)
	ts, _ := NewTails(slow)
	r, lo, hi, ok := RatioCI(ta, ta, 99, rand.New(rand.NewPCG(1, 1)))
	if !ok || r != 1 || lo > 1 || hi < 1 || lo < 0.95 || hi > 1.05 {
		t.Errorf("a against itself: %g [%g, %g], want 1 within a narrow interval (the same rounds drawn for both)", r, lo, hi)
	}
	r, lo, hi, _ = RatioCI(ta, tb, 99, rand.New(rand.NewPCG(1, 1)))
	if lo > 1 || hi < 1 || lo < 0.85 || hi > 1.18 {
		t.Errorf("A/A: %.3f [%.3f, %.3f], want 1 inside and within [0.85, 1.18]", r, lo, hi)
	}
	r, lo, hi, _ = RatioCI(ta, ts, 99, rand.New(rand.NewPCG(1, 1)))
	if lo <= 1.5 || hi >= 2.6 || r < 1.8 || r > 2.2 {
		t.Errorf("doubled latency: %.3f [%.3f, %.3f], want about 2 with 1 outside", r, lo, hi)
	}
}

func TestReadIntervals(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	path := filepath.Join(t.TempDir(), "c.hlog")
	r := makeRounds(rng, 1, 3, 100, 200)[0]
	writeHlog(t, path, r...)
	got, err := ReadIntervals(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d intervals, want 3", len(got))
	}
	for i := range got {
		sameDistribution(t, got[i], r[i])
	}
	if _, err := ReadIntervals(filepath.Join(t.TempDir(), "none.hlog")); err == nil {
		t.Error("missing file: nil error")
	}
}

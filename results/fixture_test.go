package results

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// newHist returns a histogram with the generator's geometry: 1 µs to 60 s,
// three significant figures.
func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, 60_000_000, 3)
}

// writeHlog writes intervals to path with HistogramLogWriter, one second
// apart.
func writeHlog(t *testing.T, path string, intervals ...*hdrhistogram.Histogram) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lw := hdrhistogram.NewHistogramLogWriter(f)
	base := int64(1_700_000_000_000)
	if err := lw.OutputLogFormatVersion(); err != nil {
		t.Fatal(err)
	}
	if err := lw.OutputStartTime(base); err != nil {
		t.Fatal(err)
	}
	if err := lw.OutputLegend(); err != nil {
		t.Fatal(err)
	}
	lw.SetBaseTime(base)
	for i, h := range intervals {
		h.SetStartTimeMs(base + int64(i)*1000)
		h.SetEndTimeMs(base + int64(i+1)*1000)
		if err := lw.OutputIntervalHistogram(h); err != nil {
			t.Fatal(err)
		}
	}
}

// logNormal records n values around median µs with the given tail spread.
func logNormal(rng *rand.Rand, h *hdrhistogram.Histogram, n int, median, sigma float64) {
	for range n {
		v := int64(median * math.Exp(sigma*rng.NormFloat64()))
		if v < 1 {
			v = 1
		}
		if err := h.RecordValue(v); err != nil {
			panic(err)
		}
	}
}

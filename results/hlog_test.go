package results

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// quantiles checked when comparing histograms, as percents.
var quantiles = []float64{0, 1, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 99.999, 100}

// sameDistribution fails t unless got and want agree on count, min, max,
// and every checked quantile.
func sameDistribution(t *testing.T, got, want *hdrhistogram.Histogram) {
	t.Helper()
	if got.TotalCount() != want.TotalCount() {
		t.Errorf("TotalCount = %d, want %d", got.TotalCount(), want.TotalCount())
	}
	if got.Min() != want.Min() || got.Max() != want.Max() {
		t.Errorf("Min/Max = %d/%d, want %d/%d", got.Min(), got.Max(), want.Min(), want.Max())
	}
	for _, q := range quantiles {
		if g, w := got.ValueAtQuantile(q), want.ValueAtQuantile(q); g != w {
			t.Errorf("p%g = %d, want %d", q, g, w)
		}
	}
}

func TestHlogRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	path := filepath.Join(t.TempDir(), "cell.hlog")
	all := newHist()
	var intervals []*hdrhistogram.Histogram
	for range 4 {
		h := newHist()
		logNormal(rng, h, 5000, 300, 1)
		all.Merge(h)
		intervals = append(intervals, h)
	}
	writeHlog(t, path, intervals...)
	got, err := ReadHlog(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.TotalCount() != 20000 {
		t.Errorf("TotalCount = %d, want 20000", got.TotalCount())
	}
	sameDistribution(t, got, all)
}

func TestMergeHlogsEqualsOneHistogram(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	dir := t.TempDir()
	all := hdrhistogram.New(1, 600_000_000, 3)
	var paths []string
	for g := range 5 {
		// Generators differ in range and load; one has a wider histogram.
		var intervals []*hdrhistogram.Histogram
		for range 1 + g {
			h := newHist()
			if g == 4 {
				h = hdrhistogram.New(1, 600_000_000, 3)
			}
			n := 1000 + rng.IntN(3000)
			for range n {
				v := 1 + rng.Int64N(int64(1000*(g+1)))
				if rng.IntN(500) == 0 {
					v *= 1000 // a tail
				}
				if err := h.RecordValue(v); err != nil {
					t.Fatal(err)
				}
				if err := all.RecordValue(v); err != nil {
					t.Fatal(err)
				}
			}
			intervals = append(intervals, h)
		}
		p := filepath.Join(dir, "gen"+string(rune('a'+g))+".hlog")
		writeHlog(t, p, intervals...)
		paths = append(paths, p)
	}
	got, total, err := MergeHlogs(paths)
	if err != nil {
		t.Fatal(err)
	}
	if total != uint64(all.TotalCount()) {
		t.Errorf("total = %d, want %d", total, all.TotalCount())
	}
	sameDistribution(t, got, all)
	if got.HighestTrackableValue() < 600_000_000 {
		t.Errorf("merged histogram was not widened: highest %d", got.HighestTrackableValue())
	}
}

func TestMergeHlogsErrors(t *testing.T) {
	dir := t.TempDir()
	coarse := hdrhistogram.New(1, 60_000_000, 2)
	_ = coarse.RecordValue(5)
	fine := newHist()
	_ = fine.RecordValue(5)
	a, b := filepath.Join(dir, "a.hlog"), filepath.Join(dir, "b.hlog")
	writeHlog(t, a, fine)
	writeHlog(t, b, coarse)
	empty := filepath.Join(dir, "empty.hlog")
	if err := os.WriteFile(empty, []byte("#[Histogram log format version 1.3]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		paths []string
		want  string
	}{
		{"no files", nil, "no files"},
		{"precision mismatch", []string{a, b}, "cannot merge exactly"},
		{"missing file", []string{a, filepath.Join(dir, "nope.hlog")}, "nope.hlog"},
		{"empty log", []string{empty}, ErrEmptyHlog.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := MergeHlogs(tt.paths)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := ReadHlog(empty); !errors.Is(err, ErrEmptyHlog) {
		t.Errorf("ReadHlog(empty) = %v, want ErrEmptyHlog", err)
	}
}

func TestSumHlogKeepsFirstTag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tagged.hlog")
	main1, side, main2 := newHist(), newHist(), newHist()
	_ = main1.RecordValues(100, 10)
	_ = side.RecordValues(99999, 7)
	side.SetTag("uncorrected")
	_ = main2.RecordValues(200, 5)
	writeHlog(t, path, main1, side, main2)
	h, err := ReadHlog(path)
	if err != nil {
		t.Fatal(err)
	}
	if h.TotalCount() != 15 || h.Max() >= 1000 {
		t.Errorf("count %d max %d: tagged interval was summed", h.TotalCount(), h.Max())
	}
}

package report

import (
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/results"
)

func TestPercentileX(t *testing.T) {
	tests := []struct{ percent, x float64 }{
		{0, 1}, {50, 2}, {90, 10}, {99, 100}, {99.9, 1000}, {99.99, 10000}, {99.999, 100000},
	}
	for _, tt := range tests {
		if got := percentileX(tt.percent); math.Abs(got-tt.x)/tt.x > 1e-9 {
			t.Errorf("percentileX(%g) = %g, want %g", tt.percent, got, tt.x)
		}
		if got := xPercentile(tt.x); math.Abs(got-tt.percent) > 1e-9 {
			t.Errorf("xPercentile(%g) = %g, want %g", tt.x, got, tt.percent)
		}
	}
}

func TestPercentileTicks(t *testing.T) {
	var labels []string
	for _, tk := range percentileTicks(1, 100000) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
			pct, err := strconv.ParseFloat(strings.TrimSuffix(tk.Label, "%"), 64)
			if err != nil || math.Abs(xPercentile(tk.Value)-pct) > 1e-9 {
				t.Errorf("label %s at x = %g, which is the %g%% percentile", tk.Label, tk.Value, xPercentile(tk.Value))
			}
		}
	}
	if got, want := strings.Join(labels, " "), "0% 50% 90% 99% 99.9% 99.99% 99.999%"; got != want {
		t.Errorf("labels %q, want %q", got, want)
	}
}

func TestLinearTicks(t *testing.T) {
	var labels []string
	for _, tk := range linearTicks(0, 186000) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if got, want := strings.Join(labels, " "), "0 20k 40k 60k 80k 100k 120k 140k 160k 180k"; got != want {
		t.Errorf("labels %q, want %q", got, want)
	}
	if niceStep(0) != 0 || niceStep(7) != 1 || niceStep(30) != 5 {
		t.Errorf("niceStep(0, 7, 30) = %g, %g, %g", niceStep(0), niceStep(7), niceStep(30))
	}
}

func TestLogTicks(t *testing.T) {
	var labels []string
	for _, tk := range logTicks(30, 2500) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if got, want := strings.Join(labels, " "), "50 100 200 500 1000 2000"; got != want {
		t.Errorf("labels %q, want %q", got, want)
	}
}

func TestSpectrumPoints(t *testing.T) {
	h := newHist()
	for v := int64(1); v <= 1000; v++ {
		_ = h.RecordValue(v)
	}
	pts := spectrumPoints(h)
	if pts[0].X != 1 || pts[0].Y != 1 {
		t.Errorf("first point %+v, want (1, 1)", pts[0])
	}
	last := pts[len(pts)-1]
	if last.X != 1000 || last.Y != float64(h.Max()) {
		t.Errorf("last point %+v, want (1000, %d)", last, h.Max())
	}
	for i, p := range pts {
		if i > 0 && (p.X <= pts[i-1].X || p.Y < pts[i-1].Y) {
			t.Fatalf("points not increasing at %d: %+v then %+v", i, pts[i-1], p)
		}
		// At x = 10 the 90th percentile of 1..1000 is 900.
		if math.Abs(p.X-10) < 1e-9 && p.Y != 900 {
			t.Errorf("p90 = %g, want 900", p.Y)
		}
	}
}

// TestDodge: backends at one x are drawn apart, symmetrically, and close
// enough to stay by their tick.
func TestDodge(t *testing.T) {
	xs := []float64{dodgeLog(1024, 0, 3), dodgeLog(1024, 1, 3), dodgeLog(1024, 2, 3)}
	if !(xs[0] < xs[1] && xs[1] < xs[2]) || math.Abs(xs[1]-1024) > 1e-9 || math.Abs(xs[0]*xs[2]-1024*1024) > 1e-6 {
		t.Errorf("log dodge %v", xs)
	}
	if xs[2]/xs[0] > 1.1 || dodgeLog(64, 0, 1) != 64 {
		t.Errorf("dodge too wide: %v", xs)
	}
	if got := dodgeLinear(1000, 0, 2, 10); got != 995 {
		t.Errorf("linear dodge %v, want 995", got)
	}
}

func TestSinglePointPlot(t *testing.T) {
	dir := t.TempDir()
	g := groupRows([]results.Row{{Backend: "gnet", Proto: "http", Workload: "w", Conns: 10, Pipeline: 1, Status: results.StatusOK, RPS: 5, P99Us: 7, RSSPeakKiB: new(int64(2048))}})[0]
	styles := newStyles([]results.Row{{Backend: "gnet"}})
	p, ok, err := connsPlot(g, styles, "t", "y", getRPS, false)
	if err != nil || !ok {
		t.Fatalf("connsPlot: %v %v", ok, err)
	}
	if p.X.Min >= 10 || p.X.Max <= 10 {
		t.Errorf("x range [%g, %g] does not surround the point", p.X.Min, p.X.Max)
	}
	base := filepath.Join(dir, "one")
	if err := savePlot(p, base); err != nil {
		t.Fatal(err)
	}
	checkPlotFile(t, base+".png")
	checkPlotFile(t, base+".svg")
}

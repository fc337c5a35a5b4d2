package results

import (
	"math"
	"testing"
)

func TestFitLine(t *testing.T) {
	// y = 4096 + 256·x exactly: slope 256, intercept 4096, R² 1.
	b, a, r2 := FitLine([]float64{1000, 2000, 3000}, []float64{4096 + 256_000, 4096 + 512_000, 4096 + 768_000})
	if b != 256 || a != 4096 || r2 != 1 {
		t.Errorf("fit = %v, %v, %v; want 256, 4096, 1", b, a, r2)
	}
	// Three equally spaced points: the slope is (y3 − y1) / (x3 − x1).
	b, _, r2 = FitLine([]float64{1000, 2000, 3000}, []float64{3_000_000, 5_500_000, 8_100_000})
	if b != 2550 || !(r2 > 0.99 && r2 < 1) {
		t.Errorf("slope %v R² %v, want 2550 and just under 1", b, r2)
	}
	if b, a, r2 := FitLine([]float64{1000, 1000}, []float64{1, 2}); !math.IsNaN(b) || !math.IsNaN(a) || !math.IsNaN(r2) {
		t.Errorf("one distinct x: %v %v %v, want NaN", b, a, r2)
	}
	if b, _, _ := FitLine(nil, nil); !math.IsNaN(b) {
		t.Errorf("no points: %v", b)
	}
}

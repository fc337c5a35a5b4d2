package results

import "math"

// FitLine fits y = a + b·x by least squares and returns the slope b, the
// intercept a and R². With fewer than two distinct x all three are NaN.
func FitLine(xs, ys []float64) (b, a, r2 float64) {
	n := float64(len(xs))
	if len(xs) == 0 || len(xs) != len(ys) {
		return math.NaN(), math.NaN(), math.NaN()
	}
	var sx, sy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
	}
	mx, my := sx/n, sy/n
	var sxx, sxy, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	if sxx == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	b = sxy / sxx
	a = my - b*mx
	r2 = 1
	if syy > 0 {
		r2 = sxy * sxy / (sxx * syy)
	}
	return b, a, r2
}

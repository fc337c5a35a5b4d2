package report

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/results"
)

func TestMannWhitneyP(t *testing.T) {
	tests := []struct {
		name string
		a, b []float64
		want float64
	}{
		{"identical", []float64{5, 5, 5, 5, 5}, []float64{5, 5, 5, 5, 5}, 1},
		{"separated n=5", []float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}, 2.0 / 252},
		{"separated reversed", []float64{16, 17, 18, 19, 20}, []float64{1, 2, 3, 4, 5}, 2.0 / 252},
		{"separated n=3", []float64{1, 2, 3}, []float64{4, 5, 6}, 2.0 / 20},
		{"separated n=2", []float64{1, 2}, []float64{3, 4}, 2.0 / 6},
		// Rank sums of a over all 10 splits of {1,2,3,4,5}: extremes
		// |W-9| >= 1 in 8 of 10.
		{"interleaved n=2+3", []float64{2, 4}, []float64{1, 3, 5}, 1},
		// Ties: a={1,1,2}, b={2,3,3}; doubled mid-ranks 3,3,7,7,11,11.
		// Subsets of size 3 with |sum-21| >= |13-21|: {3,3,7}×2 and
		// {7,11,11}×2 out of 20.
		{"ties", []float64{1, 1, 2}, []float64{2, 3, 3}, 4.0 / 20},
		{"empty", nil, []float64{1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mannWhitneyP(tt.a, tt.b); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("p = %.6f, want %.6f", got, tt.want)
			}
		})
	}
}

func TestMannWhitneyPNormalApproximation(t *testing.T) {
	var a, b, c []float64
	for i := range 60 {
		a = append(a, float64(i))
		b = append(b, float64(i)+100)
		c = append(c, float64(i)+0.5)
	}
	if p := mannWhitneyP(a, b); p > 1e-10 {
		t.Errorf("separated large samples: p = %g", p)
	}
	if p := mannWhitneyP(a, a); p != 1 {
		t.Errorf("identical large samples: p = %g, want 1", p)
	}
	if p := mannWhitneyP(a, c); p < 0.5 {
		t.Errorf("shifted by half a step: p = %g, want large", p)
	}
}

func TestSummarize(t *testing.T) {
	s := summarize([]float64{9, 1, 5, 3})
	if s.n != 4 || s.median != 4 || s.min != 1 || s.max != 9 {
		t.Errorf("summarize = %+v", s)
	}
	if got := s.spreadPct(); got != 125 {
		t.Errorf("spreadPct = %g, want 125", got)
	}
	odd := summarize([]float64{3, 1, 2})
	if odd.median != 2 {
		t.Errorf("odd median = %g", odd.median)
	}
}

// reps builds n ok rows of one cell with the given rps and p99 values.
func reps(cell string, rps []float64, p99 []int64) []results.Row {
	var rows []results.Row
	for i := range rps {
		rows = append(rows, results.Row{Cell: cell, Rep: i + 1, Status: results.StatusOK, RPS: rps[i], P99Us: p99[i]})
	}
	return rows
}

func TestCompare(t *testing.T) {
	var a, b []results.Row
	same := []float64{100, 101, 102, 103, 104}
	lat := []int64{500, 510, 520, 530, 540}
	a = append(a, reps("same", same, lat)...)
	b = append(b, reps("same", same, lat)...)
	a = append(a, reps("faster", []float64{100, 101, 102, 103, 104}, []int64{900, 910, 920, 930, 940})...)
	b = append(b, reps("faster", []float64{200, 201, 202, 203, 204}, []int64{1000, 1010, 1020, 1030, 1040})...)
	a = append(a, reps("single", []float64{100}, []int64{50})...)
	b = append(b, reps("single", []float64{110}, []int64{50})...)
	a = append(a, reps("gone", []float64{1}, []int64{1})...)
	b = append(b, reps("new", []float64{1}, []int64{1})...)
	b = append(b, results.Row{Cell: "faster", Rep: 9, Status: results.StatusFailed, RPS: 1})

	var out bytes.Buffer
	if err := Compare(&out, a, b); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	lines := strings.Split(got, "\n")
	find := func(prefix, metric string) string {
		for i, l := range lines {
			f := strings.Fields(l)
			if len(f) > 0 && f[0] == prefix {
				if f[1] == metric {
					return l
				}
				if i+1 < len(lines) && strings.Fields(lines[i+1])[0] == metric {
					return lines[i+1]
				}
			}
		}
		t.Fatalf("no %s %s line in:\n%s", prefix, metric, got)
		return ""
	}
	checks := []struct{ cell, metric, want string }{
		{"same", "rps", "+0.00% ~ (p=1.000 n=5+5)"},
		{"same", "p99_us", "~ (p=1.000 n=5+5)"},
		{"faster", "rps", "102 ±2% 202 ±1% +98.04% better (p=0.008 n=5+5)"},
		{"faster", "p99_us", "+10.87% worse (p=0.008 n=5+5)"},
		{"single", "rps", "+10.00% n too small (n=1+1)"},
	}
	for _, c := range checks {
		if l := strings.Join(strings.Fields(find(c.cell, c.metric)), " "); !strings.Contains(l, c.want) {
			t.Errorf("%s %s line %q lacks %q", c.cell, c.metric, l, c.want)
		}
	}
	for _, want := range []string{"only in A: gone", "only in B: new"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if t.Failed() {
		t.Log("\n" + got)
	}
}

func TestCompareNoCommonCell(t *testing.T) {
	err := Compare(&bytes.Buffer{}, reps("a", []float64{1}, []int64{1}), reps("b", []float64{1}, []int64{1}))
	if err == nil || !strings.Contains(err.Error(), "no cell in common") {
		t.Errorf("err = %v", err)
	}
}

func TestFmtNum(t *testing.T) {
	tests := []struct {
		x    float64
		want string
	}{
		{0, "0"}, {12.345, "12.35"}, {9999, "9999"}, {12345, "12.35k"}, {123456.7, "123.5k"},
		{2_500_000, "2.5M"}, {3e9, "3G"}, {-20000, "-20k"},
	}
	for _, tt := range tests {
		if got := fmtNum(tt.x); got != tt.want {
			t.Errorf("fmtNum(%g) = %q, want %q", tt.x, got, tt.want)
		}
	}
}

func TestFmtCount(t *testing.T) {
	tests := []struct {
		x    float64
		want string
	}{
		{0, "0"}, {999.5, "1,000"}, {1234567.4, "1,234,567"}, {-1234, "-1,234"}, {12, "12"},
	}
	for _, tt := range tests {
		if got := fmtCount(tt.x); got != tt.want {
			t.Errorf("fmtCount(%g) = %q, want %q", tt.x, got, tt.want)
		}
	}
}

func TestMinTwoSidedP(t *testing.T) {
	for _, c := range []struct {
		n1, n2 int
		want   float64
	}{
		{2, 2, 2.0 / 6},   // C(4,2) = 6
		{3, 3, 2.0 / 20},  // 0.1: never significant at 0.05
		{4, 4, 2.0 / 70},  // 0.029
		{5, 5, 2.0 / 252}, // 0.0079
		{1, 1, 1},
	} {
		if got := minTwoSidedP(c.n1, c.n2); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("minTwoSidedP(%d,%d) = %v, want %v", c.n1, c.n2, got, c.want)
		}
	}
	v := judge(metric{higherBetter: true}, []float64{1, 2, 3}, []float64{10, 11, 12})
	if v.label != "n too small" {
		t.Errorf("3+3 fully separated: label %q, want n too small", v.label)
	}
}

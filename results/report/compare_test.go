package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/results"
)

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
		{"faster", "rps", "102 ±∞ 202 ±∞ +98.04% better (p=0.008 n=5+5)"},
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

// TestCompareResourcesWithIntervals: with 6 repetitions benchmath gives a
// finite 95% interval; peak RSS and server CPU per request are compared
// too, and a metric one run did not measure says so.
func TestCompareResourcesWithIntervals(t *testing.T) {
	var a, b []results.Row
	for i := range 6 {
		x := float64(i)
		a = append(a, results.Row{Cell: "c", Rep: i + 1, Status: results.StatusOK, RPS: 1000 + x, P99Us: 500,
			Requests: 10000, ServerCPUSeconds: new(1 + x/100), RSSPeakKiB: new(int64(8000 + i))})
		b = append(b, results.Row{Cell: "c", Rep: i + 1, Status: results.StatusOK, RPS: 1000 + x, P99Us: 500,
			Requests: 10000, ServerCPUSeconds: new(2 + x/100)})
	}
	var out bytes.Buffer
	if err := Compare(&out, a, b); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"rps                    1002 ±0%", "p99_us                 500 ±0%    500 ±0%    +0.00%   ~ (p=1.000 n=6+6)", "server_cpu_us_per_req  102.5 ±2%  202.5 ±1%  +97.56%  worse (p=0.002 n=6+6)", "rss_peak_kib           8002 ±0%   –          n/a      not measured (n=6+0)"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

// TestCompareThreeRepsTooFew: 3+3 repetitions cannot reach p < 0.05 with
// the U-test, however far apart; the verdict says so instead of "~".
func TestCompareThreeRepsTooFew(t *testing.T) {
	a := reps("c", []float64{100, 101, 102}, []int64{1, 1, 1})
	b := reps("c", []float64{200, 201, 202}, []int64{1, 1, 1})
	var out bytes.Buffer
	if err := Compare(&out, a, b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "n too small (n=3+3)") {
		t.Errorf("output:\n%s", out.String())
	}
}

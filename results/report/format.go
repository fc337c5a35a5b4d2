package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/asyncbench/asyncbench/results"
)

// fmtMicros renders a time in µs for prose: "50 µs", "1 ms", "2.5 ms",
// "1.2 s".
func fmtMicros(us float64) string {
	switch {
	case math.IsNaN(us):
		return "?"
	case us < 1000:
		return strconv.FormatFloat(math.Round(us), 'f', -1, 64) + " µs"
	case us < 1e6:
		return trimFloat(us/1000) + " ms"
	}
	return trimFloat(us/1e6) + " s"
}

// trimFloat has two significant digits below 10 and none above:
// 1, 2.5, 12, 340.
func trimFloat(x float64) string {
	if x >= 10 {
		return fmtCount(x)
	}
	return strconv.FormatFloat(math.Round(x*10)/10, 'f', -1, 64)
}

func pct(x float64) string {
	v := 100 * x
	if v >= 10 {
		return fmt.Sprintf("%.0f%%", v)
	}
	return fmt.Sprintf("%.1f%%", v)
}

// fmtCount rounds x to an integer and groups thousands with commas.
func fmtCount(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	s := strconv.FormatFloat(math.Abs(math.Round(x)), 'f', 0, 64)
	var b strings.Builder
	if x < 0 && s != "0" {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// distinct returns the distinct non-empty values of f over rows, in order
// of first appearance.
func distinct(rows []results.Row, f func(results.Row) string) []string {
	var out []string
	for _, r := range rows {
		if v := f(r); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func joinOr(vs []string, none string) string {
	if len(vs) == 0 {
		return none
	}
	return strings.Join(vs, "; ")
}

// mdEscape keeps s from breaking a markdown table cell.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}

package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"golang.org/x/perf/benchmath"

	"github.com/asyncbench/asyncbench/results"
)

// Alpha is the significance level of Compare.
const Alpha = 0.05

// Confidence is the level of the intervals Compare prints.
const Confidence = 0.95

// metric is one Row value compared across runs; value is NaN when the row
// did not measure it.
type metric struct {
	name         string
	higherBetter bool
	value        func(results.Row) float64
}

// compared lists the metrics Compare reports, in output order.
var compared = []metric{
	{"rps", true, func(r results.Row) float64 { return r.RPS }},
	{"p99_us", false, func(r results.Row) float64 { return float64(r.P99Us) }},
	{"rss_peak_kib", false, func(r results.Row) float64 { return optional(r.RSSPeakKiB) }},
	{"server_cpu_us_per_req", false, serverCPUPerRequest},
}

// serverCPUPerRequest is the server's CPU time per request in µs.
func serverCPUPerRequest(r results.Row) float64 {
	if r.Requests == 0 {
		return math.NaN()
	}
	return optional(r.ServerCPUSeconds) * 1e6 / float64(r.Requests)
}

// verdict is the outcome of comparing one metric of one cell.
type verdict struct {
	a, b    benchmath.Summary // median with its confidence interval
	na, nb  int
	deltaPc float64 // (B-A)/A in percent; NaN when A is 0
	p       float64 // NaN when not tested
	label   string  // "~", "better", "worse", "n too small" or "not measured"
}

// judge compares the samples of one metric as benchstat does: medians with
// confidence intervals, and a two-sided Mann–Whitney U-test at Alpha
// (benchmath.AssumeNothing). When the sample sizes cannot reach
// significance whatever the values (3+3 cannot), the label is "n too
// small" rather than "~".
func judge(m metric, xa, xb []float64) verdict {
	v := verdict{na: len(xa), nb: len(xb), p: math.NaN(), deltaPc: math.NaN()}
	th := benchmath.DefaultThresholds
	th.CompareAlpha = Alpha
	sa, sb := benchmath.NewSample(xa, &th), benchmath.NewSample(xb, &th)
	if len(xa) > 0 {
		v.a = benchmath.AssumeNothing.Summary(sa, Confidence)
	}
	if len(xb) > 0 {
		v.b = benchmath.AssumeNothing.Summary(sb, Confidence)
	}
	if len(xa) == 0 || len(xb) == 0 {
		v.label = "not measured"
		return v
	}
	if v.a.Center != 0 {
		v.deltaPc = 100 * (v.b.Center - v.a.Center) / v.a.Center
	}
	c := benchmath.AssumeNothing.Compare(sa, sb)
	switch {
	case len(xa) < 2 || len(xb) < 2:
		v.label = "n too small"
		return v
	case c.P >= c.Alpha && v.a.Center == v.b.Center:
		v.label = "~"
	case c.P >= c.Alpha && len(c.Warnings) > 0:
		v.label = "n too small" // e.g. 3+3: no outcome reaches Alpha
		return v
	case c.P >= c.Alpha:
		v.label = "~"
	case (v.b.Center > v.a.Center) == m.higherBetter:
		v.label = "better"
	default:
		v.label = "worse"
	}
	v.p = c.P
	return v
}

// cellSamples groups the values of ok rows by cell key, keeping the order
// in which cells first appear.
type cellSamples struct {
	order []string
	rows  map[string][]results.Row
}

func groupByCell(rows []results.Row) cellSamples {
	cs := cellSamples{rows: map[string][]results.Row{}}
	for _, r := range rows {
		if _, ok := cs.rows[r.Cell]; !ok {
			cs.order = append(cs.order, r.Cell)
			cs.rows[r.Cell] = nil
		}
		if r.Status.Counts() {
			cs.rows[r.Cell] = append(cs.rows[r.Cell], r)
		}
	}
	return cs
}

// values returns f of every row, leaving out rows where f is NaN (not
// measured) or infinite.
func values(rows []results.Row, f func(results.Row) float64) []float64 {
	xs := make([]float64, 0, len(rows))
	for _, r := range rows {
		if x := f(r); !math.IsNaN(x) && !math.IsInf(x, 0) {
			xs = append(xs, x)
		}
	}
	return xs
}

// Compare writes, for every cell present in both runs, the median of each
// metric in run A and run B with its 95% confidence interval, the change
// in percent and a verdict (see judge): "~" (no significant difference),
// "better" or "worse" for B, "n too small" or "not measured". Only rows
// with status ok are compared. Cells found in one run only are listed
// after.
func Compare(w io.Writer, a, b []results.Row) error {
	ga, gb := groupByCell(a), groupByCell(b)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "cell\tmetric\tA\tB\tdelta\tverdict")
	common := 0
	for _, cell := range ga.order {
		rb, ok := gb.rows[cell]
		if !ok {
			continue
		}
		common++
		ra := ga.rows[cell]
		if len(ra) == 0 || len(rb) == 0 {
			fmt.Fprintf(tw, "%s\t\t%d ok\t%d ok\t\tno ok rows to compare\n", cell, len(ra), len(rb))
			continue
		}
		for i, m := range compared {
			v := judge(m, values(ra, m.value), values(rb, m.value))
			name := cell
			if i > 0 {
				name = ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, m.name,
				fmtSummary(v.a, v.na), fmtSummary(v.b, v.nb), fmtDelta(v.deltaPc), fmtVerdict(v))
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	onlyA := missingFrom(ga.order, gb.rows)
	onlyB := missingFrom(gb.order, ga.rows)
	if len(onlyA) > 0 {
		fmt.Fprintf(w, "\nonly in A: %s\n", strings.Join(onlyA, ", "))
	}
	if len(onlyB) > 0 {
		fmt.Fprintf(w, "\nonly in B: %s\n", strings.Join(onlyB, ", "))
	}
	if common == 0 {
		return errors.New("compare: the two runs have no cell in common")
	}
	return nil
}

func missingFrom(order []string, in map[string][]results.Row) []string {
	var out []string
	for _, c := range order {
		if _, ok := in[c]; !ok {
			out = append(out, c)
		}
	}
	return out
}

// fmtSummary prints a median with its confidence interval as benchstat
// does ("1.234k ± 3%"); "–" when nothing was measured.
func fmtSummary(s benchmath.Summary, n int) string {
	switch {
	case n == 0:
		return "–"
	case n == 1:
		return fmtNum(s.Center)
	}
	return fmtNum(s.Center) + " ±" + strings.TrimPrefix(s.PctRangeString(), "±")
}

func fmtDelta(pc float64) string {
	if math.IsNaN(pc) {
		return "n/a"
	}
	return fmt.Sprintf("%+.2f%%", pc)
}

func fmtVerdict(v verdict) string {
	n := fmt.Sprintf("n=%d+%d", v.na, v.nb)
	if math.IsNaN(v.p) {
		return fmt.Sprintf("%s (%s)", v.label, n)
	}
	return fmt.Sprintf("%s (p=%.3f %s)", v.label, v.p, n)
}

// fmtNum prints x with four significant digits and a k, M or G suffix.
func fmtNum(x float64) string {
	ax := math.Abs(x)
	switch {
	case ax >= 1e9:
		return trimNum(x/1e9) + "G"
	case ax >= 1e6:
		return trimNum(x/1e6) + "M"
	case ax >= 1e4:
		return trimNum(x/1e3) + "k"
	}
	return trimNum(x)
}

func trimNum(x float64) string {
	s := fmt.Sprintf("%.4g", x)
	if strings.ContainsAny(s, "e") {
		return fmt.Sprintf("%.0f", x)
	}
	return s
}

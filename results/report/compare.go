package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/asyncbench/asyncbench/results"
)

// Alpha is the significance level of Compare.
const Alpha = 0.05

// metric is one Row value compared across runs.
type metric struct {
	name         string
	higherBetter bool
	value        func(results.Row) float64
}

// compared lists the metrics Compare reports, in output order.
var compared = []metric{
	{"rps", true, func(r results.Row) float64 { return r.RPS }},
	{"p99_us", false, func(r results.Row) float64 { return float64(r.P99Us) }},
}

// verdict is the outcome of comparing one metric of one cell.
type verdict struct {
	a, b    sample
	deltaPc float64 // (B-A)/A in percent; NaN when A is 0
	p       float64 // NaN when not tested
	label   string  // "~", "better", "worse" or "n too small"
}

// judge compares the samples of one metric. With fewer than two values on
// either side, or sizes whose smallest possible p-value is not below
// Alpha, no test is made and the label is "n too small".
func judge(m metric, xa, xb []float64) verdict {
	v := verdict{a: summarize(xa), b: summarize(xb), p: math.NaN(), deltaPc: math.NaN()}
	if v.a.median != 0 {
		v.deltaPc = 100 * (v.b.median - v.a.median) / v.a.median
	}
	if len(xa) < 2 || len(xb) < 2 || minTwoSidedP(len(xa), len(xb)) >= Alpha {
		v.label = "n too small"
		return v
	}
	v.p = mannWhitneyP(xa, xb)
	switch {
	case v.p >= Alpha || v.b.median == v.a.median:
		v.label = "~"
	case (v.b.median > v.a.median) == m.higherBetter:
		v.label = "better"
	default:
		v.label = "worse"
	}
	return v
}

// minTwoSidedP is the smallest two-sided p-value the exact Mann–Whitney
// test can give for samples of sizes n1 and n2 (complete separation):
// 2 / C(n1+n2, n1). At or above Alpha no difference can be significant.
func minTwoSidedP(n1, n2 int) float64 {
	c := 1.0
	for i := 1; i <= n1; i++ {
		c = c * float64(n2+i) / float64(i)
	}
	return math.Min(1, 2/c)
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
		if r.Status == results.StatusOK {
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
// metric in run A and run B, the change in percent and a verdict: a
// two-sided Mann–Whitney U test at Alpha decides between "~" (no
// significant difference) and "better" or "worse" for B; with fewer than
// two ok repetitions on a side, or too few for any outcome to reach
// significance (see minTwoSidedP; 3+3 cannot), the verdict is "n too
// small". Only rows with status ok are compared. Cells found in one run
// only are listed after.
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
				fmtSample(v.a), fmtSample(v.b), fmtDelta(v.deltaPc), fmtVerdict(v))
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

func fmtSample(s sample) string {
	if s.n >= 2 {
		return fmt.Sprintf("%s ±%.0f%%", fmtNum(s.median), s.spreadPct())
	}
	return fmtNum(s.median)
}

func fmtDelta(pc float64) string {
	if math.IsNaN(pc) {
		return "n/a"
	}
	return fmt.Sprintf("%+.2f%%", pc)
}

func fmtVerdict(v verdict) string {
	n := fmt.Sprintf("n=%d+%d", v.a.n, v.b.n)
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

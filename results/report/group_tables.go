package report

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncbench/asyncbench/results"
)

// fmtCell formats the ok sample of one point for a table, noting excluded
// repetitions. lower, when not nil, gets the column's figure from a
// generator-bound closed-loop row, which is then a lower bound on the
// server's (throughput): with no ok repetition the cell reads "≥ N
// (generator-bound)", N the median of those rows, else they are noted.
func fmtCell(c *cellRows, s sample, format func(float64) string, lower func(results.Row) float64) string {
	var bound []results.Row
	if lower != nil {
		for _, r := range c.saturated {
			if r.GeneratorBound() && r.Rate == 0 {
				bound = append(bound, r)
			}
		}
	}
	boundText := func() string { return "≥ " + format(summarize(values(bound, lower)).median) }
	sat := len(c.saturated) - len(bound)
	var txt string
	switch {
	case len(c.ok) == 0 && len(bound) > 0:
		txt = boundText() + " (generator-bound)"
	case len(c.ok) == 0 && len(c.saturated) > 0:
		txt = "saturated"
	case len(c.ok) == 0 && len(c.failed) > 0:
		txt = "failed"
	case len(c.ok) == 0 && len(c.noisy) > 0:
		txt = "noisy"
	case len(c.ok) == 0, s.n == 0:
		return "–"
	case s.n >= 2:
		txt = fmt.Sprintf("%s ±%.0f%%", format(s.median), s.spreadPct())
	default:
		txt = format(s.median)
	}
	var notes []string
	if len(c.ok) > 0 && len(bound) > 0 {
		notes = append(notes, fmt.Sprintf("%d generator-bound %s", len(bound), boundText()))
	}
	if sat > 0 && (len(c.ok) > 0 || len(bound) > 0) {
		notes = append(notes, fmt.Sprintf("%d sat.", sat))
	}
	if len(c.ok) > 0 && len(c.failed) > 0 {
		notes = append(notes, fmt.Sprintf("%d failed", len(c.failed)))
	}
	if len(c.ok) > 0 && len(c.noisy) > 0 {
		notes = append(notes, fmt.Sprintf("%d noisy", len(c.noisy)))
	}
	if len(notes) > 0 {
		txt += " (" + strings.Join(notes, ", ") + ")"
	}
	return txt
}

func fmtMiB(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }

// groupColumns describes one table of a group: two columns per backend,
// their getters and formats, and per column the figure a generator-bound
// row bounds from below (nil for none).
type groupColumns struct {
	title  string
	cols   [2]string
	get    [2]func(results.Row) float64
	format [2]func(float64) string
	lower  [2]func(results.Row) float64
}

// groupTables are the throughput/latency table and the cost table of g.
// The p99 of a point is that of its ok rounds' histograms summed, with
// its 95% interval (results.Tails), read from the .hlog files under dir;
// where they cannot be read, the median over rounds.
func groupTables(dir string, g *group) []block {
	var out []block
	for _, gc := range []groupColumns{
		{"Throughput and tail latency:", [2]string{"req/s", p99Column}, [2]func(results.Row) float64{getRPS, getP99},
			[2]func(float64) string{fmtCount, fmtCount}, [2]func(results.Row) float64{getRPS, nil}},
		{"Server cost:", [2]string{"RSS peak MiB", "req per CPU-s"}, [2]func(results.Row) float64{getRSSMiB, getReqCPU},
			[2]func(float64) string{fmtMiB, fmtCount}, [2]func(results.Row) float64{}},
	} {
		out = append(out, para(gc.title), gc.table(dir, g))
	}
	return out
}

// table is one table of g: a line per connection count.
func (gc groupColumns) table(dir string, g *group) table {
	t := table{head: []string{"conns"}, right: []bool{true}}
	for _, be := range g.backends {
		t.head = append(t.head, mdEscape(be)+" "+gc.cols[0], mdEscape(be)+" "+gc.cols[1])
		t.right = append(t.right, true, true)
	}
	for _, c := range g.conns {
		row := []string{strconv.Itoa(c)}
		for _, be := range g.backends {
			cr := g.at(be, c)
			for i := range 2 {
				txt := fmtCell(cr, g.okSample(be, c, gc.get[i]), gc.format[i], gc.lower[i])
				if tail, ok := tailText(dir, cr); ok && gc.cols[i] == p99Column {
					// Keep fmtCell's notes on the other rounds: "(1 failed)".
					_, notes, _ := strings.Cut(txt, " (")
					txt = tail
					if notes != "" {
						txt += " (" + notes
					}
				}
				row = append(row, txt)
			}
		}
		t.rows = append(t.rows, row)
	}
	return t
}

// p99Column heads the tables' p99 column.
const p99Column = "p99 µs [95%]"

// tailText is the p99 of c's ok rounds, histograms summed, with its 95%
// interval and a warning when few samples lie beyond it; ok is false when
// there is no ok round or a .hlog cannot be read.
func tailText(dir string, c *cellRows) (string, bool) {
	if len(c.ok) == 0 {
		return "", false
	}
	rounds := make([][]*hdrhistogram.Histogram, 0, len(c.ok))
	for _, r := range c.ok {
		if r.Hlog == "" {
			return "", false
		}
		ivs, err := results.ReadIntervals(hlogPath(dir, r))
		if err != nil {
			return "", false
		}
		rounds = append(rounds, ivs)
	}
	t, err := results.NewTails(rounds)
	if err != nil {
		return "", false
	}
	return fmtPercentile(t.Percentile(99, rand.New(rand.NewPCG(uint64(t.Count()), 99)))), true
}

package report

import (
	"cmp"
	"errors"
	"fmt"
	"image/color"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/asyncbench/asyncbench/results"
)

// sloBlocks is the section of a bench slo run: when dir holds slo.csv,
// its answers as a table and the plot of p99 against offered rate.
func sloBlocks(dir string, rows []results.Row, warn io.Writer) ([]block, error) {
	if warn == nil {
		warn = io.Discard
	}
	answers, err := results.ReadSLOFile(dir, warn)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(answers) == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	target := time.Duration(answers[0].TargetP99Us) * time.Microsecond
	out := []block{heading{2, "Highest rate under a p99 target"},
		para(fmt.Sprintf("From `bench slo` (slo.csv): per backend the highest open-loop rate whose corrected p99 stayed at or under %v "+
			"with zero errors, the generator on schedule, the server answering at least 98%% of the offered rate and a quiet host, "+
			"found by doubling (or halving) and bisecting to 2%%. Each rate is judged on the 1 s interval histograms of its runs pooled: "+
			"it meets when the pooled p99's 95%% interval (two-stage bootstrap over runs and intervals) lies at or below the target, "+
			"misses when above; while the interval holds the target the rate is run again on a fresh server, at most 3 runs, "+
			"and then the pooled p99 decides (*close*). Both ends of the final bracket rest on at least two runs where they can. "+
			"The p99 and its interval are those of the answer's pooled runs. The rate has no interval of its own: "+
			"the bracket (highest rate that met – lowest that missed) is the resolution of the answer. "+
			"Undecided is the range of rates whose p99 stayed within its interval of the target (from the lowest rate that did not meet with its interval under it to the highest that did not miss with its interval over it): "+
			"where it is wide, p99 is near the target over that range and the answer falls anywhere in it by chance. "+
			"The runs that did not count are crosses on the plot; those flagged saturated, noisy or failed are also listed below.", target)),
		sloTable(answers),
		figure{"p99 against offered rate", SLOPlotBase}}
	return out, WriteSLOPlot(dir, target, rows, answers)
}

// sloTable is one line per answer of slo.csv.
func sloTable(answers []results.SLORow) table {
	t := table{head: []string{"backend", "workload", "conns", "max rate req/s", "bracket req/s", "undecided req/s", "p99 there µs", "95% interval µs", "runs", "steps", "note"},
		right: []bool{false, false, true, true, false, false, true, false, true, true, false}}
	for _, a := range answers {
		rate, p99, ci, runs := "none", "–", "–", "–"
		if a.MaxRate != nil {
			rate = fmtCount(*a.MaxRate)
		}
		if a.P99AtMaxUs != nil {
			p99 = fmtCount(float64(*a.P99AtMaxUs))
		}
		if a.P99LoUs != nil && a.P99HiUs != nil {
			ci = fmtCount(float64(*a.P99LoUs)) + "–" + fmtCount(float64(*a.P99HiUs))
		}
		if a.Runs != nil {
			runs = strconv.Itoa(*a.Runs)
			if a.Close != nil && *a.Close {
				runs += ", close"
			}
		}
		t.rows = append(t.rows, []string{mdEscape(a.Backend), mdEscape(a.Workload), strconv.Itoa(a.Conns),
			rate, a.BracketText(fmtCount), a.UndecidedText(fmtCount), p99, ci, runs, strconv.Itoa(a.Steps), mdEscape(a.Reason)})
	}
	return t
}

// SLOPlotBase is the file stem of bench slo's plot under DIR/plots.
const SLOPlotBase = "slo-p99"

// WriteSLOPlot draws, into dir/plots/slo-p99.png and .svg, the p99 of every
// open-loop step in rows against its offered rate, one series per backend
// (label): steps that counted as filled glyphs joined in rate order, steps
// that did not (errors, saturated, server behind, noisy, failed) as crosses; a horizontal
// line at the target; and a vertical line at each backend's answer.
func WriteSLOPlot(dir string, target time.Duration, rows []results.Row, answers []results.SLORow) error {
	rows = byLabel(rows)
	styles := newStyles(rows)
	p := newPlot(fmt.Sprintf("p99 latency against offered rate (target %v)\nopen loop, latency from the intended send; × = a step that did not count (errors, saturated, server behind, noisy, failed)", target),
		"offered rate (req/s)", "p99 latency (µs)")
	tgt := float64(target.Microseconds())
	ymin, ymax := tgt, tgt
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for _, b := range distinct(rows, func(r results.Row) string { return r.Backend }) {
		var good, bad plotter.XYs
		for _, r := range rows {
			if r.Backend != b || r.Rate <= 0 {
				continue
			}
			y := float64(r.P99Us)
			if y <= 0 {
				y = tgt // nothing measured: draw the failure at the target
			}
			xy := plotter.XY{X: r.Rate, Y: y}
			xmin, xmax = math.Min(xmin, r.Rate), math.Max(xmax, r.Rate)
			ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
			if r.Status.Counts() && r.Errors == 0 && !r.Saturated && !r.FellBehind() {
				good = append(good, xy)
			} else {
				bad = append(bad, xy)
			}
		}
		st := styles[b]
		if len(good) > 0 {
			slices.SortFunc(good, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
			line, pts, err := plotter.NewLinePoints(good)
			if err != nil {
				return fmt.Errorf("slo plot: %w", err)
			}
			line.Color, pts.Color, pts.Shape = st.color, st.color, st.glyph
			p.Add(line, pts)
			p.Legend.Add(b, line, pts)
		}
		if len(bad) > 0 {
			sc, err := plotter.NewScatter(bad)
			if err != nil {
				return fmt.Errorf("slo plot: %w", err)
			}
			sc.Color, sc.Shape, sc.Radius = st.color, draw.CrossGlyph{}, vg.Points(4)
			p.Add(sc)
			if len(good) == 0 {
				p.Legend.Add(b, sc)
			}
		}
		for _, a := range answers {
			if a.Backend == b && a.MaxRate != nil {
				if err := addVLine(p, *a.MaxRate, st.color); err != nil {
					return err
				}
			}
		}
	}
	if math.IsInf(xmin, 1) {
		return nil // no open-loop step: nothing to draw
	}
	hl, err := plotter.NewLine(plotter.XYs{{X: xmin / 1.5, Y: tgt}, {X: xmax * 1.5, Y: tgt}})
	if err != nil {
		return fmt.Errorf("slo plot: %w", err)
	}
	hl.Color, hl.Dashes = palette[6], []vg.Length{vg.Points(6), vg.Points(3)}
	p.Add(hl)
	p.Legend.Add(fmt.Sprintf("target %v", target), hl)
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.TickerFunc(logTicks)
	p.X.Min, p.X.Max = xmin/1.5, xmax*1.5
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.TickerFunc(logTicks)
	p.Y.Min, p.Y.Max = math.Max(ymin/1.5, 1), ymax*4
	if err := os.MkdirAll(filepath.Join(dir, "plots"), 0o755); err != nil {
		return fmt.Errorf("slo plot: %w", err)
	}
	return savePlot(p, filepath.Join(dir, "plots", SLOPlotBase))
}

// addVLine marks x with a thin vertical line across the plot's y range
// (drawn from 1 µs to 100 s, clipped by the axis limits).
func addVLine(p *plot.Plot, x float64, c color.Color) error {
	l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 1}, {X: x, Y: 1e8}})
	if err != nil {
		return fmt.Errorf("slo plot: %w", err)
	}
	l.Color = c
	l.Width = vg.Points(1)
	l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
	p.Add(l)
	return nil
}

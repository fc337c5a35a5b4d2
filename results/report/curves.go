package report

import (
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/asyncbench/asyncbench/results"
)

// LittleNote says what closed-loop p99 measures; the report repeats it
// wherever closed-loop p99 is shown.
const LittleNote = "Closed-loop p99 is mostly queueing in the generator's own loop: each connection waits for its previous answer, " +
	"so the mean latency is about connections ÷ throughput (Little's law); compare latency at equal offered load (open loop) instead."

// littleNoteBlocks repeats LittleNote under "At a glance" when the run
// has closed-loop rows, whose p99 the verdicts compare.
func littleNoteBlocks(rows []results.Row) []block {
	if slices.ContainsFunc(rows, func(r results.Row) bool { return r.Rate == 0 && r.RateFraction == nil }) {
		return []block{para(LittleNote)}
	}
	return nil
}

// curveKey is one latency–throughput curve: a workload at a connection
// count, across its open-loop rates (config.curve).
type curveKey config

func (k curveKey) title() string {
	t := config(k).withoutCPUs().group().Title()
	t = t[:len(t)-len(", closed loop")]
	t = fmt.Sprintf("%s, %d connections", t, k.conns)
	if k.serverCPUs > 0 {
		t += ", " + cpusWords(k.serverCPUs)
	}
	return t
}

func (k curveKey) slug() string {
	s := config(k).withoutCPUs().group().Slug()
	s = s[:len(s)-len("-closed")] + "-c" + strconv.Itoa(k.conns)
	if k.serverCPUs > 0 {
		s += "-s" + strconv.Itoa(k.serverCPUs)
	}
	return s + "-curve"
}

// curvePoint is one open-loop rate of one backend: medians over the ok
// rounds, or over the saturated ones when none is ok (Saturated).
type curvePoint struct {
	offered               string // "10,000 req/s" or "50% of capacity"
	rateSort              float64
	rps, p50, p99, p999   float64
	saturated             bool
	okRounds, satRounds   int
	excludedNoisyOrFailed int
}

// curve is the points of one curveKey by backend.
type curve struct {
	key    curveKey
	points map[string][]curvePoint
}

// buildCurves collects the open-loop rows into curves, keeping those where
// some backend has at least two open-loop points.
func buildCurves(rows []results.Row) []*curve {
	type rk struct {
		c       curveKey
		backend string
		rate    string
	}
	buckets := map[rk][]results.Row{}
	var order []rk
	for _, r := range rows {
		if r.Rate <= 0 && r.RateFraction == nil {
			continue
		}
		rate := strconv.FormatFloat(r.Rate, 'f', -1, 64)
		if r.RateFraction != nil {
			rate = "f" + strconv.FormatFloat(*r.RateFraction, 'f', -1, 64)
		}
		k := rk{configOf(r).curve(), r.Backend, rate}
		if _, ok := buckets[k]; !ok {
			order = append(order, k)
		}
		buckets[k] = append(buckets[k], r)
	}
	byKey := map[curveKey]*curve{}
	for _, k := range order {
		p, ok := newCurvePoint(buckets[k])
		if !ok {
			continue
		}
		c, found := byKey[k.c]
		if !found {
			c = &curve{key: k.c, points: map[string][]curvePoint{}}
			byKey[k.c] = c
		}
		c.points[k.backend] = append(c.points[k.backend], p)
	}
	var out []*curve
	for _, c := range byKey {
		enough := false
		for b, pts := range c.points {
			slices.SortFunc(pts, func(x, y curvePoint) int { return cmp.Compare(x.rateSort, y.rateSort) })
			c.points[b] = pts
			enough = enough || len(pts) >= 2
		}
		if enough {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *curve) int {
		return cmp.Or(cmp.Compare(a.key.proto, b.key.proto), cmp.Compare(a.key.workload, b.key.workload),
			cmp.Compare(a.key.handler, b.key.handler), cmp.Compare(a.key.mix, b.key.mix),
			cmp.Compare(a.key.pipeline, b.key.pipeline), cmp.Compare(a.key.payload, b.key.payload),
			cmp.Compare(a.key.conns, b.key.conns), cmp.Compare(a.key.serverCPUs, b.key.serverCPUs))
	})
	return out
}

// newCurvePoint summarises the rows of one backend at one open-loop rate:
// medians over the ok rounds, or over the saturated ones when none is ok.
// ok is false when neither kind has a row.
func newCurvePoint(rows []results.Row) (curvePoint, bool) {
	var ok, sat []results.Row
	other := 0
	for _, r := range rows {
		switch {
		case r.Status.Counts() && !r.FellBehind():
			ok = append(ok, r)
		case r.Status.Counts(), r.Status == results.StatusSaturated:
			sat = append(sat, r) // not a steady state: the generator or the server fell behind
		default:
			other++
		}
	}
	use := ok
	if len(use) == 0 {
		use = sat
	}
	if len(use) == 0 {
		return curvePoint{}, false
	}
	r0 := use[0]
	p := curvePoint{
		rps:       summarize(values(use, getRPS)).median,
		p50:       summarize(values(use, func(r results.Row) float64 { return float64(r.P50Us) })).median,
		p99:       summarize(values(use, getP99)).median,
		p999:      summarize(values(use, func(r results.Row) float64 { return float64(r.P999Us) })).median,
		saturated: len(ok) == 0, okRounds: len(ok), satRounds: len(sat), excludedNoisyOrFailed: other,
	}
	if r0.RateFraction != nil {
		p.offered = trimFloat(100*(*r0.RateFraction)) + "% of capacity"
		p.rateSort = *r0.RateFraction * 1e12 // after every absolute rate
	} else {
		p.offered = fmtCount(r0.Rate) + " req/s"
		p.rateSort = r0.Rate
	}
	return p, true
}

func (c *curve) backends() []string {
	var bs []string
	for b := range c.points {
		bs = append(bs, b)
	}
	slices.Sort(bs)
	return bs
}

// percentiles drawn on a curve, with their line dashes.
var curvePercentiles = []struct {
	name   string
	get    func(curvePoint) float64
	dashes []vg.Length
	width  vg.Length
}{
	{"p50", func(p curvePoint) float64 { return p.p50 }, []vg.Length{vg.Points(1), vg.Points(3)}, vg.Points(1)},
	{"p99", func(p curvePoint) float64 { return p.p99 }, nil, vg.Points(1.5)},
	{"p99.9", func(p curvePoint) float64 { return p.p999 }, []vg.Length{vg.Points(6), vg.Points(3)}, vg.Points(1)},
}

// curvePlot draws p50, p99 and p99.9 (log y) against achieved throughput,
// one colour per backend; saturated points are crosses, off the lines.
func curvePlot(c *curve, styles map[string]style) (*plot.Plot, error) {
	p := newPlot(fmt.Sprintf("Latency against throughput (open loop)\n%s\nmedian over rounds; p50 dotted, p99 solid, p99.9 dashed; × = generator or server fell behind", c.key.title()),
		"achieved throughput (req/s)", "latency (µs, from the intended send)")
	ymin, ymax := math.Inf(1), math.Inf(-1)
	xmax := 0.0
	for _, b := range c.backends() {
		st := styles[b]
		for i, pc := range curvePercentiles {
			var line, sat plotter.XYs
			for _, pt := range c.points[b] {
				y := pc.get(pt)
				if y <= 0 {
					continue
				}
				xy := plotter.XY{X: pt.rps, Y: y}
				ymin, ymax, xmax = math.Min(ymin, y), math.Max(ymax, y), math.Max(xmax, pt.rps)
				if pt.saturated {
					sat = append(sat, xy)
				} else {
					line = append(line, xy)
				}
			}
			if len(line) > 0 {
				// Joined in order of throughput: a fraction's rate is not
				// comparable with the absolute ones.
				slices.SortFunc(line, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
				l, pts, err := plotter.NewLinePoints(line)
				if err != nil {
					return nil, fmt.Errorf("curve %s: %w", b, err)
				}
				l.Color, l.Dashes, l.Width = st.color, pc.dashes, pc.width
				pts.Color, pts.Shape = st.color, st.glyph
				p.Add(l, pts)
				if i == 1 {
					p.Legend.Add(b, l, pts)
				}
			}
			if len(sat) > 0 {
				sc, err := plotter.NewScatter(sat)
				if err != nil {
					return nil, fmt.Errorf("curve %s: %w", b, err)
				}
				sc.Color, sc.Shape, sc.Radius = st.color, draw.CrossGlyph{}, vg.Points(5)
				p.Add(sc)
			}
		}
	}
	if math.IsInf(ymin, 1) {
		return nil, nil
	}
	p.X.Min, p.X.Max = 0, xmax*1.1
	p.X.Tick.Marker = plot.TickerFunc(linearTicks)
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.TickerFunc(logTicks)
	p.Y.Min, p.Y.Max = math.Max(ymin/1.5, 1), ymax*6 // headroom for the legend
	return p, nil
}

// curveBlocks is the section "Latency against throughput": per
// workload and connection count with at least two open-loop rates, the
// curve plot and a table of its points.
func curveBlocks(dir string, rows []results.Row, styles map[string]style) ([]block, error) {
	curves := buildCurves(rows)
	if len(curves) == 0 {
		return nil, nil
	}
	out := []block{heading{2, "Latency against throughput"},
		para("Each point is one open-loop rate: latency from the intended send (coordinated omission corrected) " +
			"against the throughput achieved, median over the ok rounds. A point where every round fell behind is drawn as a cross from " +
			"those rounds: the generator could not keep its schedule (saturated), or the server answered less than 98% of the offered rate, " +
			"so requests queued for the whole window and its latency grows with the window's length. Noisy and failed rounds are left out. " +
			LittleNote)}
	for _, c := range curves {
		out = append(out, heading{3, c.key.title()}, curveTable(c))
		p, err := curvePlot(c, styles)
		if err != nil {
			return nil, err
		}
		if p == nil {
			continue
		}
		base := c.key.slug()
		if err := savePlot(p, filepath.Join(dir, "plots", base)); err != nil {
			return nil, err
		}
		out = append(out, figure{"Latency against throughput, " + c.key.title(), base})
	}
	return out, nil
}

// curveTable is the points of c, backend by backend.
func curveTable(c *curve) table {
	t := table{head: []string{"backend", "offered", "achieved req/s", "p50 µs", "p99 µs", "p99.9 µs", "rounds"},
		right: []bool{false, false, true, true, true, true, false}}
	for _, be := range c.backends() {
		for _, pt := range c.points[be] {
			rounds := fmt.Sprintf("%d ok", pt.okRounds)
			if pt.saturated {
				rounds = fmt.Sprintf("**not steady** (%d saturated or server behind)", pt.satRounds)
			} else if pt.satRounds > 0 {
				rounds += fmt.Sprintf(", %d not steady", pt.satRounds)
			}
			if pt.excludedNoisyOrFailed > 0 {
				rounds += fmt.Sprintf(", %d noisy or failed", pt.excludedNoisyOrFailed)
			}
			t.rows = append(t.rows, []string{mdEscape(be), pt.offered, fmtCount(pt.rps), fmtCount(pt.p50), fmtCount(pt.p99), fmtCount(pt.p999), rounds})
		}
	}
	return t
}

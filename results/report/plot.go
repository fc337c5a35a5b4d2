package report

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/asyncbench/asyncbench/results"

	"github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Plot geometry: PlotWidth × PlotHeight at PlotDPI gives the PNG size in
// pixels (960 × 600).
const (
	PlotWidth  = 8 * vg.Inch
	PlotHeight = 5 * vg.Inch
	PlotDPI    = 120
)

// palette is the Okabe–Ito colour-blind-safe set.
var palette = []color.Color{
	color.RGBA{0x00, 0x72, 0xB2, 0xff}, // blue
	color.RGBA{0xD5, 0x5E, 0x00, 0xff}, // vermillion
	color.RGBA{0x00, 0x9E, 0x73, 0xff}, // bluish green
	color.RGBA{0xCC, 0x79, 0xA7, 0xff}, // reddish purple
	color.RGBA{0xE6, 0x9F, 0x00, 0xff}, // orange
	color.RGBA{0x56, 0xB4, 0xE9, 0xff}, // sky blue
	color.RGBA{0x00, 0x00, 0x00, 0xff}, // black
	color.RGBA{0xF0, 0xE4, 0x42, 0xff}, // yellow
}

var glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.RingGlyph{},
	draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{},
}

// style is how one backend is drawn in every plot.
type style struct {
	color color.Color
	glyph draw.GlyphDrawer
}

// newStyles gives every backend in rows a fixed colour and glyph, so a
// backend looks the same in all plots of a report.
func newStyles(rows []results.Row) map[string]style {
	names := distinct(rows, func(r results.Row) string { return r.Backend })
	slices.Sort(names)
	m := make(map[string]style, len(names))
	for i, n := range names {
		m[n] = style{palette[i%len(palette)], glyphs[i%len(glyphs)]}
	}
	return m
}

// plotRef names a written plot: files plots/<base>.png and .svg.
type plotRef struct {
	title string
	base  string
}

// writeGroupPlots draws the plots of one group into dir/plots. Notes
// explain plots that could not be drawn.
func writeGroupPlots(dir string, g *group, styles map[string]style) ([]plotRef, []string, error) {
	var refs []plotRef
	var notes []string
	slug := g.key.Slug()
	title := g.key.Title()
	vsConns := []struct {
		suffix, what, ylabel string
		get                  func(results.Row) float64
		logY                 bool
	}{
		{"rps", "Throughput", "throughput (req/s)", getRPS, false},
		{"p99", "p99 latency", "p99 latency (µs)", getP99, true},
		{"rss", "Server RSS peak", "RSS peak (MiB)", getRSSMiB, false},
	}
	for _, v := range vsConns {
		p, ok, err := connsPlot(g, styles, v.what+" vs connections\n"+title+"\n"+g.plotCaption(), v.ylabel, v.get, v.logY)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		base := slug + "-" + v.suffix
		if err := savePlot(p, filepath.Join(dir, "plots", base)); err != nil {
			return nil, nil, err
		}
		refs = append(refs, plotRef{v.what + " vs connections", base})
	}

	conns, _ := g.judgeConns()
	if conns == 0 {
		return refs, notes, nil
	}
	var series []spectrumSeries
	for _, b := range g.backends {
		ok := g.at(b, conns).ok
		if len(ok) == 0 {
			continue
		}
		h, err := cellHistogram(dir, ok)
		if err != nil {
			notes = append(notes, fmt.Sprintf("No latency spectrum for %s at %d connections: %v.", b, conns, err))
			continue
		}
		s := spectrumSeries{backend: b, h: h}
		if len(ok) > 1 {
			for _, r := range ok {
				if rh, err := cellHistogram(dir, []results.Row{r}); err == nil {
					s.rounds = append(s.rounds, rh)
				}
			}
		}
		series = append(series, s)
	}
	if len(series) == 0 {
		return refs, notes, nil
	}
	p, err := spectrumPlot(series, styles, fmt.Sprintf("Latency by percentile at %d connections\n%s\n%s", conns, title, g.spectrumCaption()))
	if err != nil {
		return nil, nil, err
	}
	base := slug + "-spectrum"
	if err := savePlot(p, filepath.Join(dir, "plots", base)); err != nil {
		return nil, nil, err
	}
	refs = append(refs, plotRef{fmt.Sprintf("Latency percentile spectrum at %d connections", conns), base})
	return refs, notes, nil
}

// cellHistogram merges the .hlog files of the given repetitions.
func cellHistogram(dir string, rows []results.Row) (*hdrhistogram.Histogram, error) {
	var paths []string
	for _, r := range rows {
		if r.Hlog == "" {
			return nil, fmt.Errorf("rep %d has no hlog", r.Rep)
		}
		paths = append(paths, hlogPath(dir, r))
	}
	h, _, err := results.MergeHlogs(paths)
	return h, err
}

// newPlot returns a plot with the common look.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(12)
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Legend.Top = true // top right, above the headroom the axes leave for it
	p.Legend.Padding = vg.Points(4)
	p.Legend.ThumbnailWidth = vg.Points(24)
	p.Add(plotter.NewGrid())
	return p
}

// connsPlot draws metric get of the ok rows against connections, one line
// per backend, with the min–max range of the repetitions as error bars. It
// reports false when no point is ok or every value is zero.
func connsPlot(g *group, styles map[string]style, title, ylabel string, get func(results.Row) float64, logY bool) (*plot.Plot, bool, error) {
	p := newPlot(title, "connections", ylabel)
	drawn := false
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for i, b := range g.backends {
		var xys plotter.XYs
		var errs plotter.YErrors
		for _, c := range g.conns {
			s := g.okSample(b, c, get)
			if s.n == 0 {
				continue
			}
			xys = append(xys, plotter.XY{X: dodgeLog(float64(c), i, len(g.backends)), Y: s.median})
			errs = append(errs, struct{ Low, High float64 }{s.median - s.min, s.max - s.median})
			ymin, ymax = math.Min(ymin, s.min), math.Max(ymax, s.max)
		}
		if len(xys) == 0 {
			continue
		}
		drawn = true
		st := styles[b]
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, false, fmt.Errorf("plot %s: %w", b, err)
		}
		line.Color = st.color
		line.Width = vg.Points(1.5)
		points.Shape = st.glyph
		points.Color = st.color
		points.Radius = vg.Points(3.5)
		p.Add(line, points)
		p.Legend.Add(b, line, points)
		if slices.ContainsFunc(errs, func(e struct{ Low, High float64 }) bool { return e.Low > 0 || e.High > 0 }) {
			eb, err := plotter.NewYErrorBars(struct {
				plotter.XYs
				plotter.YErrors
			}{xys, errs})
			if err != nil {
				return nil, false, fmt.Errorf("plot %s: %w", b, err)
			}
			eb.Color = st.color
			eb.Width = vg.Points(1)
			p.Add(eb)
		}
	}
	if !drawn || ymax <= 0 {
		return nil, false, nil // nothing measured, or a metric not recorded
	}
	setConnsAxis(&p.X, g.conns)
	if logY && ymin > 0 && ymax/ymin > 20 {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.TickerFunc(logTicks)
		p.Y.Min, p.Y.Max = ymin/1.3, ymax*4 // headroom for the legend
	} else {
		p.Y.Tick.Marker = plot.TickerFunc(linearTicks)
		p.Y.Min, p.Y.Max = 0, math.Max(ymax*1.4, 1) // headroom for the legend
	}
	return p, true, nil
}

// setConnsAxis makes a log-scaled connections axis with a tick at each
// measured count; a single count gets room on both sides.
func setConnsAxis(a *plot.Axis, conns []int) {
	lo, hi := float64(conns[0]), float64(conns[len(conns)-1])
	a.Scale = plot.LogScale{}
	a.Min, a.Max = lo/1.25, hi*1.25
	if lo == hi {
		a.Min, a.Max = lo/2, hi*2
	}
	ticks := make([]plot.Tick, 0, len(conns))
	for _, c := range conns {
		ticks = append(ticks, plot.Tick{Value: float64(c), Label: strconv.Itoa(c)})
	}
	a.Tick.Marker = plot.ConstantTicks(ticks)
}

// linearTicks puts five to ten labelled ticks at a round step (1, 2 or 5
// times a power of ten) with one unlabelled tick between each pair.
func linearTicks(min, max float64) []plot.Tick {
	step := niceStep(max - min)
	if step <= 0 {
		return nil
	}
	var ticks []plot.Tick
	for v := math.Ceil(min/step) * step; v <= max+step*1e-9; v += step {
		v := math.Round(v/step) * step // keep labels clean of float drift
		ticks = append(ticks, plot.Tick{Value: v, Label: fmtNum(v)})
		if mid := v + step/2; mid <= max {
			ticks = append(ticks, plot.Tick{Value: mid})
		}
	}
	return ticks
}

// niceStep returns the round step that cuts span into five to ten parts.
func niceStep(span float64) float64 {
	if !(span > 0) || math.IsInf(span, 0) {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(span)))
	for _, m := range []float64{0.1, 0.2, 0.5, 1, 2} {
		if span/(m*p) <= 10 {
			return m * p
		}
	}
	return 5 * p
}

// logTicks labels 1, 2 and 5 times each power of ten and puts unlabelled
// minor ticks at the other multiples.
func logTicks(min, max float64) []plot.Tick {
	if min <= 0 || max <= min {
		return nil
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(min)); math.Pow(10, e) <= max; e++ {
		base := math.Pow(10, e)
		for m := 1; m < 10; m++ {
			v := base * float64(m)
			if v < min || v > max {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = fmtNum(v)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// percentileX maps a percentile (99.9 for p99.9) to the spectrum plot's x
// coordinate 1/(1−p): 0% → 1, 90% → 10, 99% → 100, 99.9% → 1000.
func percentileX(percent float64) float64 {
	return 1 / (1 - percent/100)
}

// xPercentile is the inverse of percentileX.
func xPercentile(x float64) float64 {
	return 100 * (1 - 1/x)
}

// percentileTicks labels each power of ten of the spectrum axis with its
// percentile (0%, 90%, 99%, 99.9%, …) up to max.
func percentileTicks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for e := 0; math.Pow(10, float64(e)) <= max*1.0001; e++ {
		base := math.Pow(10, float64(e))
		ticks = append(ticks, plot.Tick{Value: base, Label: percentLabel(e)})
		for m := 2; m < 10 && base*float64(m) <= max; m++ {
			t := plot.Tick{Value: base * float64(m)}
			if e == 0 && m == 2 {
				t.Label = "50%" // x = 1/(1−0.5)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// percentLabel is the label of x = 10^nines: "0%", "90%", "99%", "99.9%".
func percentLabel(nines int) string {
	switch {
	case nines <= 0:
		return "0%"
	case nines == 1:
		return "90%"
	case nines == 2:
		return "99%"
	}
	return "99." + string(slices.Repeat([]byte{'9'}, nines-2)) + "%"
}

// spectrumSeries is one backend's latency histogram, merged over its
// repetitions, and each repetition's own when there are several.
type spectrumSeries struct {
	backend string
	h       *hdrhistogram.Histogram
	rounds  []*hdrhistogram.Histogram
}

// spectrumPoints samples h along the percentile axis, 20 points per
// decade, from the 0th percentile up to x = TotalCount (beyond it the tail
// holds less than one value), where the curve ends at the maximum.
func spectrumPoints(h *hdrhistogram.Histogram) plotter.XYs {
	n := h.TotalCount()
	if n == 0 {
		return nil
	}
	xmax := math.Max(1, float64(n))
	var xys plotter.XYs
	const perDecade = 20
	for i := 0; ; i++ {
		x := math.Pow(10, float64(i)/perDecade)
		if x > xmax {
			break
		}
		v := h.ValueAtQuantile(xPercentile(x))
		xys = append(xys, plotter.XY{X: x, Y: float64(v)})
	}
	// The curve ends at the maximum, drawn where the last value sits.
	if xys[len(xys)-1].X >= xmax {
		xys = xys[:len(xys)-1]
	}
	return append(xys, plotter.XY{X: xmax, Y: float64(h.Max())})
}

// spectrumPlot draws latency against percentile for each series.
func spectrumPlot(series []spectrumSeries, styles map[string]style, title string) (*plot.Plot, error) {
	if len(series) == 0 {
		return nil, errors.New("no histogram to plot")
	}
	p := newPlot(title, "percentile", "latency (µs)")
	p.Legend.Top = false // curves rise to the right and top: the bottom right is free
	xmax := 10.0
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		xys := spectrumPoints(s.h)
		if len(xys) == 0 {
			continue
		}
		for i := range xys {
			xys[i].Y = math.Max(xys[i].Y, 1) // log axis: sub-µs counts as 1 µs
			ymin, ymax = math.Min(ymin, xys[i].Y), math.Max(ymax, xys[i].Y)
		}
		xmax = math.Max(xmax, xys[len(xys)-1].X)
		st := styles[s.backend]
		for _, rh := range s.rounds {
			rxys := spectrumPoints(rh)
			if len(rxys) == 0 {
				continue
			}
			for i := range rxys {
				rxys[i].Y = math.Max(rxys[i].Y, 1)
				ymin, ymax = math.Min(ymin, rxys[i].Y), math.Max(ymax, rxys[i].Y)
			}
			xmax = math.Max(xmax, rxys[len(rxys)-1].X)
			rl, err := plotter.NewLine(rxys)
			if err != nil {
				return nil, fmt.Errorf("plot %s: %w", s.backend, err)
			}
			rl.Color = faded(st.color)
			rl.Width = vg.Points(0.7)
			p.Add(rl)
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("plot %s: %w", s.backend, err)
		}
		line.Color = st.color
		line.Width = vg.Points(2)
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%s (n=%s)", s.backend, fmtNum(float64(s.h.TotalCount()))), line)
	}
	if math.IsInf(ymin, 0) {
		return nil, errors.New("all histograms are empty")
	}
	p.X.Scale = plot.LogScale{}
	p.X.Min = 1
	p.X.Max = math.Pow(10, math.Ceil(math.Log10(xmax)-1e-9))
	p.X.Tick.Marker = plot.TickerFunc(percentileTicks)
	if ymax/ymin > 20 {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.TickerFunc(logTicks)
		p.Y.Min, p.Y.Max = ymin/1.3, ymax*1.3
	} else {
		p.Y.Tick.Marker = plot.TickerFunc(linearTicks)
		p.Y.Min, p.Y.Max = 0, ymax*1.12
	}
	return p, nil
}

// savePlot writes p as base.png (at PlotDPI) and base.svg.
func savePlot(p *plot.Plot, base string) error {
	c := vgimg.NewWith(vgimg.UseWH(PlotWidth, PlotHeight), vgimg.UseDPI(PlotDPI))
	p.Draw(draw.New(c))
	if err := writeTo(base+".png", vgimg.PngCanvas{Canvas: c}); err != nil {
		return err
	}
	if err := p.Save(PlotWidth, PlotHeight, base+".svg"); err != nil {
		return fmt.Errorf("save %s.svg: %w", base, err)
	}
	return nil
}

// writeTo writes wt to a new file at path.
func writeTo(path string, wt io.WriterTo) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := wt.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

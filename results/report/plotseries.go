package report

import (
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// errorBars adds min–max bars to p when any has a length.
func errorBars(p *plot.Plot, xys plotter.XYs, errs plotter.YErrors, st style) error {
	if !slices.ContainsFunc(errs, func(e struct{ Low, High float64 }) bool { return e.Low > 0 || e.High > 0 }) {
		return nil
	}
	eb, err := plotter.NewYErrorBars(struct {
		plotter.XYs
		plotter.YErrors
	}{xys, errs})
	if err != nil {
		return err
	}
	eb.Color = st.color
	eb.Width = vg.Points(1)
	p.Add(eb)
	return nil
}

// addSeries draws one backend's line with points and bars.
func addSeries(p *plot.Plot, name string, xys plotter.XYs, errs plotter.YErrors, st style) error {
	line, points, err := plotter.NewLinePoints(xys)
	if err != nil {
		return fmt.Errorf("plot %s: %w", name, err)
	}
	line.Color = st.color
	line.Width = vg.Points(1.5)
	points.Shape = st.glyph
	points.Color = st.color
	points.Radius = vg.Points(3.5)
	p.Add(line, points)
	p.Legend.Add(name, line, points)
	return errorBars(p, xys, errs, st)
}

// markFailed circles the points of repetitions that failed, so a failed
// cell's numbers are never mistaken for an ok one's.
func markFailed(p *plot.Plot, xys plotter.XYs) error {
	if len(xys) == 0 {
		return nil
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return err
	}
	sc.Shape = draw.RingGlyph{}
	sc.Color = color.Black
	sc.Radius = vg.Points(7)
	p.Add(sc)
	p.Legend.Add("circled: failed repetitions included", sc)
	return nil
}

// setYAxis scales y logarithmically when the values span more than 20×.
func setYAxis(p *plot.Plot, ymin, ymax float64) {
	if ymin > 0 && ymax/ymin > 20 {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.TickerFunc(logTicks)
		p.Y.Min, p.Y.Max = ymin/1.3, ymax*4
		return
	}
	p.Y.Tick.Marker = plot.TickerFunc(linearTicks)
	p.Y.Min, p.Y.Max = 0, math.Max(ymax*1.4, 1)
}

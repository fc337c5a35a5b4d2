package report

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/asyncbench/asyncbench/results"
)

// schedulingBlocks is the section and its plots when rows hold delay,
// cpu or mix workloads; it reads dir/endpoints.csv for the mixes.
func schedulingBlocks(dir string, rows []results.Row, styles map[string]style) ([]block, error) {
	if !hasScheduling(rows) {
		return nil, nil
	}
	eps, err := results.ReadEndpointsFile(dir, nil)
	if err != nil {
		return nil, err
	}
	out, data := schedulingText(rows, eps)
	for i, d := range data {
		refs, err := d.writePlots(dir, i, styles)
		if err != nil {
			return nil, err
		}
		for _, p := range refs {
			out = append(out, figure(p))
		}
	}
	return out, nil
}

// writePlots draws, per connection count, throughput against handler wait
// and against handler CPU (x = 0 from plaintext), and the cheap requests'
// p99 under each mix against connections.
func (d *schedData) writePlots(dir string, idx int, styles map[string]style) ([]plotRef, error) {
	var refs []plotRef
	prefix := fmt.Sprintf("sched%d", idx+1)
	for _, kind := range []struct {
		name, workload, xlabel string
		xs                     []int64
	}{
		{"wait", wlDelay, "handler wait per request (µs); 0 = plaintext", d.delays},
		{"cpu", wlCPU, "handler CPU per request (µs); 0 = plaintext", d.cpus},
	} {
		if len(kind.xs) == 0 {
			continue
		}
		for _, c := range d.conns {
			title := fmt.Sprintf("Throughput vs handler %s at %s connections, %s\npoint = median of the repetitions that measured (failed ones included), bar = min–max\n%s",
				kind.name, fmtCount(float64(c)), d.regime, d.prov)
			p, ok, err := d.workPlot(styles, title, kind.xlabel, kind.workload, kind.xs, c)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			base := fmt.Sprintf("%s-%s-c%d", prefix, kind.name, c)
			if err := savePlot(p, filepath.Join(dir, "plots", base)); err != nil {
				return nil, err
			}
			refs = append(refs, plotRef{fmt.Sprintf("Throughput vs handler %s at %d connections", kind.name, c), base})
		}
	}
	for i, m := range d.mixes {
		p, ok, err := d.mixPlot(styles, m)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		base := fmt.Sprintf("%s-mix%d-cheap-p99", prefix, i+1)
		if err := savePlot(p, filepath.Join(dir, "plots", base)); err != nil {
			return nil, err
		}
		refs = append(refs, plotRef{"Cheap requests' p99 under the mix " + m, base})
	}
	return refs, nil
}

// workPlot draws throughput against handler µs at conns, one line per
// backend, x = 0 from its plaintext cell.
func (d *schedData) workPlot(styles map[string]style, title, xlabel, workload string, handlers []int64, conns int) (*plot.Plot, bool, error) {
	p := newPlot(title, xlabel, "throughput (req/s)")
	p.Title.TextStyle.Font.Size = vg.Points(11)
	xsAll := append([]int64{0}, handlers...)
	dodgeStep := float64(slices.Max(xsAll)) * dodgeWidth * 2
	ymin, ymax := math.Inf(1), math.Inf(-1)
	drawn := false
	var failedXYs plotter.XYs
	for bi, b := range d.backends {
		var xys plotter.XYs
		var errs plotter.YErrors
		for _, x := range xsAll {
			pt := d.at(workload, x, "", b, conns)
			if x == 0 {
				if base := d.at(wlPlaintext, -1, "", b, conns); base != nil && (pt == nil || pt.measured == 0) {
					pt = base
				}
			}
			if pt == nil || pt.measured == 0 || pt.rps.n == 0 || pt.rps.median <= 0 {
				continue
			}
			xys = append(xys, plotter.XY{X: dodgeLinear(float64(x), bi, len(d.backends), dodgeStep), Y: pt.rps.median})
			if pt.failed > 0 {
				failedXYs = append(failedXYs, xys[len(xys)-1])
			}
			errs = append(errs, struct{ Low, High float64 }{pt.rps.median - math.Max(pt.rps.min, 1), pt.rps.max - pt.rps.median}) // a log axis: a failed repetition at 0 req/s draws to 1
			ymin, ymax = math.Min(ymin, math.Max(pt.rps.min, 1)), math.Max(ymax, pt.rps.max)
		}
		if len(xys) == 0 {
			continue
		}
		drawn = true
		if err := addSeries(p, b, xys, errs, styles[b]); err != nil {
			return nil, false, err
		}
	}
	if !drawn {
		return nil, false, nil
	}
	if err := markFailed(p, failedXYs); err != nil {
		return nil, false, err
	}
	ticks := make([]plot.Tick, len(xsAll))
	for i, x := range xsAll {
		ticks[i] = plot.Tick{Value: float64(x), Label: strconv.FormatInt(x, 10)}
	}
	lo, hi := 0.0, float64(slices.Max(xsAll))
	pad := math.Max(hi*0.08, 1)
	p.X.Min, p.X.Max = lo-pad, hi+pad
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	setYAxis(p, ymin, ymax)
	return p, true, nil
}

// mixPlot draws the cheap requests' p99 under mix against connections,
// one line per backend.
func (d *schedData) mixPlot(styles map[string]style, mix string) (*plot.Plot, bool, error) {
	title := fmt.Sprintf("p99 of the cheap %s requests under the mix %s, %s\npoint = median of the repetitions that measured (failed ones included), bar = min–max\n%s",
		cheapEntry(mix), mix, d.regime, d.prov)
	p := newPlot(title, "connections", "p99 latency (µs)")
	p.Title.TextStyle.Font.Size = vg.Points(11)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	drawn := false
	var failedXYs plotter.XYs
	for bi, b := range d.backends {
		var xys plotter.XYs
		var errs plotter.YErrors
		for _, c := range d.conns {
			pt := d.at(wlMix, -1, mix, b, c)
			if pt == nil || pt.cheapP99.n == 0 {
				continue
			}
			s := pt.cheapP99
			xys = append(xys, plotter.XY{X: dodgeLog(float64(c), bi, len(d.backends)), Y: math.Max(s.median, 1)})
			if pt.failed > 0 {
				failedXYs = append(failedXYs, xys[len(xys)-1])
			}
			errs = append(errs, struct{ Low, High float64 }{math.Max(s.median, 1) - math.Max(s.min, 1), s.max - s.median})
			ymin, ymax = math.Min(ymin, math.Max(s.min, 1)), math.Max(ymax, s.max)
		}
		if len(xys) == 0 {
			continue
		}
		drawn = true
		if err := addSeries(p, b, xys, errs, styles[b]); err != nil {
			return nil, false, err
		}
	}
	if !drawn {
		return nil, false, nil
	}
	if err := markFailed(p, failedXYs); err != nil {
		return nil, false, err
	}
	setConnsAxis(&p.X, d.conns)
	setYAxis(p, ymin, ymax)
	return p, true, nil
}

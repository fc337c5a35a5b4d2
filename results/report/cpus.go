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

	"github.com/asyncbench/asyncbench/results"
)

// serverCPUsOf is a row's count on a server_cpus axis; 0 = none.
func serverCPUsOf(r results.Row) int {
	n, _ := results.Value(r.ServerCPUCount)
	return n
}

// cpusWords is "1 server CPU" or "4 server CPUs".
func cpusWords(n int) string {
	if n == 1 {
		return "1 server CPU"
	}
	return strconv.Itoa(n) + " server CPUs"
}

// cpusKey is one configuration measured along a server_cpus axis: a
// config off the axis (config.cpus).
type cpusKey config

func (k cpusKey) title() string {
	return fmt.Sprintf("%s, %d connections", config(k).group().Title(), k.conns)
}

func (k cpusKey) slug() string {
	return config(k).group().Slug() + "-c" + strconv.Itoa(k.conns) + "-cpus"
}

// cpusPoint is what one label measured at one server CPU count: the
// median and range over the ok rounds.
type cpusPoint struct {
	cpus        int
	rps, perCPU sample
}

// cpusSeries is a cpusKey's points, by label, in ascending CPU count.
type cpusSeries struct {
	key    cpusKey
	labels []string // sorted
	points map[string][]cpusPoint
	counts []int // every count measured, ascending
}

// reqPerServerCPUSecond is the row's requests per server CPU-second, NaN
// when not measured (values drops it).
func reqPerServerCPUSecond(r results.Row) float64 {
	if v, ok := results.Value(r.ReqPerServerCPUSecond); ok {
		return v
	}
	return math.NaN()
}

// buildCPUSeries collects the ok rows of a server_cpus axis by
// configuration, keeping those measured at two counts or more.
func buildCPUSeries(rows []results.Row) []*cpusSeries {
	type at struct {
		label string
		cpus  int
	}
	byKey := map[cpusKey]map[at][]results.Row{}
	for _, r := range rows {
		n := serverCPUsOf(r)
		if n == 0 || !r.Status.Counts() || isIdle(r) {
			continue
		}
		k := configOf(r).cpus()
		if byKey[k] == nil {
			byKey[k] = map[at][]results.Row{}
		}
		byKey[k][at{r.Backend, n}] = append(byKey[k][at{r.Backend, n}], r)
	}
	var out []*cpusSeries
	for k, m := range byKey {
		s := &cpusSeries{key: k, points: map[string][]cpusPoint{}}
		for a, rs := range m {
			if !slices.Contains(s.labels, a.label) {
				s.labels = append(s.labels, a.label)
			}
			if !slices.Contains(s.counts, a.cpus) {
				s.counts = append(s.counts, a.cpus)
			}
			s.points[a.label] = append(s.points[a.label], cpusPoint{
				cpus: a.cpus, rps: summarize(values(rs, getRPS)), perCPU: summarize(values(rs, reqPerServerCPUSecond)),
			})
		}
		if len(s.counts) < 2 {
			continue
		}
		slices.Sort(s.labels)
		slices.Sort(s.counts)
		for _, pts := range s.points {
			slices.SortFunc(pts, func(a, b cpusPoint) int { return cmp.Compare(a.cpus, b.cpus) })
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *cpusSeries) int {
		return cmp.Or(compareKeys(config(a.key).group(), config(b.key).group()), cmp.Compare(a.key.conns, b.key.conns))
	})
	return out
}

// serverCPUBlocks is the section "Against server CPUs" when the rows
// hold a server_cpus axis with more than one count: per configuration, a
// table and plots of throughput and of requests per server CPU-second
// against the server's CPU count, one line per label.
func serverCPUBlocks(dir string, rows []results.Row, styles map[string]style) ([]block, error) {
	series := buildCPUSeries(rows)
	if len(series) == 0 {
		return nil, nil
	}
	out := []block{heading{2, "Against server CPUs"},
		para("The plan's `server_cpus` axis: each cell measured with the server pinned to the first N CPUs and GOMAXPROCS = N " +
			"(gnet runs N event loops), the generator on the same other CPUs at every N. Median over the ok rounds, bars from the " +
			"lowest to the highest round; saturated, noisy and failed rounds are left out. Throughput that grows less than the CPU count, " +
			"or requests per server CPU-second that fall as CPUs are added, is what spreading the work over more CPUs costs " +
			"(unless the generator was the limit: see the bottleneck column).")}
	for _, s := range series {
		t := table{head: []string{"label", "server CPUs", "req/s", "req per server CPU-s", "ok rounds"},
			right: []bool{false, true, true, true, true}}
		for _, l := range s.labels {
			for _, p := range s.points[l] {
				t.rows = append(t.rows, []string{mdEscape(l), strconv.Itoa(p.cpus), fmtCount(p.rps.median), fmtSample(p.perCPU), strconv.Itoa(p.rps.n)})
			}
		}
		out = append(out, heading{3, s.key.title()}, t)
		for _, m := range []struct {
			name, title, ylabel string
			get                 func(cpusPoint) sample
		}{
			{"rps", "Throughput", "throughput (req/s)", func(p cpusPoint) sample { return p.rps }},
			{"per-cpu", "Requests per server CPU-second", "requests per server CPU-second", func(p cpusPoint) sample { return p.perCPU }},
		} {
			p, ok, err := cpusPlot(s, styles, fmt.Sprintf("%s against server CPUs\n%s", m.title, s.key.title()), m.ylabel, m.get)
			if err != nil {
				return nil, fmt.Errorf("server CPUs: %w", err)
			}
			if !ok {
				continue
			}
			base := s.key.slug() + "-" + m.name
			if err := savePlot(p, filepath.Join(dir, "plots", base)); err != nil {
				return nil, err
			}
			out = append(out, figure{m.title + " against server CPUs", base})
		}
	}
	return out, nil
}

// fmtSample is the median, or "–" when nothing was measured.
func fmtSample(s sample) string {
	if s.n == 0 {
		return "–"
	}
	return fmtCount(s.median)
}

// cpusPlot draws get against the server CPU count, one line per label
// with min–max bars; false when nothing was measured.
func cpusPlot(s *cpusSeries, styles map[string]style, title, ylabel string, get func(cpusPoint) sample) (*plot.Plot, bool, error) {
	p := newPlot(title, "server CPUs (GOMAXPROCS)", ylabel)
	ymax := 0.0
	for _, l := range s.labels {
		var xys plotter.XYs
		var errs plotter.YErrors
		for _, pt := range s.points[l] {
			v := get(pt)
			if v.n == 0 {
				continue
			}
			xys = append(xys, plotter.XY{X: float64(pt.cpus), Y: v.median})
			errs = append(errs, struct{ Low, High float64 }{v.median - v.min, v.max - v.median})
			ymax = math.Max(ymax, v.max)
		}
		if len(xys) == 0 {
			continue
		}
		st := styles[l]
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, false, fmt.Errorf("plot %s: %w", l, err)
		}
		line.Color, line.Width = st.color, vg.Points(1.5)
		points.Shape, points.Color, points.Radius = st.glyph, st.color, vg.Points(3.5)
		eb, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{xys, errs})
		if err != nil {
			return nil, false, fmt.Errorf("plot %s: %w", l, err)
		}
		eb.Color, eb.Width = st.color, vg.Points(1)
		p.Add(line, points, eb)
		p.Legend.Add(l, line, points)
	}
	if ymax <= 0 {
		return nil, false, nil
	}
	setConnsAxis(&p.X, s.counts)
	p.Y.Tick.Marker = plot.TickerFunc(linearTicks)
	p.Y.Min, p.Y.Max = 0, ymax*1.4 // headroom for the legend
	return p, true, nil
}

package report

import (
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/asyncbench/asyncbench/results"
)

// The section "Memory per idle connection" answers "threads cost too much
// memory" from the run's idle cells (workloads idle and idle-echo): what an
// open, silent connection costs the server in user memory (RSS) and in
// kernel memory (page tables, kernel stacks, its share of socket memory;
// results/README.md says how each is attributed to the server). The cost
// per connection is the least-squares slope of the server's memory over
// the connection counts, so what the server holds whatever the count (its
// runtime, its listening socket) stays out of it. Only ok rows count;
// idle rows are left out of the per-workload sections and the verdicts,
// where their throughput of about zero would mean nothing.

// Workload names of idle rows, as in the workload column.
const (
	wlIdle     = "idle"
	wlIdleEcho = "idle-echo"
)

// isIdle reports whether r is a row of an idle workload.
func isIdle(r results.Row) bool { return r.Workload == wlIdle || r.Workload == wlIdleEcho }

// withoutIdle returns the rows that are not idle rows.
func withoutIdle(rows []results.Row) []results.Row {
	return slices.DeleteFunc(slices.Clone(rows), isIdle)
}

// IdleFit is one backend's memory per idle connection: least-squares
// slopes over its ok idle rows of the server's memory against the
// connection count, in bytes per connection. A slope is NaN when fewer
// than two connection counts measured it.
type IdleFit struct {
	Backend            string
	Points             int // ok rows
	Excluded           int // failed, saturated and noisy rows, left out
	MinConns, MaxConns int // range of the ok rows' connection counts

	User, Kernel, Total float64 // RSS; page tables + kernel stacks + sockets; their sum
	PageTables, Stacks  float64 // the kernel parts: vm_pte_kib, kernel_stack_kib
	Sockets             float64 // socket_kib
	TotalIntercept      float64 // bytes the total fit gives at zero connections
	TotalR2             float64 // R² of the total's fit
}

// idlePoint extracts one memory figure of an idle row, in bytes at the
// row's connection count; ok is false when the row did not measure it.
type idlePoint func(r results.Row) (bytes float64, ok bool)

// perConnTimesN reads a per-connection column back as bytes over all of
// the row's connections.
func perConnTimesN(get func(results.Row) *int64) idlePoint {
	return func(r results.Row) (float64, bool) {
		v := get(r)
		if v == nil {
			return 0, false
		}
		return float64(*v) * float64(r.Conns), true
	}
}

// kibColumn reads a KiB column as bytes. Its constant part (what the
// server held before dialling) does not change the slope.
func kibColumn[T int64 | float64](get func(results.Row) *T) idlePoint {
	return func(r results.Row) (float64, bool) {
		v := get(r)
		if v == nil {
			return 0, false
		}
		return float64(*v) * 1024, true
	}
}

var (
	idleUser   = perConnTimesN(func(r results.Row) *int64 { return r.RSSPerConnBytes })
	idleKernel = perConnTimesN(func(r results.Row) *int64 { return r.KernelPerConnBytes })
	idleTotal  = perConnTimesN(func(r results.Row) *int64 { return r.TotalPerConnBytes })
	idlePTE    = kibColumn(func(r results.Row) *int64 { return r.VmPTEKiB })
	idleStack  = kibColumn(func(r results.Row) *int64 { return r.KernelStackKiB })
	idleSocket = kibColumn(func(r results.Row) *float64 { return r.SocketKiB })
)

// slopeOf fits get over rows against their connection counts.
func slopeOf(rows []results.Row, get idlePoint) (b, a, r2 float64) {
	var xs, ys []float64
	for _, r := range rows {
		if y, ok := get(r); ok {
			xs, ys = append(xs, float64(r.Conns)), append(ys, y)
		}
	}
	return results.FitLine(xs, ys)
}

// FitIdle returns the memory per idle connection of every backend (the
// Backend column; labels when the rows went through byLabel) in rows,
// sorted by name. Rows of other workloads are ignored; rows that are not
// ok are counted in Excluded and left out of the fit.
func FitIdle(rows []results.Row) []IdleFit {
	byBackend := map[string][]results.Row{}
	excluded := map[string]int{}
	var names []string
	for _, r := range rows {
		if !isIdle(r) {
			continue
		}
		if _, seen := byBackend[r.Backend]; !seen {
			names = append(names, r.Backend)
			byBackend[r.Backend] = nil
		}
		if !r.Status.Counts() {
			excluded[r.Backend]++
			continue
		}
		byBackend[r.Backend] = append(byBackend[r.Backend], r)
	}
	slices.Sort(names)
	fits := make([]IdleFit, 0, len(names))
	for _, name := range names {
		ok := byBackend[name]
		f := IdleFit{Backend: name, Points: len(ok), Excluded: excluded[name]}
		for i, r := range ok {
			if i == 0 || r.Conns < f.MinConns {
				f.MinConns = r.Conns
			}
			f.MaxConns = max(f.MaxConns, r.Conns)
		}
		f.User, _, _ = slopeOf(ok, idleUser)
		f.Kernel, _, _ = slopeOf(ok, idleKernel)
		f.Total, f.TotalIntercept, f.TotalR2 = slopeOf(ok, idleTotal)
		f.PageTables, _, _ = slopeOf(ok, idlePTE)
		f.Stacks, _, _ = slopeOf(ok, idleStack)
		f.Sockets, _, _ = slopeOf(ok, idleSocket)
		fits = append(fits, f)
	}
	return fits
}

// idleGroupKey splits idle rows whose connections differ in kind: the
// workload (HTTP or echo) and the echo payload, on a server_cpus axis the
// CPU count (config.idle).
type idleGroupKey config

func (k idleGroupKey) title() string {
	s := k.proto + " " + k.workload
	if k.payload > 0 {
		s += fmt.Sprintf(", %d B payload", k.payload)
	}
	if k.serverCPUs > 0 {
		s += ", " + cpusWords(k.serverCPUs)
	}
	return s
}

func (k idleGroupKey) slug() string {
	s := fmt.Sprintf("idle-%s-%s-b%d", k.proto, k.workload, k.payload)
	if k.serverCPUs > 0 {
		s += fmt.Sprintf("-s%d", k.serverCPUs)
	}
	return s
}

// idleGroups splits the idle rows of rows by idleGroupKey, in a stable
// order.
func idleGroups(rows []results.Row) ([]idleGroupKey, map[idleGroupKey][]results.Row) {
	m := map[idleGroupKey][]results.Row{}
	var keys []idleGroupKey
	for _, r := range rows {
		if !isIdle(r) {
			continue
		}
		k := configOf(r).idle()
		if _, ok := m[k]; !ok {
			keys = append(keys, k)
		}
		m[k] = append(m[k], r)
	}
	slices.SortFunc(keys, func(a, b idleGroupKey) int {
		return cmp.Or(cmp.Compare(a.proto, b.proto), cmp.Compare(a.workload, b.workload), cmp.Compare(a.payload, b.payload),
			cmp.Compare(a.serverCPUs, b.serverCPUs))
	})
	return keys, m
}

// fmtBytes renders bytes per connection for a table: "10,240"; "–" when
// not measured.
func fmtBytes(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmtCount(x)
}

// fmtKiB renders bytes as KiB with one decimal: "29.5 KiB".
func fmtKiB(x float64) string {
	return strconv.FormatFloat(x/1024, 'f', 1, 64) + " KiB"
}

// headlineNames are the designs the headline ratio compares, in order,
// with the name it gives each.
var headlineNames = []struct{ backend, name string }{
	{"threads", "threads"}, {"stdlib", "net/http"}, {"gnet", "gnet"},
}

// idleHeadline is the section's first sentence: the total per connection
// of threads, net/http (stdlib) and gnet, and their ratio with gnet as 1.
// It names what is missing instead when a design was not measured.
func idleHeadline(fits []IdleFit) string {
	var parts, missing []string
	var totals []float64
	lo, hi := 0, 0
	for _, h := range headlineNames {
		i := slices.IndexFunc(fits, func(f IdleFit) bool { return f.Backend == h.backend })
		if i < 0 || math.IsNaN(fits[i].Total) {
			missing = append(missing, h.name)
			continue
		}
		f := fits[i]
		parts = append(parts, fmt.Sprintf("%s %s", h.name, fmtKiB(f.Total)))
		totals = append(totals, f.Total)
		if lo == 0 || f.MinConns < lo {
			lo = f.MinConns
		}
		hi = max(hi, f.MaxConns)
	}
	if len(parts) == 0 {
		return "No ok idle measurement of threads, net/http (stdlib) or gnet at two or more connection counts; no per-connection figure to compare."
	}
	s := fmt.Sprintf("An idle connection costs the server, user and kernel memory together (slope over %s–%s connections): %s.",
		fmtCount(float64(lo)), fmtCount(float64(hi)), strings.Join(parts, ", "))
	if len(missing) == 0 {
		ref := totals[2]
		if ref > 0 {
			s += fmt.Sprintf(" threads : net/http : gnet = %s : %s : 1.", fmtRatio(totals[0]/ref), fmtRatio(totals[1]/ref))
		} else {
			s += " gnet's slope is not above zero, so no ratio against it."
		}
	} else {
		s += fmt.Sprintf(" Not measured at two or more connection counts: %s.", strings.Join(missing, ", "))
	}
	return s
}

// fmtRatio has one decimal below 10 and none above.
func fmtRatio(x float64) string {
	if x >= 10 {
		return fmtCount(x)
	}
	return strconv.FormatFloat(x, 'f', 1, 64)
}

// idleText is the section's prose and table for the idle rows of one
// group.
func idleText(fits []IdleFit) []block {
	t := table{head: []string{"backend", "ok rows", "connections", "user B", "kernel B", "total B", "page tables B", "kernel stacks B", "sockets B", "total R²", "intercept MiB"},
		right: []bool{false, true, false, true, true, true, true, true, true, true, true}}
	for _, f := range fits {
		rowsCell := strconv.Itoa(f.Points)
		if f.Excluded > 0 {
			rowsCell += fmt.Sprintf(" (%d left out)", f.Excluded)
		}
		conns := "–"
		if f.Points > 0 {
			conns = fmtCount(float64(f.MinConns)) + "–" + fmtCount(float64(f.MaxConns))
		}
		r2, icpt := "–", "–"
		if !math.IsNaN(f.TotalR2) {
			r2 = strconv.FormatFloat(f.TotalR2, 'f', 3, 64)
			icpt = fmtMiB(f.TotalIntercept / (1 << 20))
		}
		t.rows = append(t.rows, []string{mdEscape(f.Backend), rowsCell, conns, fmtBytes(f.User), fmtBytes(f.Kernel), fmtBytes(f.Total),
			fmtBytes(f.PageTables), fmtBytes(f.Stacks), fmtBytes(f.Sockets), r2, icpt})
	}
	return []block{para(idleHeadline(fits)),
		para("Bytes per connection, each the least-squares slope of the server's memory over the connection counts " +
			"(ok rows only; what the server holds at any count, such as its runtime, stays out of a slope). " +
			"User = RSS; kernel = page tables + kernel stacks (threads × the kernel stack) + half the system-wide rise of TCP socket memory; " +
			"R² is the fit's of the total, and the intercept the total it extrapolates to zero connections. " +
			"How each kernel figure is attributed to the server, and what it misses: results/README.md, *Idle workloads*."),
		t}
}

// idleBlocks is the section "Memory per idle connection" when rows hold
// idle rows, with its plots.
func idleBlocks(dir string, rows []results.Row, styles map[string]style) ([]block, error) {
	keys, groups := idleGroups(rows)
	if len(keys) == 0 {
		return nil, nil
	}
	out := []block{heading{2, "Memory per idle connection"}}
	for _, k := range keys {
		if len(keys) > 1 {
			out = append(out, heading{3, k.title()})
		}
		fits := FitIdle(groups[k])
		out = append(out, idleText(fits)...)
		refs, err := idlePlots(dir, k, groups[k], fits, styles)
		if err != nil {
			return nil, fmt.Errorf("idle %s: %w", k.title(), err)
		}
		for _, p := range refs {
			out = append(out, figure(p))
		}
	}
	return out, nil
}

// Colours of the two components in the bar plot.
var (
	userColor   = palette[0]
	kernelColor = palette[1]
)

// idlePlots draws, for one group, the bytes per connection of each backend
// as a bar of user memory with kernel memory stacked on it, and the total
// bytes against connections with each backend's fitted line.
func idlePlots(dir string, k idleGroupKey, rows []results.Row, fits []IdleFit, styles map[string]style) ([]plotRef, error) {
	var refs []plotRef
	prov := provenance(rows)
	ref, ok, err := idleComponentsPlot(dir, k, fits, prov)
	if err != nil {
		return nil, err
	}
	if ok {
		refs = append(refs, ref)
	}
	ref, ok, err = idleTotalPlot(dir, k, rows, fits, styles, prov)
	if err != nil {
		return nil, err
	}
	if ok {
		refs = append(refs, ref)
	}
	return refs, nil
}

// idleComponentsPlot draws and saves the bar plot of user and kernel bytes
// per connection of each backend whose fit has both; ok is false when none
// has.
func idleComponentsPlot(dir string, k idleGroupKey, fits []IdleFit, prov string) (ref plotRef, ok bool, err error) {
	var names []string
	var user, kernel plotter.Values
	for _, f := range fits {
		if math.IsNaN(f.User) || math.IsNaN(f.Kernel) {
			continue
		}
		names = append(names, f.Backend)
		user = append(user, f.User)
		kernel = append(kernel, f.Kernel)
	}
	if len(names) == 0 {
		return plotRef{}, false, nil
	}
	p := newPlot(fmt.Sprintf("Memory per idle connection by component, %s\nbar = least-squares slope over the connection counts (ok rows)\n%s", k.title(), prov),
		"", "bytes per connection")
	ub, err := plotter.NewBarChart(user, vg.Points(36))
	if err != nil {
		return plotRef{}, false, err
	}
	ub.Color, ub.LineStyle.Width = userColor, 0
	kb, err := plotter.NewBarChart(kernel, vg.Points(36))
	if err != nil {
		return plotRef{}, false, err
	}
	kb.Color, kb.LineStyle.Width = kernelColor, 0
	kb.StackOn(ub)
	p.Add(ub, kb)
	p.Legend.Add("user (RSS)", ub)
	p.Legend.Add("kernel (page tables, stacks, sockets)", kb)
	p.NominalX(names...)
	top := 0.0
	for i := range user {
		top = math.Max(top, math.Max(user[i], 0)+math.Max(kernel[i], 0))
	}
	p.Y.Min, p.Y.Max = 0, math.Max(top*1.35, 1)
	p.Y.Tick.Marker = plot.TickerFunc(linearTicks)
	p.X.Min, p.X.Max = -0.6, float64(len(names))-0.4 // room for the outer bars
	base := k.slug() + "-components"
	if err := savePlot(p, filepath.Join(dir, "plots", base)); err != nil {
		return plotRef{}, false, err
	}
	return plotRef{"Memory per idle connection by component", base}, true, nil
}

// idleTotalPlot draws and saves the total memory of the connections
// against connections, one backend's ok rows and fitted line at a time;
// ok is false when no row has a total.
func idleTotalPlot(dir string, k idleGroupKey, rows []results.Row, fits []IdleFit, styles map[string]style, prov string) (ref plotRef, ok bool, err error) {
	p := newPlot(fmt.Sprintf("Server memory of idle connections (user + kernel) vs connections, %s\npoint = one ok row, dashed = least-squares fit; its slope is the bytes per connection\n%s", k.title(), prov),
		"connections", "memory of the connections (MiB)")
	var conns []int
	ymax := 0.0
	drawn := false
	for _, f := range fits {
		xys := idleTotalPoints(rows, f.Backend, &conns, &ymax)
		if len(xys) == 0 {
			continue
		}
		drawn = true
		if err := addIdleSeries(p, f, xys, styles[f.Backend]); err != nil {
			return plotRef{}, false, err
		}
	}
	if !drawn {
		return plotRef{}, false, nil
	}
	slices.Sort(conns)
	p.X.Min, p.X.Max = 0, float64(conns[len(conns)-1])*1.05
	p.X.Tick.Marker = plot.TickerFunc(linearTicks)
	p.Y.Min, p.Y.Max = 0, math.Max(ymax*1.4, 1)
	p.Y.Tick.Marker = plot.TickerFunc(linearTicks)
	base := k.slug() + "-total"
	if err := savePlot(p, filepath.Join(dir, "plots", base)); err != nil {
		return plotRef{}, false, err
	}
	return plotRef{"Server memory of idle connections vs connections", base}, true, nil
}

// idleTotalPoints returns the total memory in MiB against connections of
// backend's ok rows that have one, adding their connection counts to
// conns when new and raising ymax to their highest total.
func idleTotalPoints(rows []results.Row, backend string, conns *[]int, ymax *float64) plotter.XYs {
	var xys plotter.XYs
	for _, r := range rows {
		if r.Backend != backend || !r.Status.Counts() {
			continue
		}
		y, ok := idleTotal(r)
		if !ok {
			continue
		}
		xys = append(xys, plotter.XY{X: float64(r.Conns), Y: y / (1 << 20)})
		*ymax = math.Max(*ymax, y/(1<<20))
		if !slices.Contains(*conns, r.Conns) {
			*conns = append(*conns, r.Conns)
		}
	}
	return xys
}

// addIdleSeries draws one backend's points and, when its fit has a total
// slope, the dashed fitted line over its connection range.
func addIdleSeries(p *plot.Plot, f IdleFit, xys plotter.XYs, st style) error {
	pts, err := plotter.NewScatter(xys)
	if err != nil {
		return err
	}
	pts.Shape, pts.Color, pts.Radius = st.glyph, st.color, vg.Points(3.5)
	p.Add(pts)
	if math.IsNaN(f.Total) {
		p.Legend.Add(f.Backend, pts)
		return nil
	}
	lo, hi := float64(f.MinConns), float64(f.MaxConns)
	fit, err := plotter.NewLine(plotter.XYs{
		{X: lo, Y: (f.TotalIntercept + f.Total*lo) / (1 << 20)},
		{X: hi, Y: (f.TotalIntercept + f.Total*hi) / (1 << 20)},
	})
	if err != nil {
		return err
	}
	fit.Color, fit.Width, fit.Dashes = st.color, vg.Points(1.2), []vg.Length{vg.Points(5), vg.Points(3)}
	p.Add(fit)
	p.Legend.Add(fmt.Sprintf("%s (%s B/conn)", f.Backend, fmtCount(f.Total)), fit, pts)
	return nil
}

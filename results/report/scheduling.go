package report

import (
	"bytes"
	"cmp"
	"fmt"
	"hash/fnv"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/asyncbench/asyncbench/results"
)

// The section "Threads, goroutines or an event loop" answers the old
// argument — threads cost too much, event loops win, but a blocked event
// loop is a disaster while a preemptive runtime shrugs it off — from the
// run's delay, cpu and mix cells, set against its plaintext cells at the
// same connection counts.
//
// Unlike the per-group tables, it keeps failed repetitions that measured
// something: a cell whose requests time out because handlers block the
// event loop is the finding, so its throughput and error share are shown,
// marked, instead of being left out. A repetition counts as measured when
// the generator reported a window (duration_s > 0) or any request.
// Saturated and noisy repetitions describe the generator or the host, not
// the server: they are counted and named, never part of a number.

// Workload names of the scheduling section, as in the workload column.
const (
	wlPlaintext = "plaintext"
	wlDelay     = "delay"
	wlCPU       = "cpu"
	wlMix       = "mix"
)

// offloadPairs are backends that differ only in where slow handlers run:
// on the event loop, or on a pool with the reply written back. The section
// compares each pair head to head.
var offloadPairs = [][2]string{{"gnet", "gnet-pool"}}

// handlerOf returns a row's handler time in µs, -1 when its workload has
// none.
func handlerOf(r results.Row) int64 {
	if r.HandlerUs == nil {
		return -1
	}
	return *r.HandlerUs
}

// handlerKey is a row's handler time as the group key holds it: empty
// when its workload has none.
func handlerKey(r results.Row) string {
	if r.HandlerUs == nil {
		return ""
	}
	return strconv.FormatInt(*r.HandlerUs, 10)
}

// workloadID names a row's workload with its parameter, so that cells
// with different handler times or mixes are never compared as one:
// "plaintext", "delay-1000us", "mix-mix10ac89ac".
func workloadID(r results.Row) string {
	id := r.Workload
	if h := handlerKey(r); h != "" {
		id += "-" + h + "us"
	}
	if r.Mix != "" {
		id += "-" + mixSlug(r.Mix)
	}
	if n := serverCPUsOf(r); n > 0 {
		id += "-s" + strconv.Itoa(n)
	}
	return id
}

// mixSlug is a short file-name-safe stand-in for a mix spec.
func mixSlug(spec string) string {
	h := fnv.New32a()
	h.Write([]byte(spec))
	return fmt.Sprintf("mix%08x", h.Sum32())
}

// fmtMicros renders a time in µs for prose: "50 µs", "1 ms", "2.5 ms",
// "1.2 s".
func fmtMicros(us float64) string {
	switch {
	case math.IsNaN(us):
		return "?"
	case us < 1000:
		return strconv.FormatFloat(math.Round(us), 'f', -1, 64) + " µs"
	case us < 1e6:
		return trimFloat(us/1000) + " ms"
	}
	return trimFloat(us/1e6) + " s"
}

// trimFloat has two significant digits below 10 and none above:
// 1, 2.5, 12, 340.
func trimFloat(x float64) string {
	if x >= 10 {
		return fmtCount(x)
	}
	return strconv.FormatFloat(math.Round(x*10)/10, 'f', -1, 64)
}

// measured reports whether a row carries the generator's numbers.
func measured(r results.Row) bool {
	return r.DurationS > 0 || r.Requests > 0 || r.Errors > 0
}

// schedKey is one point of the section: a workload at one parameter, a
// backend and a connection count.
type schedKey struct {
	workload string
	handler  int64
	mix      string
	backend  string
	conns    int
}

// schedPoint is what the repetitions of one point measured.
type schedPoint struct {
	reps, measured, failed, saturated, noisy int
	rps, p99                                 sample  // over measured repetitions
	cheapP99                                 sample  // mix: p99 of the entry with the largest weight
	sched, gcPause                           sample  // Go servers: scheduling latency p99 and GC pause p99, µs
	errShare                                 float64 // errors ÷ attempts over measured repetitions; NaN without attempts
}

// regime is the part of the configuration every point of one block of the
// section shares.
type regime struct {
	pipeline   int
	rate       float64
	serverCPUs int // on a server_cpus axis; 0 = none
}

func (r regime) String() string {
	s := fmt.Sprintf("pipeline %d, ", r.pipeline)
	if r.serverCPUs > 0 {
		s = cpusWords(r.serverCPUs) + ", " + s
	}
	if r.rate > 0 {
		return s + "open loop at " + fmtCount(r.rate) + " req/s"
	}
	return s + "closed loop"
}

// schedData holds the section's points of one regime.
type schedData struct {
	regime   regime
	backends []string
	conns    []int
	delays   []int64  // handler µs of delay workloads, ascending
	cpus     []int64  // handler µs of cpu workloads, ascending
	mixes    []string // mix specs, in order of appearance
	points   map[schedKey]*schedPoint
	procs    int    // server GOMAXPROCS, 0 when unknown or mixed
	prov     string // run ids and commits, for the plots
	rows     []results.Row
}

func (d *schedData) at(workload string, handler int64, mix, backend string, conns int) *schedPoint {
	return d.points[schedKey{workload, handler, mix, backend, conns}]
}

// schedulingData splits the rows that take part (HTTP plaintext, delay,
// cpu and mix rows without payload) by regime, keeping only regimes that
// hold a delay, cpu or mix row. eps are the endpoint rows of the run.
func schedulingData(rows []results.Row, eps []results.EndpointRow) []*schedData {
	cheap := heaviestEndpoints(eps)
	byRegime := map[regime]*schedData{}
	var order []regime
	accs := map[regime]map[schedKey]*schedAcc{}
	for _, r := range rows {
		if !inScheduling(r) {
			continue
		}
		rg := regime{r.Pipeline, r.Rate, serverCPUsOf(r)}
		d, ok := byRegime[rg]
		if !ok {
			d = &schedData{regime: rg, points: map[schedKey]*schedPoint{}, procs: -1}
			byRegime[rg] = d
			accs[rg] = map[schedKey]*schedAcc{}
			order = append(order, rg)
		}
		d.addRow(r)
		k := schedKey{r.Workload, handlerOf(r), r.Mix, r.Backend, r.Conns}
		a, ok := accs[rg][k]
		if !ok {
			a = &schedAcc{}
			accs[rg][k] = a
		}
		a.add(r, cheap)
	}
	var out []*schedData
	slices.SortFunc(order, func(a, b regime) int {
		return cmp.Or(cmp.Compare(a.pipeline, b.pipeline), cmp.Compare(a.rate, b.rate), cmp.Compare(a.serverCPUs, b.serverCPUs))
	})
	for _, rg := range order {
		d := byRegime[rg]
		if len(d.delays)+len(d.cpus)+len(d.mixes) == 0 {
			continue
		}
		d.finish(accs[rg])
		out = append(out, d)
	}
	return out
}

// schedRep names one attempt at one repetition of one cell (the attempt
// read as 1 when empty, as Row.AttemptOf does).
type schedRep struct {
	cell    string
	rep     int
	attempt int
}

// heaviestEndpoints keeps, of each repetition's endpoint rows, the one
// with the largest weight (the first of equals): a mix's cheap requests.
func heaviestEndpoints(eps []results.EndpointRow) map[schedRep]results.EndpointRow {
	cheap := map[schedRep]results.EndpointRow{}
	for _, e := range eps {
		id := schedRep{e.Cell, e.Rep, max(e.Attempt, 1)}
		if c, ok := cheap[id]; !ok || e.Weight > c.Weight {
			cheap[id] = e
		}
	}
	return cheap
}

// inScheduling reports whether a row takes part in the section: an HTTP
// plaintext, delay, cpu or mix row without payload or rate fraction.
func inScheduling(r results.Row) bool {
	switch r.Workload {
	case wlDelay, wlCPU, wlMix, wlPlaintext:
	default:
		return false
	}
	return r.Proto == "http" && r.Payload == 0 && r.RateFraction == nil
}

// addRow adds r to d's rows and its workload parameter, backend and
// connection count to d's axes, and folds its GOMAXPROCS into d.procs.
func (d *schedData) addRow(r results.Row) {
	h := handlerOf(r)
	switch r.Workload {
	case wlDelay:
		if !slices.Contains(d.delays, h) {
			d.delays = append(d.delays, h)
		}
	case wlCPU:
		if !slices.Contains(d.cpus, h) {
			d.cpus = append(d.cpus, h)
		}
	case wlMix:
		if !slices.Contains(d.mixes, r.Mix) {
			d.mixes = append(d.mixes, r.Mix)
		}
	}
	if !slices.Contains(d.backends, r.Backend) {
		d.backends = append(d.backends, r.Backend)
	}
	if !slices.Contains(d.conns, r.Conns) {
		d.conns = append(d.conns, r.Conns)
	}
	switch {
	case r.GOMAXPROCS == 0: // not recorded
	case d.procs == -1:
		d.procs = r.GOMAXPROCS
	case d.procs != r.GOMAXPROCS:
		d.procs = 0
	}
	d.rows = append(d.rows, r)
}

// finish turns the accumulated repetitions into points, sorts d's axes
// (mixes keep their order of appearance) and sets its provenance.
func (d *schedData) finish(accs map[schedKey]*schedAcc) {
	for k, a := range accs {
		d.points[k] = a.point()
	}
	slices.Sort(d.backends)
	slices.Sort(d.conns)
	slices.Sort(d.delays)
	slices.Sort(d.cpus)
	if d.procs < 0 {
		d.procs = 0
	}
	d.prov = provenance(d.rows)
}

// schedAcc gathers the repetitions of one point before they are
// summarized.
type schedAcc struct {
	rows               []results.Row
	errs, attempts     float64
	rps, p99, cheapP99 []float64
	sched, gcPause     []float64
}

// add counts r as a repetition and, when it measured and was neither
// saturated nor noisy, takes its numbers; cheap gives a mix repetition's
// cheap requests.
func (a *schedAcc) add(r results.Row, cheap map[schedRep]results.EndpointRow) {
	a.rows = append(a.rows, r)
	if !measured(r) || r.Status == results.StatusSaturated || r.Status == results.StatusNoisy {
		return
	}
	a.rps = append(a.rps, r.RPS)
	if r.Requests > 0 { // no latency without a completed request
		a.p99 = append(a.p99, float64(r.P99Us))
	}
	if r.SchedLatencyP99Us != nil && r.GCPauseP99Us != nil {
		a.sched = append(a.sched, *r.SchedLatencyP99Us)
		a.gcPause = append(a.gcPause, *r.GCPauseP99Us)
	}
	a.errs += float64(r.Errors)
	a.attempts += float64(r.Requests + r.Errors)
	if e, ok := cheap[schedRep{r.Cell, r.Rep, r.AttemptOf()}]; ok && r.Workload == wlMix && e.Requests > 0 {
		a.cheapP99 = append(a.cheapP99, float64(e.P99Us))
	}
}

// point summarizes the repetitions gathered.
func (a *schedAcc) point() *schedPoint {
	p := &schedPoint{reps: len(a.rows), measured: len(a.rps),
		rps: summarize(a.rps), p99: summarize(a.p99), cheapP99: summarize(a.cheapP99),
		sched: summarize(a.sched), gcPause: summarize(a.gcPause), errShare: math.NaN()}
	if a.attempts > 0 {
		p.errShare = a.errs / a.attempts
	}
	for _, r := range a.rows {
		switch r.Status {
		case results.StatusFailed:
			p.failed++
		case results.StatusSaturated:
			p.saturated++
		case results.StatusNoisy:
			p.noisy++
		}
	}
	return p
}

// hasScheduling reports whether rows hold a delay, cpu or mix row.
func hasScheduling(rows []results.Row) bool {
	return slices.ContainsFunc(rows, func(r results.Row) bool {
		return r.Workload == wlDelay || r.Workload == wlCPU || r.Workload == wlMix
	})
}

// schedulingText writes the section's prose and tables (no plots) for
// rows and the run's endpoint rows.
func schedulingText(w io.Writer, rows []results.Row, eps []results.EndpointRow) []*schedData {
	data := schedulingData(rows, eps)
	if len(data) == 0 {
		return nil
	}
	fmt.Fprint(w, "## Threads, goroutines or an event loop\n\n")
	fmt.Fprint(w, "The argument: threads cost too much, so event loops win; but a handler that waits or computes "+
		"blocks an event loop, while a preemptive runtime (goroutines) or the kernel (threads) shrugs it off. "+
		"Below, each backend's median throughput and p99 over the repetitions that measured something, "+
		"failed ones included (saturated and noisy ones are counted but left out): a cell whose requests time out behind a blocked loop is the finding, not a harness fault, "+
		"so its numbers are shown with its error share instead of being dropped.\n\n")
	for _, d := range data {
		if len(data) > 1 {
			fmt.Fprintf(w, "### %s\n\n", d.regime)
		}
		d.writeFindings(w)
		d.writeTable(w, "Median req/s and p99 (for a mix: the cheap requests' p99); failed repetitions included and marked.", tableCell)
		if d.hasRuntime() {
			d.writeTable(w, "The quantity the question is about, for the Go servers: how long a runnable goroutine waited for a thread "+
				"(scheduling latency p99, runtime/metrics /sched/latencies, over the measured window), with the GC's stop-the-world pause p99 beside it; "+
				"median over repetitions. A server without a Go runtime (the C references) has no such figure (–).", schedCell)
		}
	}
	return data
}

// writeFindings writes the sentences: waiting, computing, the mix.
func (d *schedData) writeFindings(w io.Writer) {
	for _, us := range d.delays {
		fmt.Fprintf(w, "**Waiting: %s per request** (`delay`)\n\n", fmtMicros(float64(us)))
		for _, c := range d.conns {
			d.writeWorkSentences(w, wlDelay, us, c, fmt.Sprintf("with a %s wait per request", fmtMicros(float64(us))))
		}
		w.Write([]byte("\n"))
	}
	for _, us := range d.cpus {
		fmt.Fprintf(w, "**Computing: %s of CPU per request** (`cpu`)\n\n", fmtMicros(float64(us)))
		for _, c := range d.conns {
			d.writeWorkSentences(w, wlCPU, us, c, fmt.Sprintf("with %s of CPU per request", fmtMicros(float64(us))))
		}
		w.Write([]byte("\n"))
	}
	for _, m := range d.mixes {
		fmt.Fprintf(w, "**Cheap requests behind expensive ones** (`mix` %s)\n\n", mdEscape(m))
		for _, c := range d.conns {
			d.writeMixSentence(w, m, c)
		}
		w.Write([]byte("\n"))
	}
}

// ranked point of one backend.
type backendPoint struct {
	backend string
	p       *schedPoint
}

// measuredAt lists the backends with a measured repetition of a point, by
// median throughput, highest first (ties by name).
func (d *schedData) measuredAt(workload string, handler int64, mix string, conns int, metric func(*schedPoint) sample, higherFirst bool) []backendPoint {
	var out []backendPoint
	for _, b := range d.backends {
		p := d.at(workload, handler, mix, b, conns)
		if p == nil || p.measured == 0 || metric(p).n == 0 {
			continue
		}
		out = append(out, backendPoint{b, p})
	}
	slices.SortStableFunc(out, func(x, y backendPoint) int {
		c := cmp.Compare(metric(x.p).median, metric(y.p).median)
		if higherFirst {
			c = -c
		}
		return c
	})
	return out
}

func getRPSSample(p *schedPoint) sample   { return p.rps }
func getCheapSample(p *schedPoint) sample { return p.cheapP99 }

// describe is "45,000 req/s (p99 2.1 ms)", with the error share and
// failed repetitions inside the parentheses when there are any.
func describe(p *schedPoint) string {
	if p.p99.n == 0 {
		return fmt.Sprintf("%s req/s (no request completed%s)", fmtCount(p.rps.median), troubles(p))
	}
	return fmt.Sprintf("%s req/s (p99 %s%s)", fmtCount(p.rps.median), fmtMicros(p.p99.median), troubles(p))
}

// troubles notes a point's error share above 1% (the runner's limit for
// an ok cell) and its failed and saturated repetitions:
// "; 87% of requests failed; 3 of 3 repetitions failed".
func troubles(p *schedPoint) string {
	var s string
	if p.errShare > 0.01 {
		s += fmt.Sprintf("; %s of requests failed", pct(p.errShare))
	}
	if p.failed > 0 {
		s += fmt.Sprintf("; %d of %d repetitions failed", p.failed, p.reps)
	}
	if p.saturated > 0 {
		s += fmt.Sprintf("; %d of %d saturated, left out", p.saturated, p.reps)
	}
	if p.noisy > 0 {
		s += fmt.Sprintf("; %d of %d noisy, left out", p.noisy, p.reps)
	}
	return s
}

func pct(x float64) string {
	v := 100 * x
	if v >= 10 {
		return fmt.Sprintf("%.0f%%", v)
	}
	return fmt.Sprintf("%.1f%%", v)
}

// writeWorkSentences writes, for one handler workload at one connection
// count, which backend served the most and the least, each offload pair
// head to head, what the work cost each backend against plaintext, and
// for cpu the ceiling the server's CPUs allow.
func (d *schedData) writeWorkSentences(w io.Writer, workload string, us int64, conns int, what string) {
	rk := d.measuredAt(workload, us, "", conns, getRPSSample, true)
	var b strings.Builder
	fmt.Fprintf(&b, "- At %s connections %s, ", fmtCount(float64(conns)), what)
	switch {
	case len(rk) == 0:
		b.WriteString("no backend measured anything.")
	case rk[0].p.rps.median == 0:
		var all []string
		for _, bp := range rk {
			all = append(all, bp.backend+" "+describe(bp.p))
		}
		fmt.Fprintf(&b, "no backend completed requests: %s.", strings.Join(all, ", "))
	case len(rk) == 1:
		fmt.Fprintf(&b, "only %s measured: %s.", rk[0].backend, describe(rk[0].p))
	default:
		best, worst := rk[0], rk[len(rk)-1]
		fmt.Fprintf(&b, "%s served the most, %s; %s the least", best.backend, describe(best.p), worst.backend)
		if worst.p.rps.median > 0 {
			fmt.Fprintf(&b, ", %s× less", trimFloat(best.p.rps.median/worst.p.rps.median))
		}
		fmt.Fprintf(&b, ": %s", describe(worst.p))
		if best.p.rps.overlaps(rk[1].p.rps) {
			fmt.Fprintf(&b, "; %s and %s overlap over their repetitions", best.backend, rk[1].backend)
		}
		b.WriteString(".")
	}
	for _, pair := range offloadPairs {
		loop, pool := d.at(workload, us, "", pair[0], conns), d.at(workload, us, "", pair[1], conns)
		if loop == nil || pool == nil || loop.measured == 0 || pool.measured == 0 {
			continue
		}
		fmt.Fprintf(&b, " Handlers on the loop against a pool: %s %s, %s %s.", pair[0], describe(loop), pair[1], describe(pool))
	}
	var costs []string
	type cost struct {
		backend string
		kept    float64
	}
	var cs []cost
	for _, bp := range rk {
		base := d.at(wlPlaintext, -1, "", bp.backend, conns)
		if base == nil || base.measured == 0 || base.rps.median <= 0 {
			continue
		}
		cs = append(cs, cost{bp.backend, bp.p.rps.median / base.rps.median})
	}
	slices.SortStableFunc(cs, func(x, y cost) int { return cmp.Compare(y.kept, x.kept) })
	for _, c := range cs {
		costs = append(costs, fmt.Sprintf("%s %s", c.backend, pct(c.kept)))
	}
	if len(costs) > 0 {
		fmt.Fprintf(&b, " Share of its own plaintext throughput kept: %s.", strings.Join(costs, ", "))
	}
	if workload == wlCPU && us > 0 && d.procs > 0 && len(rk) > 0 && rk[0].p.rps.median > 0 {
		ceiling := float64(d.procs) * 1e6 / float64(us)
		fmt.Fprintf(&b, " The CPU bound is %s req/s (%d server CPU ÷ %s); %s reached %s of it.",
			fmtCount(ceiling), d.procs, fmtMicros(float64(us)), rk[0].backend, pct(rk[0].p.rps.median/ceiling))
	}
	fmt.Fprintln(w, b.String())
}

// writeMixSentence writes, for one mix at one connection count, where the
// cheap requests (the entry with the largest weight) kept the lowest and
// the highest p99, each against the backend's plaintext p99.
func (d *schedData) writeMixSentence(w io.Writer, mix string, conns int) {
	cheapPath := cheapEntry(mix)
	rk := d.measuredAt(wlMix, -1, mix, conns, getCheapSample, false)
	var b strings.Builder
	fmt.Fprintf(&b, "- At %s connections, ", fmtCount(float64(conns)))
	vsPlain := func(bp backendPoint) string {
		s := fmtMicros(bp.p.cheapP99.median)
		base := d.at(wlPlaintext, -1, "", bp.backend, conns)
		if base != nil && base.measured > 0 && base.p99.median > 0 {
			s += fmt.Sprintf(", %s× its plaintext p99", trimFloat(bp.p.cheapP99.median/base.p99.median))
		}
		return s + troubles(bp.p)
	}
	switch len(rk) {
	case 0:
		fmt.Fprintf(&b, "no backend measured the %s requests of the mix.", cheapPath)
	case 1:
		fmt.Fprintf(&b, "only %s measured the %s requests of the mix: p99 %s.", rk[0].backend, cheapPath, vsPlain(rk[0]))
	default:
		best, worst := rk[0], rk[len(rk)-1]
		fmt.Fprintf(&b, "the cheap %s requests' p99 was lowest on %s (%s) and highest on %s (%s).",
			cheapPath, best.backend, vsPlain(best), worst.backend, vsPlain(worst))
	}
	for _, pair := range offloadPairs {
		loop, pool := d.at(wlMix, -1, mix, pair[0], conns), d.at(wlMix, -1, mix, pair[1], conns)
		if loop == nil || pool == nil || loop.cheapP99.n == 0 || pool.cheapP99.n == 0 {
			continue
		}
		fmt.Fprintf(&b, " Handlers on the loop against a pool: %s %s, %s %s.", pair[0], fmtMicros(loop.cheapP99.median), pair[1], fmtMicros(pool.cheapP99.median))
	}
	fmt.Fprintln(w, b.String())
}

// cheapEntry is the path of the mix entry with the largest weight (the
// first of equals).
func cheapEntry(spec string) string {
	best, bestW := "", -1
	for _, e := range strings.Split(spec, ",") {
		i := strings.LastIndexByte(e, ':')
		if i < 0 {
			continue
		}
		if w, err := strconv.Atoi(e[i+1:]); err == nil && w > bestW {
			best, bestW = e[:i], w
		}
	}
	return best
}

// writeTable writes one line per workload and connection count, one
// column per backend: median req/s and p99 (for a mix, the cheap
// requests' p99), with error share and failed repetitions.
func (d *schedData) writeTable(w io.Writer, title string, cell func(*schedPoint, bool) string) {
	type line struct {
		label    string
		workload string
		handler  int64
		mix      string
	}
	lines := []line{{"plaintext", wlPlaintext, -1, ""}}
	for _, us := range d.delays {
		lines = append(lines, line{"delay " + fmtMicros(float64(us)), wlDelay, us, ""})
	}
	for _, us := range d.cpus {
		lines = append(lines, line{"cpu " + fmtMicros(float64(us)), wlCPU, us, ""})
	}
	for _, m := range d.mixes {
		lines = append(lines, line{"mix " + m, wlMix, -1, m})
	}
	fmt.Fprintf(w, "%s\n\n| workload | conns |", title)
	for _, b := range d.backends {
		fmt.Fprintf(w, " %s |", mdEscape(b))
	}
	fmt.Fprint(w, "\n|---|---:|")
	for range d.backends {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
	for _, l := range lines {
		for _, c := range d.conns {
			fmt.Fprintf(w, "| %s | %d |", mdEscape(l.label), c)
			for _, b := range d.backends {
				p := d.at(l.workload, l.handler, l.mix, b, c)
				fmt.Fprintf(w, " %s |", cell(p, l.workload == wlMix))
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintln(w)
}

// hasRuntime reports whether any point has runtime figures.
func (d *schedData) hasRuntime() bool {
	for _, p := range d.points {
		if p.sched.n > 0 {
			return true
		}
	}
	return false
}

// schedCell is a point's scheduling latency p99 and GC pause p99.
func schedCell(p *schedPoint, _ bool) string {
	if p == nil || p.sched.n == 0 {
		return "–"
	}
	return fmt.Sprintf("sched %s (GC pause %s)", fmtMicros(p.sched.median), fmtMicros(p.gcPause.median))
}

func tableCell(p *schedPoint, mix bool) string {
	if p == nil {
		return "–"
	}
	if p.measured == 0 {
		var why []string
		for _, n := range []struct {
			k    int
			what string
		}{{p.failed, "failed"}, {p.saturated, "saturated"}, {p.noisy, "noisy"}} {
			if n.k > 0 {
				why = append(why, fmt.Sprintf("%d/%d %s", n.k, p.reps, n.what))
			}
		}
		return "no numbers (" + strings.Join(why, ", ") + ")"
	}
	p99 := p.p99
	if mix {
		p99 = p.cheapP99
	}
	s := fmtCount(p.rps.median) + " req/s, p99 "
	if p99.n > 0 {
		s += fmtMicros(p99.median)
	} else {
		s += "–"
	}
	var notes []string
	if p.errShare > 0.01 {
		notes = append(notes, pct(p.errShare)+" err")
	}
	if p.failed > 0 {
		notes = append(notes, fmt.Sprintf("%d/%d failed", p.failed, p.reps))
	}
	if p.saturated > 0 {
		notes = append(notes, fmt.Sprintf("%d/%d sat.", p.saturated, p.reps))
	}
	if p.noisy > 0 {
		notes = append(notes, fmt.Sprintf("%d/%d noisy", p.noisy, p.reps))
	}
	if len(notes) > 0 {
		s += " (**" + strings.Join(notes, ", ") + "**)"
	}
	return s
}

// writeScheduling writes the section and its plots when rows hold delay,
// cpu or mix workloads; it reads dir/endpoints.csv for the mixes.
func writeScheduling(b *bytes.Buffer, dir string, rows []results.Row, styles map[string]style) error {
	if !hasScheduling(rows) {
		return nil
	}
	eps, err := results.ReadEndpointsFile(dir, nil)
	if err != nil {
		return err
	}
	data := schedulingText(b, rows, eps)
	for i, d := range data {
		refs, err := d.writePlots(dir, i, styles)
		if err != nil {
			return err
		}
		for _, p := range refs {
			fmt.Fprintf(b, "![%s](plots/%s.png)  \n[SVG](plots/%s.svg)\n\n", p.title, p.base, p.base)
		}
	}
	return nil
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

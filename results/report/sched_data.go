package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

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

// measured reports whether a row carries the generator's numbers.
func measured(r results.Row) bool {
	return r.DurationS > 0 || r.Requests > 0 || r.Errors > 0
}

// schedKey is one point of the section: a configuration and a backend.
type schedKey struct {
	cfg     config
	backend string
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

// at is the point of a workload at one parameter (handler µs, -1 for
// none; mix spec), a backend and a connection count in d's regime.
func (d *schedData) at(workload string, handler int64, mix, backend string, conns int) *schedPoint {
	c := config{proto: "http", workload: workload, mix: mix, conns: conns,
		pipeline: d.regime.pipeline, rate: d.regime.rate, serverCPUs: d.regime.serverCPUs}
	if handler >= 0 {
		c.handler = strconv.FormatInt(handler, 10)
	}
	return d.points[schedKey{c, backend}]
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
		c := configOf(r)
		rg := regime{c.pipeline, c.rate, c.serverCPUs}
		d, ok := byRegime[rg]
		if !ok {
			d = &schedData{regime: rg, points: map[schedKey]*schedPoint{}, procs: -1}
			byRegime[rg] = d
			accs[rg] = map[schedKey]*schedAcc{}
			order = append(order, rg)
		}
		d.addRow(r)
		k := schedKey{c, r.Backend}
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

func getRPSSample(p *schedPoint) sample { return p.rps }

func getCheapSample(p *schedPoint) sample { return p.cheapP99 }

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

// hasRuntime reports whether any point has runtime figures.
func (d *schedData) hasRuntime() bool {
	for _, p := range d.points {
		if p.sched.n > 0 {
			return true
		}
	}
	return false
}

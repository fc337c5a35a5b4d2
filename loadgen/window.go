package loadgen

import (
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncbench/asyncbench/loadgen/procstat"
	"github.com/asyncbench/asyncbench/loadgen/summary"
)

// window is the measured window of a run: it owns the warm-up that leads
// into it, the /proc sampler and the interval collector, and what the
// generator process spent in it.
type window struct {
	s       *shared
	sampler *procstat.Sampler // nil without -server-pid
	conns   []*conn
	hlog    io.Writer // nil without -hlog

	start, end       time.Time
	rusStart, rusEnd syscall.Rusage
	col              *collector // nil without -hlog
	server           procstat.Stats
}

// open begins the measured window: from here responses count.
func (w *window) open() {
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &w.rusStart)
	w.start = time.Now()
	if w.sampler != nil {
		if err := w.sampler.Start(); err != nil {
			w.s.stop(ErrServerExited)
		}
	}
	if w.hlog != nil || w.s.cfg.Live != nil {
		var onCut func(elapsed, length time.Duration, iv *hdr.Histogram)
		if live := w.s.cfg.Live; live != nil {
			onCut = func(elapsed, length time.Duration, iv *hdr.Histogram) {
				_, _ = io.WriteString(live, LiveLine(elapsed, iv.TotalCount(), length, iv.ValueAtQuantile(99), w.s.errTotal.Load()))
			}
		}
		w.col = startCollector(w.conns, w.hlog, w.start, onCut)
	}
	w.s.phase.Store(phaseMeasure)
}

// wait runs the warm-up, opens the window and waits until the run stops:
// for its duration, or earlier when ctx ends with another cause.
func (w *window) wait(ctx context.Context) {
	if w.s.cfg.Warmup > 0 {
		if sleepCtx(ctx, w.s.cfg.Warmup) != nil {
			return
		}
		w.open()
	}
	if w.s.cfg.Duration > 0 && sleepCtx(ctx, w.s.cfg.Duration) == nil {
		w.s.stop(ErrDurationElapsed)
	}
	<-ctx.Done()
}

// close ends the window (or stops what open started, if it was opened):
// the generator's CPU, the sampler and the collector's ticker.
func (w *window) close() {
	w.end = time.Now()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &w.rusEnd)
	if w.start.IsZero() { // stopped during warm-up: nothing was measured
		w.start, w.rusStart = w.end, w.rusEnd
	}
	if w.sampler != nil {
		w.server = w.sampler.Stop()
	}
}

// result merges what the connections recorded (once they have stopped)
// and summarises it.
func (w *window) result(stop summary.StopReason) *Result {
	m := measured{
		start:      w.start,
		end:        w.end,
		cpuSeconds: cpuSeconds(w.rusEnd) - cpuSeconds(w.rusStart),
		stop:       stop,
		latency:    newHist(),
	}
	if w.sampler != nil {
		m.server = &w.server
		if w.server.Exited {
			m.stop = summary.StopServerExited
		}
	}
	if w.col != nil {
		m.latency = w.col.finish(w.end)
	}
	if w.s.open {
		m.uncorrected, m.lag = newHist(), newHist()
	}
	m.endpoints = newEndpoints(w.s.mix)
	for _, c := range w.conns {
		for i := range m.endpoints {
			e := &m.endpoints[i]
			c.epLat[i].MergeInto(e.latency)
			e.requests += c.epSt[i].requests
			e.errors += c.epSt[i].errors
		}
		if w.col == nil {
			c.lat.MergeInto(m.latency)
		}
		if w.s.open {
			c.uncorr.MergeInto(m.uncorrected)
			c.lag.MergeInto(m.lag)
		}
		m.counts.add(&c.st)
	}
	return summarize(w.s.cfg, w.s.target.Workload, w.s.engine, m)
}

// emptyResult is the result of a run stopped before it began.
func emptyResult(s *shared) *Result {
	now := time.Now()
	m := measured{start: now, end: now, stop: summary.StopInterrupted, latency: newHist()}
	if s.open {
		m.uncorrected, m.lag = newHist(), newHist()
	}
	m.endpoints = newEndpoints(s.mix)
	return summarize(s.cfg, s.target.Workload, s.engine, m)
}

// measured is what a run produced, merged over its connections: the input
// of summarize.
type measured struct {
	latency, uncorrected, lag *hdr.Histogram // µs; the last two in open loop only
	counts                    connStats
	start, end                time.Time // of the measured window
	cpuSeconds                float64   // generator user+system CPU in the window
	server                    *procstat.Stats
	stop                      summary.StopReason
	endpoints                 []endpointMeasured // with a mix: one per entry, in its order
}

// endpointMeasured is what the requests of one mix entry produced, merged
// over the connections.
type endpointMeasured struct {
	entry            MixEntry
	latency          *hdr.Histogram // corrected latency, µs, timed-out requests included
	requests, errors uint64
}

// newEndpoints returns empty measurements for the entries of a mix; nil
// without one.
func newEndpoints(mix []MixEntry) []endpointMeasured {
	if len(mix) == 0 {
		return nil
	}
	eps := make([]endpointMeasured, len(mix))
	for i, e := range mix {
		eps[i] = endpointMeasured{entry: e, latency: newHist()}
	}
	return eps
}

// add adds another connection's counters.
func (st *connStats) add(o *connStats) {
	st.requests += o.requests
	st.bytesRead += o.bytesRead
	st.bytesWritten += o.bytesWritten
	st.sends += o.sends
	st.slotsSent += o.slotsSent
	st.windowFull += o.windowFull
	st.dials += o.dials
	for k := range st.errs {
		st.errs[k] += o.errs[k]
	}
}

// summarize builds the result of a run of cfg (with defaults applied) from
// what it measured. It does no I/O.
func summarize(cfg Config, workload summary.Workload, engine summary.Engine, m measured) *Result {
	res := &Result{Latency: m.latency, Uncorrected: m.uncorrected, Lag: m.lag}
	st := &m.counts
	sum := &res.Summary
	sum.Target, sum.Workload, sum.Engine = cfg.Target, workload, engine
	sum.Conns, sum.Pipeline, sum.Rate = cfg.Conns, cfg.Pipeline, cfg.Rate
	if cfg.Rate > 0 {
		sum.Rate = cfg.schedule().MeanRate()
		sum.RateStart, sum.RateEnd = cfg.Rate, cfg.Rate
		if cfg.RateEnd > 0 {
			sum.RateEnd = cfg.RateEnd
		}
	}
	sum.PayloadBytes = cfg.Body
	if workload == summary.WorkloadEcho {
		sum.PayloadBytes = cfg.Payload
	}
	sum.Requests = st.requests
	sum.ErrorKinds = make(map[string]uint64, numErrKinds)
	for k, n := range st.errs {
		sum.ErrorKinds[ErrKind(k).String()] = n
		sum.Errors += n
	}
	sum.DurationSeconds = m.end.Sub(m.start).Seconds()
	sum.Churn, sum.Dials = cfg.Churn, st.dials
	if sum.DurationSeconds > 0 {
		sum.RPS = float64(st.requests) / sum.DurationSeconds
		sum.DialsPerSecond = float64(st.dials) / sum.DurationSeconds
	}
	sum.Latency = summary.PercentilesOf(m.latency)
	sum.BytesRead, sum.BytesWritten = st.bytesRead, st.bytesWritten
	sum.StartTime = m.start.UTC().Format(time.RFC3339Nano)
	sum.StopReason = m.stop
	if m.uncorrected != nil {
		u := summary.PercentilesOf(m.uncorrected)
		sum.Uncorrected = &u
		sum.SendLag = &summary.LagPercentiles{
			P50: m.lag.ValueAtQuantile(50),
			P99: m.lag.ValueAtQuantile(99),
			Max: m.lag.Max(),
		}
		sum.WindowFull = st.windowFull
		sum.Saturated, sum.SaturatedReason = saturation(min(sum.RateStart, sum.RateEnd), sum.SendLag.P99, st.slotsSent, st.windowFull)
		if sum.Saturated && sum.Errors > 0 {
			sum.SaturatedReason += fmt.Sprintf("; %d errors in the window: a failing server also fills it", sum.Errors)
		}
	}
	sum.Failed, sum.ErrorPercent, sum.FailedReason = summary.Verdict(sum.Requests, sum.Errors)
	sum.GeneratorCPUSeconds = m.cpuSeconds
	if cfg.Mix != "" {
		sum.Mix, sum.Seed = cfg.Mix, cfg.Seed
		sum.Endpoints = make([]summary.EndpointStats, len(m.endpoints))
		for i, e := range m.endpoints {
			sum.Endpoints[i] = summary.EndpointStats{
				Path: e.entry.Path, Weight: e.entry.Weight,
				Requests: e.requests, Errors: e.errors,
				Latency: summary.PercentilesOf(e.latency),
			}
		}
	}
	if m.server != nil {
		sv := summary.ServerStats(*m.server) // same fields; a field added to one must be added to both
		sum.Server = &sv
	}
	return res
}

// saturation decides whether an open-loop run kept its schedule, from the
// p99 send lag, the slots sent in the window and those that came due while
// their connection's window was full (some of which may never have been
// sent).
func saturation(rate float64, lagP99us int64, sent, windowFull uint64) (bool, string) {
	limit := max(LagFloor, time.Duration(LagIntervals*1e9/rate))
	lag := time.Duration(lagP99us) * time.Microsecond
	var reasons []string
	if lag > limit {
		reasons = append(reasons, fmt.Sprintf("send lag p99 %v > %v", lag, limit))
	}
	if total := max(sent, windowFull); total > 0 && float64(windowFull)*100 > WindowFullPercent*float64(total) {
		reasons = append(reasons, fmt.Sprintf("pipeline window full when %d of %d sends were due (> %g%%)", windowFull, total, WindowFullPercent))
	}
	return len(reasons) > 0, strings.Join(reasons, "; ")
}

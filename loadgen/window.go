package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"runtime"
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

	markConn     net.Conn // to Config.MarkSocket, between the marks
	markRd       *bufio.Reader
	markErr      string          // why marking failed; "" = it did not
	serverWindow json.RawMessage // the server's answer to the close mark
}

// open begins the measured window: from here responses count.
func (w *window) open() {
	w.mark(markOpen)
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

// mark marks the window's opening or closing on the server's mark socket,
// if any, and waits for the answer, so the server's reading is taken
// before the window opens and after it closes. The close answer is kept;
// a failure is kept as the summary's server_window_error, not fatal.
func (w *window) mark(cmd string) {
	if w.s.cfg.MarkSocket == "" || w.markErr != "" {
		return
	}
	if w.markConn == nil {
		c, err := net.DialTimeout("unix", w.s.cfg.MarkSocket, time.Second)
		if err != nil {
			w.markErr = err.Error()
			return
		}
		w.markConn, w.markRd = c, bufio.NewReader(c)
	}
	_ = w.markConn.SetDeadline(time.Now().Add(5 * time.Second))
	var line string
	_, err := io.WriteString(w.markConn, cmd+"\n")
	if err == nil {
		line, err = w.markRd.ReadString('\n')
	}
	if err != nil {
		w.markErr = fmt.Sprintf("mark %s: %v", cmd, err)
		return
	}
	if cmd == markClose {
		w.serverWindow = json.RawMessage(strings.TrimSpace(line))
	}
}

// Mark commands (see Config.MarkSocket).
const (
	markOpen  = "open"
	markClose = "close"
)

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
	} else {
		w.mark(markClose)
	}
	if w.markConn != nil {
		w.markConn.Close()
	}
	if w.sampler != nil {
		w.server = w.sampler.Stop()
	}
}

// result merges what the connections recorded (once they have stopped)
// and summarises it.
func (w *window) result(stop summary.StopReason) *Result {
	m := measured{
		warmup:       w.s.start,
		start:        w.start,
		end:          w.end,
		cpuSeconds:   cpuSeconds(w.rusEnd) - cpuSeconds(w.rusStart),
		stop:         stop,
		latency:      newHist(),
		serverWindow: w.serverWindow,
		markErr:      w.markErr,
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
		m.uncorrected, m.lag, m.ownLag = newHist(), newHist(), newHist()
		m.cpus = runtime.GOMAXPROCS(0)
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
			c.ownLag.MergeInto(m.ownLag)
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
		m.uncorrected, m.lag, m.ownLag = newHist(), newHist(), newHist()
	}
	m.endpoints = newEndpoints(s.mix)
	return summarize(s.cfg, s.target.Workload, s.engine, m)
}

// measured is what a run produced, merged over its connections: the input
// of summarize.
type measured struct {
	latency, uncorrected, lag *hdr.Histogram // µs; the last two in open loop only
	ownLag                    *hdr.Histogram // µs, open loop: the generator's part of lag
	counts                    connStats
	start, end                time.Time // of the measured window
	warmup                    time.Time // when the warm-up began; zero if the run never began
	cpuSeconds                float64   // generator user+system CPU in the window
	cpus                      int       // open loop: CPUs the generator may use (GOMAXPROCS)
	serverWindow              json.RawMessage
	markErr                   string
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
	for k := range ErrKinds() {
		sum.ErrorKinds[ErrKindName(k)] = st.errs[k]
		sum.Errors += st.errs[k]
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
	if !cfg.StartAt.IsZero() && !m.warmup.IsZero() {
		sum.StartAt = cfg.StartAt.UTC().Format(time.RFC3339Nano)
		skew := m.warmup.Sub(cfg.StartAt).Microseconds()
		sum.StartSkewUs = &skew
	}
	sum.StopReason = m.stop
	if m.uncorrected != nil {
		summarizeSchedule(sum, &m)
	}
	sum.Failed, sum.ErrorPercent, sum.FailedReason = summary.Verdict(sum.Requests, sum.Errors)
	sum.GeneratorCPUSeconds = m.cpuSeconds
	sum.ServerWindow, sum.ServerWindowError = m.serverWindow, m.markErr
	if cfg.Mix != "" {
		sum.Mix, sum.Seed = cfg.Mix, cfg.Seed
		sum.Endpoints = endpointStats(m.endpoints)
	}
	if m.server != nil {
		sv := summary.ServerStats(*m.server) // same fields; a field added to one must be added to both
		sum.Server = &sv
	}
	return res
}

// summarizeSchedule adds to sum, whose rates, duration and errors are
// set, what an open-loop run measured of its schedule: the uncorrected
// latency, the send lag and the judgement on who kept the schedule from
// being met.
func summarizeSchedule(sum *summary.Summary, m *measured) {
	st := &m.counts
	u := summary.PercentilesOf(m.uncorrected)
	sum.Uncorrected = &u
	sum.SendLag = &summary.LagPercentiles{
		P50: m.lag.ValueAtQuantile(50),
		P99: m.lag.ValueAtQuantile(99),
		Max: m.lag.Max(),
	}
	sum.WindowFull = st.windowFull
	if m.ownLag != nil {
		sum.OwnSendLag = &summary.LagPercentiles{P50: m.ownLag.ValueAtQuantile(50), P99: m.ownLag.ValueAtQuantile(99), Max: m.ownLag.Max()}
	}
	j := judgeSchedule(scheduleFacts{
		rate: min(sum.RateStart, sum.RateEnd), lagP99us: sum.SendLag.P99, ownLagP99us: ownP99(sum.OwnSendLag),
		sent: st.slotsSent, windowFull: st.windowFull, cpuPct: cpuPct(m.cpuSeconds, sum.DurationSeconds, m.cpus),
	})
	sum.Saturated, sum.SaturatedReason = j.saturated, j.saturatedReason
	sum.ServerBacklog, sum.ServerBacklogReason = j.backlog, j.backlogReason
	if (sum.Saturated || sum.ServerBacklog) && sum.Errors > 0 {
		note := fmt.Sprintf("; %d errors in the window: a failing server also fills it", sum.Errors)
		if sum.Saturated {
			sum.SaturatedReason += note
		} else {
			sum.ServerBacklogReason += note
		}
	}
}

// endpointStats are the summary's per-entry figures of a mix run.
func endpointStats(eps []endpointMeasured) []summary.EndpointStats {
	out := make([]summary.EndpointStats, len(eps))
	for i, e := range eps {
		out[i] = summary.EndpointStats{
			Path: e.entry.Path, Weight: e.entry.Weight,
			Requests: e.requests, Errors: e.errors,
			Latency: summary.PercentilesOf(e.latency),
		}
	}
	return out
}

// scheduleFacts are what judgeSchedule decides from.
type scheduleFacts struct {
	rate                  float64 // lowest scheduled rate, requests/s
	lagP99us, ownLagP99us int64   // send lag p99, all of it and the generator's own part
	sent, windowFull      uint64  // slots sent in the window, and those due behind a full window
	cpuPct                float64 // generator CPU ÷ (window × its CPUs), %; 0 = unknown
}

// scheduleJudgement says which side, if any, kept the schedule from being
// met: the generator (saturated: the run is not a server result) or the
// server (backlog: sends waited for its answers, a wait timed from the
// intended send and so already in the corrected latency: a valid result).
type scheduleJudgement struct {
	saturated       bool
	saturatedReason string
	backlog         bool
	backlogReason   string
}

// judgeSchedule decides an open-loop run's schedule. The send lag is over
// its limit, max(LagFloor, LagIntervals × 1/rate), or more than
// WindowFullPercent of the due sends found their connection's window full:
// the schedule was not met. It is the generator's doing when its own part
// of the lag is over the limit, or when its CPU was at least
// GeneratorBusyPercent busy (responses may then have waited unread in its
// sockets, which looks like a slow server); otherwise the server's.
func judgeSchedule(f scheduleFacts) scheduleJudgement {
	limit := max(LagFloor, time.Duration(LagIntervals*1e9/f.rate))
	lag := time.Duration(f.lagP99us) * time.Microsecond
	own := time.Duration(f.ownLagP99us) * time.Microsecond
	var late []string
	if lag > limit {
		late = append(late, fmt.Sprintf("send lag p99 %v > %v", lag, limit))
	}
	if total := max(f.sent, f.windowFull); total > 0 && float64(f.windowFull)*100 > WindowFullPercent*float64(total) {
		late = append(late, fmt.Sprintf("pipeline window full when %d of %d sends were due (> %g%%)", f.windowFull, total, WindowFullPercent))
	}
	var j scheduleJudgement
	switch {
	case own > limit:
		j.saturated = true
		j.saturatedReason = strings.Join(append([]string{fmt.Sprintf("the generator's own send lag p99 %v > %v", own, limit)}, late...), "; ")
	case len(late) > 0 && f.cpuPct >= GeneratorBusyPercent:
		j.saturated = true
		j.saturatedReason = strings.Join(append(late, fmt.Sprintf("generator CPU %.0f%% busy: its own delay cannot be told from the server's", f.cpuPct)), "; ")
	case len(late) > 0:
		j.backlog = true
		j.backlogReason = "sends waited for the server's answers (charged to it in the corrected latency): " + strings.Join(late, "; ")
	}
	return j
}

// GeneratorBusyPercent is the generator CPU share at and above which a
// late schedule is put down to the generator.
const GeneratorBusyPercent = 90

func ownP99(l *summary.LagPercentiles) int64 {
	if l == nil {
		return 0
	}
	return l.P99
}

// cpuPct is cpuSeconds as a share of window seconds on cpus CPUs, %; 0
// when either is unknown.
func cpuPct(cpuSeconds, window float64, cpus int) float64 {
	if window <= 0 || cpus <= 0 {
		return 0
	}
	return 100 * cpuSeconds / (window * float64(cpus))
}

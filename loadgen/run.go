package loadgen

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncbench/asyncbench/loadgen/procstat"
	"github.com/asyncbench/asyncbench/loadgen/summary"
)

// SampleInterval is how often the server's /proc entry is read (20 Hz).
const SampleInterval = 50 * time.Millisecond

// Saturation thresholds of an open-loop run. A run is marked saturated when
// the p99 send lag exceeds max(LagFloor, LagIntervals × 1/rate), or when more
// than WindowFullPercent of sends were due while the pipeline window of their
// connection was full.
const (
	LagFloor          = 10 * time.Millisecond
	LagIntervals      = 10
	WindowFullPercent = 1.0
)

// Result is a finished run: the summary and the merged histograms behind it.
type Result struct {
	Summary     summary.Summary
	Latency     *hdr.Histogram // corrected latency, µs
	Uncorrected *hdr.Histogram // open loop only: from actual send, µs
	Lag         *hdr.Histogram // open loop only: send lag, µs
}

// shared is the state every connection of a run reads.
type shared struct {
	cfg    Config
	target Target
	open   bool
	echo   bool
	hlog   bool
	req    []byte // one request, or the echo message template
	body   []byte // POST body expected back; nil for GET
	pacers []ConstantPacer

	start time.Time
	phase atomic.Int32

	limit  int64
	budget atomic.Int64

	done     chan struct{} // closed when the run stops
	finished chan struct{} // closed when the request limit is reached
	finOnce  sync.Once
	wg       sync.WaitGroup
}

func (s *shared) now() int64 { return int64(time.Since(s.start)) }

func (s *shared) finish() { s.finOnce.Do(func() { close(s.finished) }) }

// sleep waits d; false if the run stopped meanwhile.
func (s *shared) sleep(d time.Duration) bool { return sleepOn(s.done, d) }

// sleepOn waits d; false if done was closed first.
func sleepOn(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

// dial connects connection id, from its share of the source addresses.
func (s *shared) dial(id int) (net.Conn, error) {
	d := net.Dialer{Timeout: s.cfg.Timeout}
	if n := len(s.cfg.SourceIPs); n > 0 {
		d.LocalAddr = &net.TCPAddr{IP: s.cfg.SourceIPs[id%n].AsSlice()}
	}
	return d.Dial("tcp", s.target.Addr)
}

// Run performs one load run against cfg.Target. Intervals of corrected
// latency are written to hlog once per second when it is non-nil. A
// cancelled ctx ends the run early and still returns what was measured.
// Run fails at once if the target refuses the first connection.
func Run(ctx context.Context, cfg Config, hlog io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := checkFileLimit(cfg.Conns); err != nil {
		return nil, err
	}
	t, _ := ParseTarget(cfg.Target)
	s := &shared{
		cfg:      cfg,
		target:   t,
		open:     cfg.Rate > 0,
		echo:     t.Workload == summary.WorkloadEcho,
		hlog:     hlog != nil,
		limit:    int64(cfg.Requests),
		done:     make(chan struct{}),
		finished: make(chan struct{}),
	}
	s.budget.Store(s.limit)
	if s.echo {
		s.req = pattern(cfg.Payload)
	} else {
		if cfg.Body > 0 {
			s.body = pattern(cfg.Body)
		}
		s.req = httpRequest(t, s.body)
	}
	if s.open {
		s.pacers = Spread(cfg.Rate, cfg.Conns)
	}

	var sampler *procstat.Sampler
	if cfg.ServerPID > 0 {
		sampler = procstat.NewSampler(procstat.Reader{PID: cfg.ServerPID}, SampleInterval)
		if err := sampler.Idle(); err != nil {
			return nil, fmt.Errorf("server pid: %w", err)
		}
	}

	// One connection first, so an unreachable target fails fast.
	first, err := s.dial(0)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", t.Addr, err)
	}
	ncs := make([]net.Conn, cfg.Conns)
	ncs[0] = first
	closeAll := func() {
		for _, nc := range ncs {
			if nc != nil {
				nc.Close()
			}
		}
	}
	dialStart := time.Now()
	for i := 1; i < cfg.Conns; i++ {
		if wait := time.Duration(float64(i)/cfg.DialRate*1e9) - time.Since(dialStart); wait > 0 {
			if err := sleepCtx(ctx, wait); err != nil {
				closeAll()
				return nil, err
			}
		} else if ctx.Err() != nil {
			closeAll()
			return nil, ctx.Err()
		}
		ncs[i], _ = s.dial(i) // a failed dial is retried by the connection
	}
	if !cfg.StartAt.IsZero() {
		if err := sleepCtx(ctx, time.Until(cfg.StartAt)); err != nil {
			closeAll()
			return nil, err
		}
	}

	conns := make([]*conn, cfg.Conns)
	for i := range conns {
		conns[i] = newConn(s, i)
	}
	var exited <-chan struct{}
	if sampler != nil {
		exited = sampler.Exited()
	}
	var (
		stopReason     summary.StopReason
		rsStart, rsEnd syscall.Rusage
		mStart         time.Time
		col            *collector
	)
	// begin opens the measured window.
	begin := func() {
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &rsStart)
		mStart = time.Now()
		if sampler != nil {
			if err := sampler.Start(); err != nil {
				stopReason = summary.StopServerExited
			}
		}
		if hlog != nil {
			col = startCollector(conns, hlog, mStart)
		}
		s.phase.Store(phaseMeasure)
	}

	s.start = time.Now()
	if cfg.Warmup == 0 {
		begin()
	} else {
		s.phase.Store(phaseWarmup)
	}
	engine := cfg.engine()
	if engine == summary.EngineEpoll {
		if err := startEpoll(s, conns, ncs, min(runtime.GOMAXPROCS(0), cfg.Conns)); err != nil {
			closeAll()
			if sampler != nil {
				sampler.Stop()
			}
			if col != nil {
				col.finish(time.Now())
			}
			return nil, err
		}
	} else {
		for i, c := range conns {
			s.wg.Add(1)
			go c.loop(ncs[i])
		}
	}
	if cfg.Warmup > 0 {
		if r := waitPhase(ctx, cfg.Warmup, s.finished, exited); r != summary.StopDuration {
			stopReason = r
		} else {
			begin()
		}
	}
	if stopReason == "" {
		stopReason = waitPhase(ctx, cfg.Duration, s.finished, exited)
	}
	s.phase.Store(phaseStop)
	mEnd := time.Now()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &rsEnd)
	if mStart.IsZero() { // stopped during warm-up: nothing was measured
		mStart, rsStart = mEnd, rsEnd
	}
	close(s.done)
	var srv procstat.Stats
	if sampler != nil {
		srv = sampler.Stop()
		if srv.Exited {
			stopReason = summary.StopServerExited
		}
	}
	for _, c := range conns {
		c.shut()
	}
	s.wg.Wait()

	res := &Result{Latency: newHist()}
	if col != nil {
		res.Latency = col.finish(mEnd)
	} else {
		for _, c := range conns {
			c.lat.MergeInto(res.Latency)
		}
	}
	var st connStats
	if s.open {
		res.Uncorrected, res.Lag = newHist(), newHist()
	}
	for _, c := range conns {
		if s.open {
			c.uncorr.MergeInto(res.Uncorrected)
			c.lag.MergeInto(res.Lag)
		}
		st.requests += c.st.requests
		st.bytesIn += c.st.bytesIn
		st.bytesOut += c.st.bytesOut
		st.sends += c.st.sends
		st.due += c.st.due
		st.windowFull += c.st.windowFull
		for k := range st.errs {
			st.errs[k] += c.st.errs[k]
		}
	}

	sum := &res.Summary
	sum.Target = cfg.Target
	sum.Workload = t.Workload
	sum.Engine = engine
	sum.Conns = cfg.Conns
	sum.Pipeline = cfg.Pipeline
	sum.Rate = cfg.Rate
	if s.echo {
		sum.PayloadBytes = cfg.Payload
	} else {
		sum.PayloadBytes = cfg.Body
	}
	sum.Requests = st.requests
	sum.ErrorKinds = make(map[string]uint64, numErrKinds)
	for k, n := range st.errs {
		sum.ErrorKinds[ErrKind(k).String()] = n
		sum.Errors += n
	}
	sum.DurationSeconds = mEnd.Sub(mStart).Seconds()
	if sum.DurationSeconds > 0 {
		sum.RPS = float64(st.requests) / sum.DurationSeconds
	}
	sum.Latency = summary.PercentilesOf(res.Latency)
	sum.BytesRead, sum.BytesWritten = st.bytesIn, st.bytesOut
	sum.StartTime = mStart.UTC().Format(time.RFC3339Nano)
	sum.StopReason = stopReason
	if s.open {
		u := summary.PercentilesOf(res.Uncorrected)
		sum.Uncorrected = &u
		sum.SendLag = &summary.LagPercentiles{
			P50: res.Lag.ValueAtQuantile(50),
			P99: res.Lag.ValueAtQuantile(99),
			Max: res.Lag.Max(),
		}
		sum.WindowFull = st.windowFull
		sum.Saturated, sum.SaturatedReason = saturation(cfg.Rate, sum.SendLag.P99, st.due, st.windowFull)
		if sum.Saturated && sum.Errors > 0 {
			sum.SaturatedReason += fmt.Sprintf("; %d errors in the window: a failing server also fills it", sum.Errors)
		}
	}
	sum.Failed, sum.ErrorPercent, sum.FailedReason = summary.Verdict(sum.Requests, sum.Errors)
	sum.GeneratorCPUSeconds = cpuSeconds(rsEnd) - cpuSeconds(rsStart)
	if sampler != nil {
		sv := summary.ServerStats(srv) // same fields; a field added to one must be added to both
		sum.Server = &sv
	}
	if col != nil && col.err != nil {
		return res, fmt.Errorf("hlog: %w", col.err)
	}
	return res, nil
}

// fdSpare is how many descriptors beyond one per connection a run needs
// (stdio, epoll instances, the hlog and /proc files).
const fdSpare = 32

// checkFileLimit fails before any dial when conns connections cannot fit
// under the open-file limit, instead of failing part way through.
func checkFileLimit(conns int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == ^uint64(0) {
		return nil
	}
	if uint64(conns)+fdSpare > uint64(lim.Cur) {
		return fmt.Errorf("%d connections need %d file descriptors but the open-file limit is %d (ulimit -n)",
			conns, conns+fdSpare, lim.Cur)
	}
	return nil
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

// waitPhase waits d (0 = forever) and returns why it ended.
func waitPhase(ctx context.Context, d time.Duration, finished, exited <-chan struct{}) summary.StopReason {
	var tc <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-tc:
		return summary.StopDuration
	case <-ctx.Done():
		return summary.StopInterrupted
	case <-finished:
		return summary.StopRequests
	case <-exited:
		return summary.StopServerExited
	}
}

// sleepCtx waits d; ctx's error if it ends first (or already has).
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d > 0 && sleepOn(ctx.Done(), d) {
		return nil
	}
	return ctx.Err()
}

func cpuSeconds(ru syscall.Rusage) float64 {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

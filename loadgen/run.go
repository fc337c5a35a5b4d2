package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
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

// Schedule thresholds of an open-loop run. Its schedule was not met when
// the p99 send lag exceeds max(LagFloor, LagIntervals × 1/rate), or when more
// than WindowFullPercent of the schedule's slots came due while the pipeline
// window of their connection was full; judgeSchedule says whose doing that
// was (saturated: the generator's; server backlog: the server's).
const (
	LagFloor          = 10 * time.Millisecond
	LagIntervals      = 10
	WindowFullPercent = 1.0
)

// Causes of the end of a run, as context.Cause reports them on the run's
// context. Any other cause (the caller's context ending) is an interruption.
var (
	ErrDurationElapsed = errors.New("measured duration elapsed")
	ErrRequestLimit    = errors.New("request limit reached")
	ErrServerExited    = errors.New("server process exited")
)

// stopReason maps the cause of a run's end to its summary.StopReason.
func stopReason(cause error) summary.StopReason {
	switch {
	case errors.Is(cause, ErrDurationElapsed):
		return summary.StopDuration
	case errors.Is(cause, ErrRequestLimit):
		return summary.StopRequests
	case errors.Is(cause, ErrServerExited):
		return summary.StopServerExited
	}
	return summary.StopInterrupted
}

// Result is a finished run: the summary and the merged histograms behind it.
type Result struct {
	Summary     summary.Summary
	Latency     *hdr.Histogram // corrected latency, µs
	Uncorrected *hdr.Histogram // open loop only: from actual send, µs
	Lag         *hdr.Histogram // open loop only: send lag, µs
}

// runPhase is where a run is.
type runPhase int32

// Run phases.
const (
	phaseWarmup  runPhase = iota // before the measured window
	phaseMeasure                 // in the measured window: responses and errors count
	phaseStop                    // the run has stopped
)

// atomicPhase is a runPhase loaded and stored atomically.
type atomicPhase struct{ v atomic.Int32 }

func (a *atomicPhase) Load() runPhase    { return runPhase(a.v.Load()) }
func (a *atomicPhase) Store(ph runPhase) { a.v.Store(int32(ph)) }

// shared is the state every connection of a run reads.
type shared struct {
	cfg    Config
	target Target
	engine summary.Engine
	open   bool // open loop (cfg.Rate > 0)
	echo   bool
	churn  bool // a new connection per request (cfg.Churn)
	hlog   bool
	req    []byte     // one request, or the echo message template
	mix    []MixEntry // with a mix: its entries, in the order written
	reqs   [][]byte   // with a mix: the request of each entry
	cum    []uint64   // with a mix: cumulative weights
	body   []byte     // POST body expected back; nil for GET
	scheds []Schedule // open loop: one per connection

	start time.Time   // schedule start: the beginning of the warm-up
	phase atomicPhase // hot-path copy of where the run is; phaseStop once stop was called

	errTotal atomic.Uint64 // errors counted in the window so far, for the live line

	requestLimit int64        // -n; 0 = none
	requestsLeft atomic.Int64 // requests left to record under limit

	ctx  context.Context         // the run's context: it ends when the run stops
	done <-chan struct{}         // ctx.Done()
	stop context.CancelCauseFunc // ends the run with a cause
	wg   sync.WaitGroup          // connection goroutines or event loops
}

// newShared validates cfg and builds the state of a run over it.
func newShared(cfg Config, hlog bool) (*shared, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := checkFileLimit(cfg.Conns); err != nil {
		return nil, err
	}
	t, _ := ParseTarget(cfg.Target)
	s := &shared{
		cfg:          cfg,
		target:       t,
		engine:       cfg.engine(),
		open:         cfg.Rate > 0,
		echo:         t.Workload == summary.WorkloadEcho,
		churn:        cfg.Churn,
		hlog:         hlog || cfg.Live != nil,
		requestLimit: int64(cfg.Requests),
	}
	s.requestsLeft.Store(s.requestLimit)
	if s.echo {
		s.req = pattern(cfg.Payload)
	} else {
		if cfg.Body > 0 {
			s.body = pattern(cfg.Body)
		}
		s.req = httpRequest(t, s.body, cfg.Churn)
	}
	if cfg.Mix != "" {
		s.mix, _ = ParseMix(cfg.Mix)
		s.cum = cumulative(s.mix)
		for _, e := range s.mix {
			s.reqs = append(s.reqs, httpRequest(Target{Addr: t.Addr, Path: e.Path}, nil, cfg.Churn))
		}
	}
	if s.open {
		s.scheds = SpreadSchedule(cfg.schedule(), cfg.Conns)
	}
	return s, nil
}

func (s *shared) now() int64 { return int64(time.Since(s.start)) }

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
func (s *shared) dial(ctx context.Context, id int) (net.Conn, error) {
	d := net.Dialer{Timeout: s.cfg.Timeout}
	if n := len(s.cfg.SourceIPs); n > 0 {
		d.LocalAddr = &net.TCPAddr{IP: s.cfg.SourceIPs[id%n].AsSlice()}
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { bindNoPort(int(fd)) })
		}
	}
	return d.DialContext(ctx, "tcp", s.target.Addr)
}

// Run performs one load run against cfg.Target. Intervals of corrected
// latency are written to hlog once per second when it is non-nil. A
// cancelled ctx ends the run early, during dialling included, and still
// returns what was measured (stop reason interrupted). Run fails at once if
// the target refuses the first connection.
func Run(ctx context.Context, cfg Config, hlog io.Writer) (*Result, error) {
	s, err := newShared(cfg, hlog != nil)
	if err != nil {
		return nil, err
	}
	if s.cfg.Idle {
		return runIdle(ctx, s, procstat.Reader{PID: s.cfg.ServerPID})
	}
	sampler, err := newSampler(s.cfg.ServerPID)
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	s.ctx, s.done, s.stop = runCtx, runCtx.Done(), stop

	var ncs []net.Conn
	if s.churn {
		ncs, err = make([]net.Conn, s.cfg.Conns), probe(runCtx, s)
	} else {
		ncs, err = dialAll(runCtx, s)
	}
	if err == nil {
		err = sleepCtx(runCtx, time.Until(s.cfg.StartAt))
	}
	if err != nil {
		closeAll(ncs)
		if ctx.Err() != nil { // interrupted before the run began
			return emptyResult(s), nil
		}
		return nil, err
	}
	conns := make([]*conn, s.cfg.Conns)
	for i := range conns {
		conns[i] = newConn(s, i)
	}
	w := &window{s: s, sampler: sampler, conns: conns, hlog: hlog}
	if sampler != nil {
		watchExit(runCtx, sampler.Exited(), stop)
	}
	s.start = time.Now()
	if s.cfg.Warmup == 0 {
		w.open()
	} else {
		s.phase.Store(phaseWarmup)
	}
	shut, err := startEngine(s, conns, ncs)
	if err != nil {
		closeAll(ncs)
		w.close()
		return nil, err
	}
	w.wait(runCtx)
	s.phase.Store(phaseStop)
	w.close()
	shut()
	s.wg.Wait()
	res := w.result(stopReason(context.Cause(runCtx)))
	if w.col != nil && w.col.err != nil {
		return res, fmt.Errorf("hlog: %w", w.col.err)
	}
	return res, nil
}

// newSampler returns a sampler of /proc/pid with its idle reading taken,
// or nil when pid is 0.
func newSampler(pid int) (*procstat.Sampler, error) {
	if pid == 0 {
		return nil, nil
	}
	sampler := procstat.NewSampler(procstat.Reader{PID: pid}, SampleInterval)
	if err := sampler.Idle(); err != nil {
		return nil, fmt.Errorf("server pid: %w", err)
	}
	return sampler, nil
}

// watchExit stops the run with ErrServerExited when exited closes.
func watchExit(ctx context.Context, exited <-chan struct{}, stop context.CancelCauseFunc) {
	go func() {
		select {
		case <-exited:
			stop(ErrServerExited)
		case <-ctx.Done():
		}
	}()
}

// startEngine starts the connections' goroutines or event loops over the
// dialled ncs and returns the function that wakes them once the run has
// stopped (they then return and s.wg is done).
func startEngine(s *shared, conns []*conn, ncs []net.Conn) (shut func(), err error) {
	if s.engine == summary.EngineEpoll {
		// The loops see the stop within one housekeeping period.
		err := startEpoll(s, conns, ncs, min(runtime.GOMAXPROCS(0), s.cfg.Conns))
		return func() {}, err
	}
	return startGoroutines(s, conns, ncs), nil
}

func closeAll(ncs []net.Conn) {
	for _, nc := range ncs {
		if nc != nil {
			nc.Close()
		}
	}
}

// maxDialsInFlight bounds the connects waiting at once while dialling.
const maxDialsInFlight = 256

// dialPhaseLimit is how long dialling may take in all: the time -dial-rate
// needs plus one timeout. Connections not open by then are left to the
// engine, which re-dials them like any dropped connection.
func dialPhaseLimit(cfg Config) time.Duration {
	return time.Duration(float64(cfg.Conns)/cfg.DialRate*1e9) + cfg.Timeout
}

// dialAll opens the run's connections concurrently, started at
// cfg.DialRate per second with at most maxDialsInFlight waiting, within
// dialPhaseLimit. A failed dial leaves a nil entry, re-dialled later; only a
// refusal of connection 0 (any error but a timeout) fails the run, so an
// unreachable target fails fast. It returns ctx's error if ctx ends first.
func dialAll(ctx context.Context, s *shared) ([]net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialPhaseLimit(s.cfg))
	defer cancel()
	ncs := make([]net.Conn, s.cfg.Conns)
	var first error
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxDialsInFlight)
	start := time.Now()
	for i := range ncs {
		wait := time.Duration(float64(i)/s.cfg.DialRate*1e9) - time.Since(start)
		if sleepCtx(ctx, wait) != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var err error
			ncs[i], err = s.dial(ctx, i)
			if i == 0 && err != nil && !isTimeout(err) && ctx.Err() == nil {
				first = err
				cancel()
			}
		}()
	}
	wg.Wait()
	switch {
	case first != nil:
		closeAll(ncs)
		return nil, fmt.Errorf("connect to %s: %w", s.target.Addr, first)
	case s.done != nil && isDone(s.done):
		closeAll(ncs)
		return nil, context.Canceled
	}
	return ncs, nil
}

// probe checks that the target accepts a connection before a churn run,
// whose every request dials its own: a refusal fails the run at once, as
// the refusal of the first connection does in dialAll. The probe
// connection is closed unused; a timeout is left to the run.
func probe(ctx context.Context, s *shared) error {
	nc, err := s.dial(ctx, 0)
	switch {
	case err == nil:
		return nc.Close()
	case ctx.Err() != nil:
		return ctx.Err()
	case isTimeout(err):
		return nil
	}
	return fmt.Errorf("connect to %s: %w", s.target.Addr, err)
}

// firstDialNs is when, in ns from the start, connection id of a
// closed-loop churn run dials for the first time: at cfg.DialRate, so
// thousands of connections do not open in one burst. Later dials follow
// the responses (closed loop) or the schedule (open loop).
func (s *shared) firstDialNs(id int) int64 {
	if s.open {
		return 0
	}
	return int64(float64(id) / s.cfg.DialRate * 1e9)
}

func isDone(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// isTimeout reports whether a dial error is a timeout (the target may be
// slow to accept) rather than a refusal.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
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

package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/asyncbench/asyncbench/loadgen/procstat"
	"github.com/asyncbench/asyncbench/loadgen/summary"
)

// An idle run (Config.Idle) measures what open, silent connections cost the
// server: its memory is read before dialling, every connection carries one
// request and its answer, and then all of them stay open without traffic
// for the duration while the server is sampled.

// pingResult is the outcome of the one request of an idle connection.
type pingResult struct {
	kind        ErrKind // ErrNone or the error
	latency     int64   // ns from the send to the answer (or to the timeout)
	read, wrote int     // socket bytes
}

// memoryReader reads the server's memory: procstat.Reader in a run, a
// fake in tests.
type memoryReader interface {
	ReadMemory() (procstat.Memory, error)
}

// runIdle performs an idle run of s, reading the server's memory from rd,
// under ctx; it sets up s's run context (s.ctx, s.done, s.stop).
func runIdle(ctx context.Context, s *shared, rd memoryReader) (*Result, error) {
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	s.ctx, s.done, s.stop = runCtx, runCtx.Done(), stop
	base, err := rd.ReadMemory()
	if err != nil {
		return nil, fmt.Errorf("server pid: %w", err)
	}
	ncs, err := dialAll(s.ctx, s)
	if err != nil {
		closeAll(ncs)
		if ctx.Err() != nil {
			return emptyResult(s), nil
		}
		return nil, err
	}
	defer closeAll(ncs)
	m := measured{latency: newHist()}
	for _, p := range pingAll(s, ncs) {
		m.counts.bytesRead += uint64(p.read)
		m.counts.bytesWritten += uint64(p.wrote)
		if p.kind == ErrNone || p.kind == ErrTimeout {
			m.latency.RecordValue(usec(p.latency))
		}
		if p.kind == ErrNone {
			m.counts.requests++
		} else {
			m.counts.errs[p.kind]++
		}
	}
	var rusStart, rusEnd syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &rusStart)
	m.start = time.Now()
	idle, cause := holdIdle(s.ctx, rd, s.cfg.Duration, SampleInterval)
	m.end = time.Now()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &rusEnd)
	m.cpuSeconds = cpuSeconds(rusEnd) - cpuSeconds(rusStart)
	m.stop = stopReason(cause)
	res := summarize(s.cfg, s.target.Workload, s.engine, m)
	res.Summary.ServerIdle = &summary.IdleMemory{
		RSSBaseKiB: base.RSSKiB, RSSKiB: idle.RSSKiB,
		VmPTEBaseKiB: base.VmPTEKiB, VmPTEKiB: idle.VmPTEKiB,
		ThreadsBase: base.Threads, Threads: idle.Threads,
		SockMemBaseKiB: base.SockMemKiB, SockMemKiB: idle.SockMemKiB,
		SlabBaseKiB: base.SlabKiB, SlabKiB: idle.SlabKiB,
	}
	return res, nil
}

// pingAll sends one request on every connection at once and waits for
// every answer (or its timeout). A connection that was not dialled is a
// connect error.
func pingAll(s *shared, ncs []net.Conn) []pingResult {
	out := make([]pingResult, len(ncs))
	var wg sync.WaitGroup
	for i, nc := range ncs {
		if nc == nil {
			out[i].kind = ErrConnect
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = ping(s, nc)
		}()
	}
	wg.Wait()
	return out
}

// ping sends s's request (or echo message) on nc and verifies the answer.
func ping(s *shared, nc net.Conn) pingResult {
	start := time.Now()
	_ = nc.SetDeadline(start.Add(s.cfg.Timeout))
	defer nc.SetDeadline(time.Time{})
	var res pingResult
	fail := func(kind ErrKind, err error) pingResult {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			kind = ErrTimeout
		}
		res.kind, res.latency = kind, int64(time.Since(start))
		return res
	}
	ok := func() pingResult { return fail(ErrNone, nil) }
	var err error
	if res.wrote, err = nc.Write(s.req); err != nil {
		return fail(ErrWrite, err)
	}
	buf := make([]byte, 16<<10)
	have := 0
	for {
		n, err := nc.Read(buf[have:])
		have += n
		res.read += n
		if s.echo {
			if have >= len(s.req) || (have > 0 && !bytes.Equal(buf[:have], s.req[:have])) {
				if !bytes.Equal(buf[:have], s.req) {
					return fail(ErrMismatch, nil)
				}
				return ok()
			}
		} else if have > 0 {
			off := 0
			for off < have {
				r, n, perr := ParseResponse(buf[off:have])
				switch {
				case perr != nil:
					return fail(ErrProtocol, perr)
				case n == 0:
				case r.Status < 200:
					off += n
					continue
				case r.BodyLen < 0:
					return fail(ErrProtocol, errUntilClose)
				case r.Status > 299:
					return fail(ErrStatus, nil)
				default:
					return ok()
				}
				break
			}
			if have == len(buf) {
				if len(buf) >= maxBuffered {
					return fail(ErrProtocol, errTooLarge)
				}
				buf = append(buf, make([]byte, len(buf))...)
			}
		}
		if err != nil {
			switch {
			case s.echo && have > 0:
				return fail(ErrMismatch, err)
			case !s.echo && have > 0:
				return fail(ErrProtocol, err)
			}
			return fail(ErrRead, err)
		}
	}
}

// holdIdle samples the server every interval for d, or until ctx ends or
// the server exits, and returns the largest value of each field seen (each
// field's own maximum; they may come from different samples) and why it
// stopped.
func holdIdle(ctx context.Context, rd memoryReader, d, interval time.Duration) (procstat.Memory, error) {
	peak := procstat.Memory{SlabKiB: -1}
	add := func() error {
		m, err := rd.ReadMemory()
		if err != nil {
			return err
		}
		peak.RSSKiB = max(peak.RSSKiB, m.RSSKiB)
		peak.VmPTEKiB = max(peak.VmPTEKiB, m.VmPTEKiB)
		peak.Threads = max(peak.Threads, m.Threads)
		peak.SockMemKiB = max(peak.SockMemKiB, m.SockMemKiB)
		peak.SlabKiB = max(peak.SlabKiB, m.SlabKiB)
		return nil
	}
	exited := func(err error) error {
		if errors.Is(err, procstat.ErrExited) {
			return ErrServerExited
		}
		return nil
	}
	if err := add(); err != nil && exited(err) != nil {
		return peak, ErrServerExited
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	end := time.NewTimer(d)
	defer end.Stop()
	for {
		select {
		case <-ctx.Done():
			return peak, context.Cause(ctx)
		case <-end.C:
			_ = add()
			return peak, ErrDurationElapsed
		case <-t.C:
			if err := add(); err != nil && exited(err) != nil {
				return peak, ErrServerExited
			}
		}
	}
}

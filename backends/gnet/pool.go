package gnet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	gn "github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/pool/goroutine"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/backends/h1"
)

// NewPool returns the gnet-pool backend for proto: gnet as its
// documentation recommends for slow work. Fast requests are answered on
// the event loop as in New; /delay and /cpu run on a goroutine pool (gnet's
// pkg/pool/goroutine, built on ants) and their answer goes back with
// Conn.AsyncWrite. Echo is served exactly as New serves it.
func NewPool(proto backends.Proto) (backends.Server, error) {
	s := &Server{}
	switch proto {
	case backends.ProtoEcho:
		s.handler = &echoHandler{off: &s.off}
	case backends.ProtoHTTP:
		h := &poolHandler{off: &s.off, pool: goroutine.Default(), done: make(chan struct{})}
		s.handler = h
		s.stop = h.close
	default:
		return nil, fmt.Errorf("gnet-pool: protocol %q: %w", proto, backends.ErrUnsupported)
	}
	return s, nil
}

// poolConn is the state of one gnet-pool HTTP connection, kept as its gnet
// context. It is touched only on the event loop, except by the pool task
// that owns the session while busy is set.
type poolConn struct {
	h1.Session
	busy    bool // a slow request is on the pool; later input waits in gnet's buffer
	closing bool // its answer closes the connection
	// orphan is set when gnet closes the connection (the client's EOF)
	// while busy: the pool's answer goes there, to the goroutine that took
	// the socket over.
	orphan chan<- orphanAnswer
}

// orphanAnswer is a slow request's answer for a connection gnet has closed.
type orphanAnswer struct {
	out       []byte
	closeConn bool
}

// poolHandler serves HTTP on the event loop and hands slow requests to a
// goroutine pool. A connection with a slow request in flight is busy: its
// later input stays in gnet's inbound buffer, unparsed, until the answer
// has been written (AsyncWrite's callback, on the loop) and the loop is
// woken for the connection (Conn.Wake), so answers stay in request order.
type poolHandler struct {
	gn.BuiltinEventEngine
	off   *offLoop
	pool  *goroutine.Pool
	tasks sync.WaitGroup
	done  chan struct{} // closed by close: pending waits end at once
}

// OnOpen attaches the connection state; a connection enrolled back from
// off the loop comes with its own.
func (*poolHandler) OnOpen(c gn.Conn) ([]byte, gn.Action) {
	if _, ok := c.Context().(*poolConn); !ok {
		c.SetContext(&poolConn{})
	}
	return nil, gn.None
}

// OnTraffic answers the complete requests buffered on c up to the first
// slow one, which it hands to the pool. A busy connection's input waits.
func (h *poolHandler) OnTraffic(c gn.Conn) gn.Action {
	pc, _ := c.Context().(*poolConn)
	switch {
	case pc == nil:
		return gn.Close
	case pc.busy:
		return gn.None
	case pc.closing:
		if c.OutboundBuffered() == 0 {
			h.off.start(c, func(tc *net.TCPConn, _ <-chan struct{}) bool {
				backends.LingerClose(tc)
				return true
			})
		}
		return gn.Close
	}
	buf, err := c.Peek(-1)
	if err != nil || len(buf) == 0 {
		return gn.None
	}
	var dateBuf [32]byte
	date := backends.AppendDate(dateBuf[:0])
	outp := outPool.Get().(*[]byte)
	n, out, closeConn, w := pc.Serve(buf, (*outp)[:0], date)
	if c.OutboundBuffered() > 0 {
		// An earlier answer from the pool is still queued in gnet: queue
		// behind it to keep the order. gnet flushes it when the socket
		// takes it.
		_, err = c.Write(out)
		h.putOut(outp, out)
		if err != nil || closeConn {
			return gn.Close
		}
		return h.afterServe(c, pc, n, w)
	}
	k, err := writeNow(c.Fd(), out)
	if err != nil {
		return gn.Close
	}
	if k < len(out) || closeConn {
		// As in httpHandler: the connection leaves the loop with what it
		// owes; a slow request it owes is then done by that goroutine.
		h.off.leaveHTTP(c, &pc.Session, pc, out[k:], buf, n, closeConn)
		return gn.Close
	}
	h.putOut(outp, out)
	return h.afterServe(c, pc, n, w)
}

// afterServe discards the n bytes served and hands w, if any, to the pool.
func (h *poolHandler) afterServe(c gn.Conn, pc *poolConn, n int, w h1.Work) gn.Action {
	if n > 0 { // Discard(0) would drop everything
		_, _ = c.Discard(n)
	}
	if w.Kind == h1.None {
		return gn.None
	}
	pc.busy = true
	h.tasks.Add(1)
	task := func() {
		defer h.tasks.Done()
		h.do(w)
		var dateBuf [32]byte
		outp := outPool.Get().(*[]byte)
		out, closeConn := pc.Finish((*outp)[:0], backends.AppendDate(dateBuf[:0]))
		err := c.AsyncWrite(out, func(c gn.Conn, err error) error {
			// On the loop, once out is written or queued in gnet.
			if err != nil {
				if pc.orphan != nil {
					pc.orphan <- orphanAnswer{append([]byte(nil), out...), closeConn}
				}
				h.putOut(outp, out)
				return nil // the connection is gone from gnet
			}
			h.putOut(outp, out)
			pc.busy, pc.closing = false, closeConn
			return c.Wake(nil) // serve the input that waited, or close
		})
		if err != nil {
			h.putOut(outp, out) // the loop has stopped
		}
	}
	if err := h.pool.Submit(task); err != nil {
		go task() // the pool is full (2^18 workers) or released
	}
	return gn.None
}

// OnClose keeps a connection that gnet closes while a slow request is on
// the pool, which happens when the client shuts its write side after
// pipelining: the contract owes it that answer and the answers to the
// complete requests after it. A goroutine takes a duplicate of the socket
// with the input not yet served, waits for the pool's answer, writes it,
// serves the rest as the off-loop path does and closes.
func (h *poolHandler) OnClose(c gn.Conn, err error) gn.Action {
	pc, _ := c.Context().(*poolConn)
	if pc == nil || !pc.busy || (err != nil && !errors.Is(err, io.EOF)) {
		return gn.None
	}
	in, _ := c.Peek(-1)
	input := append([]byte(nil), in...)
	answer := make(chan orphanAnswer, 1)
	pc.orphan = answer
	h.off.start(c, func(tc *net.TCPConn, done <-chan struct{}) bool {
		var a orphanAnswer
		select {
		case a = <-answer:
		case <-done:
			return false
		}
		// No event loop: the client has ended, so the connection closes
		// once everything it sent is answered.
		return serveHTTPOffLoop(tc, done, nil, &pc.Session, pc, a.out, input, a.closeConn)
	})
	return gn.None
}

// do waits for or computes w on a pool goroutine. A wait ends early when
// the server closes.
func (h *poolHandler) do(w h1.Work) {
	switch w.Kind {
	case h1.Delay:
		if w.D <= 0 {
			return
		}
		t := time.NewTimer(w.D)
		defer t.Stop()
		select {
		case <-t.C:
		case <-h.done:
		}
	case h1.CPU:
		backends.BurnCPU(w.D)
	}
}

// putOut returns a response buffer to outPool.
func (*poolHandler) putOut(outp *[]byte, out []byte) {
	if cap(out) <= maxPooledOut {
		*outp = out[:0]
		outPool.Put(outp)
	}
}

// close ends pending waits, waits for the pool's tasks and releases the
// pool. The event loops have stopped by then.
func (h *poolHandler) close() {
	close(h.done)
	h.tasks.Wait()
	h.pool.Release()
}

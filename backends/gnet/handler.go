package gnet

import (
	"net"
	"sync"

	gn "github.com/panjf2000/gnet/v2"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/backends/h1"
)

// echoHandler returns every byte it reads.
type echoHandler struct {
	gn.BuiltinEventEngine
	off *offLoop
}

// OnTraffic writes the bytes read back. What the socket does not take at
// once moves the connection off the loop (see offLoop).
func (h *echoHandler) OnTraffic(c gn.Conn) gn.Action {
	buf, _ := c.Next(-1)
	if len(buf) == 0 {
		return gn.None
	}
	backends.PayHandicap()
	n, err := writeNow(c.Fd(), buf)
	if err != nil {
		return gn.Close
	}
	if n < len(buf) {
		pending := append([]byte(nil), buf[n:]...)
		el := c.EventLoop()
		h.off.start(c, func(tc *net.TCPConn, done <-chan struct{}) bool { return serveEchoOffLoop(tc, done, el, pending) })
		return gn.Close
	}
	return gn.None
}

// httpHandler serves the HTTP contract. Each connection has an
// *h1.Session in its context; the event loop calls OnTraffic with
// everything buffered so far. Slow requests (/delay, /cpu) are waited for
// and computed right there, on the event loop, which meanwhile serves no
// other connection: the naive use of an event loop.
type httpHandler struct {
	gn.BuiltinEventEngine
	off *offLoop
}

// outPool holds response buffers; one is used per read event and returned.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledOut is the largest response buffer returned to outPool.
const maxPooledOut = 64 << 10

// OnOpen attaches the connection state; a connection enrolled back from
// off the loop comes with its session.
func (*httpHandler) OnOpen(c gn.Conn) ([]byte, gn.Action) {
	if _, ok := c.Context().(*h1.Session); !ok {
		c.SetContext(&h1.Session{})
	}
	return nil, gn.None
}

// OnTraffic answers every complete request buffered on c with one write,
// waiting for or computing a slow request on the loop before answering it.
// Incomplete input stays in gnet's inbound buffer (or, for a body, in the
// session) until more arrives. A connection that must close, or whose
// answers the socket does not take at once, moves off the loop (see
// offLoop) with what it still owes.
func (h *httpHandler) OnTraffic(c gn.Conn) gn.Action {
	s, _ := c.Context().(*h1.Session)
	if s == nil {
		return gn.Close
	}
	buf, err := c.Peek(-1)
	if err != nil || len(buf) == 0 {
		return gn.None
	}
	outp := outPool.Get().(*[]byte)
	n, out, closeConn := s.ServeInline(buf, (*outp)[:0], h1.Work.Inline)
	w, err := writeNow(c.Fd(), out)
	if err != nil {
		return gn.Close
	}
	if w < len(out) || closeConn {
		// The pooled buffer goes with the connection.
		h.off.leaveHTTP(c, s, s, out[w:], buf, n, closeConn)
		return gn.Close
	}
	if n > 0 { // Discard(0) would drop everything
		_, _ = c.Discard(n)
	}
	if cap(out) <= maxPooledOut {
		*outp = out[:0]
		outPool.Put(outp)
	}
	return gn.None
}

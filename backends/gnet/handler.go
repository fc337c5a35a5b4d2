package gnet

import (
	"sync"
	"time"

	gn "github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/asyncbench/asyncbench/backends"
)

// echoHandler returns every byte it reads. gnet closes the connection on
// EOF after trying to send what it still holds.
type echoHandler struct {
	gn.BuiltinEventEngine
}

// OnTraffic writes the bytes read back; gnet queues what the socket does not
// take at once and sends it in order.
func (*echoHandler) OnTraffic(c gn.Conn) gn.Action {
	buf, _ := c.Next(-1)
	if len(buf) > 0 {
		_, _ = c.Write(buf)
	}
	return gn.None
}

// httpHandler serves the HTTP contract. Each connection has a *conn in its
// context; the event loop calls OnTraffic with everything buffered so far.
type httpHandler struct {
	gn.BuiltinEventEngine
}

// conn is the per-connection state kept in the gnet connection context.
type conn struct {
	session
	closing     bool      // a final response is written; close once gnet has sent it
	lingerUntil time.Time // set once the write side is shut; zero before
}

// closeRetry is how often a connection that must close is checked for
// unsent output once gnet holds some of it.
const closeRetry = time.Millisecond

// outPool holds response buffers; one is used per read event and returned.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledOut is the largest response buffer returned to outPool.
const maxPooledOut = 64 << 10

// OnOpen attaches the connection state.
func (*httpHandler) OnOpen(c gn.Conn) ([]byte, gn.Action) {
	c.SetContext(&conn{})
	return nil, gn.None
}

// OnTraffic answers every complete request buffered on c with one write.
// Incomplete input stays in gnet's inbound buffer (or, for a body, in the
// session) until more arrives.
func (*httpHandler) OnTraffic(c gn.Conn) gn.Action {
	st, _ := c.Context().(*conn)
	if st == nil {
		return gn.Close
	}
	if st.closing {
		return finishClose(c, st)
	}
	buf, err := c.Peek(-1)
	if err != nil || len(buf) == 0 {
		return gn.None
	}
	var dateBuf [32]byte
	date := backends.AppendDate(dateBuf[:0])
	outp := outPool.Get().(*[]byte)
	n, out, closeConn := st.serve(buf, (*outp)[:0], date)
	if n > 0 { // Discard(0) would drop everything
		_, _ = c.Discard(n)
	}
	if len(out) > 0 {
		_, _ = c.Write(out)
	}
	if cap(out) <= maxPooledOut {
		*outp = out[:0]
		outPool.Put(outp)
	}
	if closeConn {
		st.closing = true
		return finishClose(c, st)
	}
	return gn.None
}

// finishClose closes c after its last response without losing it. gnet
// drops output it still holds when it closes a connection whose socket is
// full, so until gnet has handed everything to the kernel, c is woken again
// shortly. Then the write side is shut down (the client sees the end of the
// response) and input is read and dropped until the client closes or
// backends.LingerTime passes: closing a socket with unread input would send a reset
// that can destroy the response in flight.
func finishClose(c gn.Conn, st *conn) gn.Action {
	_, _ = c.Discard(-1)
	if c.OutboundBuffered() > 0 {
		time.AfterFunc(closeRetry, func() { _ = c.Wake(nil) })
		return gn.None
	}
	if st.lingerUntil.IsZero() {
		if err := unix.Shutdown(c.Fd(), unix.SHUT_WR); err != nil {
			return gn.Close
		}
		st.lingerUntil = time.Now().Add(backends.LingerTime)
		time.AfterFunc(backends.LingerTime, func() { _ = c.Wake(nil) })
		return gn.None
	}
	if !time.Now().Before(st.lingerUntil) {
		return gn.Close
	}
	return gn.None
}

package gnet

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"

	gn "github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/backends/h1"
)

// A connection is served on its event loop as long as every write is taken
// by the socket at once. gnet v2 cannot stop reading a connection (it reads
// whatever arrives into its inbound buffer) and drops the output it still
// queues when it closes a connection, on the client's EOF included. So the
// handlers write to the socket themselves, and a connection whose output
// the socket does not take at once, or that must close after its last
// response, leaves the event loop: a duplicate of its socket goes to a
// goroutine that writes what is owed with blocking writes, reads only when
// it has written everything (back-pressure, as net/http does) and closes
// only when nothing is owed. gnet then closes its own descriptor, which
// leaves the socket open. Once the goroutine owes nothing and holds no
// unparsed input, it enrolls the socket back into the event loop
// (EventLoop.Enroll), with the HTTP session as the new gnet connection's
// context, so a client that fell behind once is not served off the loop
// for good.

// readSize is the read buffer of a connection served off the loop.
const readSize = 16 << 10

// offLoop tracks the connections served off the event loops so Close can
// reach them and wait for their goroutines.
type offLoop struct {
	mu     sync.Mutex
	conns  map[*net.TCPConn]struct{}
	closed bool
	done   chan struct{} // closed by close; ends a wait for an enrolment
	wg     sync.WaitGroup
}

// leaveHTTP hands an HTTP connection that could not be answered in full
// (or is to be closed) to a goroutine: it owes pending, the unwritten rest
// of its answer, and buf[n:], the input not yet served, is copied out of
// gnet's buffer, which gnet reuses. s serves it; ctx goes back into gnet
// with the connection if the goroutine hands it back. The caller returns
// gn.Close.
func (o *offLoop) leaveHTTP(c gn.Conn, s *h1.Session, ctx any, pending, buf []byte, n int, closeConn bool) {
	var input []byte
	if !closeConn {
		input = append([]byte(nil), buf[n:]...)
	}
	el := c.EventLoop()
	o.start(c, func(tc *net.TCPConn, done <-chan struct{}) bool {
		return serveHTTPOffLoop(tc, done, el, s, ctx, pending, input, closeConn)
	})
}

// start hands c over to a goroutine running serve on a duplicate of its
// socket. The caller then returns gn.Close, so gnet closes its descriptor.
// serve returns true when it handed the socket back to the loop.
func (o *offLoop) start(c gn.Conn, serve func(*net.TCPConn, <-chan struct{}) bool) {
	fd, err := c.Dup()
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "")
	fc, err := net.FileConn(f) // duplicates fd again
	f.Close()
	if err != nil {
		return
	}
	tc := fc.(*net.TCPConn)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		tc.Close()
		return
	}
	if o.conns == nil {
		o.conns = make(map[*net.TCPConn]struct{})
		o.done = make(chan struct{})
	}
	done := o.done
	o.conns[tc] = struct{}{}
	o.wg.Go(func() {
		if !serve(tc, done) {
			tc.Close()
		}
		o.mu.Lock()
		delete(o.conns, tc)
		o.mu.Unlock()
	})
}

// close closes every connection served off the loops and waits for their
// goroutines.
func (o *offLoop) close() {
	o.mu.Lock()
	o.closed = true
	if o.done != nil {
		close(o.done)
	}
	for c := range o.conns {
		c.Close()
	}
	o.mu.Unlock()
	o.wg.Wait()
}

// writeNow writes p to the non-blocking socket fd until it is all written
// or the socket is full, and returns how much was written. It stands in
// for Conn.Write, which makes the same write(2) while nothing is queued
// but queues what the socket does not take in gnet's outbound buffer.
func writeNow(fd int, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := unix.Write(fd, p[n:])
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return n, nil
		case err != nil:
			return n, err
		}
		n += k
	}
	return n, nil
}

// enroll hands tc back to the event loop el, with ctx as the context of
// the new gnet connection. gnet duplicates the socket and closes tc. It
// reports false when the engine refuses or done is closed first (the
// server is closing: a loop that has stopped never finishes an enrolment).
func enroll(el gn.EventLoop, tc *net.TCPConn, ctx any, done <-chan struct{}) bool {
	res, err := el.Enroll(gn.NewContext(context.Background(), ctx), tc)
	if err != nil {
		return false
	}
	select {
	case r := <-res:
		return r.Err == nil
	case <-done:
		return false
	}
}

// serveEchoOffLoop writes pending and hands the connection back to el.
// It reports whether it did; if not, the caller closes c.
func serveEchoOffLoop(c *net.TCPConn, done <-chan struct{}, el gn.EventLoop, pending []byte) bool {
	if _, err := c.Write(pending); err != nil {
		return false
	}
	return enroll(el, c, nil, done)
}

// serveHTTPOffLoop writes pending, answers the slow request s owes, if
// any, and the requests in input and then those it reads, one read at a
// time, until a response closes the connection or the client's EOF. A
// request still incomplete at EOF is owed nothing. Slow requests are done
// on this goroutine. Once everything read is answered and written, it
// hands the connection back to el with ctx as its context (never when el
// is nil). It reports whether it did; if not, the connection is closed.
func serveHTTPOffLoop(c *net.TCPConn, done <-chan struct{}, el gn.EventLoop, s *h1.Session, ctx any, pending, input []byte, closeConn bool) bool {
	if _, err := c.Write(pending); err != nil {
		return false
	}
	var out []byte
	buf := make([]byte, 0, max(readSize, 2*len(input)))
	buf = append(buf, input...)
	for !closeConn {
		if len(buf) > 0 || s.Owed() {
			var n int
			n, out, closeConn = s.ServeInline(buf, out[:0], h1.Work.Inline)
			buf = buf[:copy(buf, buf[n:])]
			if _, err := c.Write(out); err != nil {
				return false
			}
			if closeConn {
				break
			}
		}
		if len(buf) == 0 && !s.Owed() && el != nil && enroll(el, c, ctx, done) {
			return true
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil && n == 0 {
			return false
		}
	}
	backends.LingerClose(c)
	return true
}

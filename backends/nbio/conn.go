package nbio

import (
	"net"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/backends/h1"
)

// readSize is the read buffer of a connection served by a goroutine:
// nbhttp's DefaultBlockingReadBufferSize.
const readSize = 4 << 10

// serveEcho writes pending, then returns every byte it reads until the
// client's EOF. With back set it hands the connection back to a poller
// once pending is written, if back accepts it.
func serveEcho(c *net.TCPConn, pending []byte, back func(*net.TCPConn) bool) {
	if _, err := c.Write(pending); err != nil {
		return
	}
	if back != nil {
		back(c)
		return
	}
	buf := make([]byte, readSize)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			backends.PayHandicap()
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// serveHTTP writes pending, answers the slow request s owes, if any, and
// the requests in input and then those it reads, one read at a time, until
// a response closes the connection or the client's EOF. A request still
// incomplete at EOF is owed nothing. Slow requests are done on this
// goroutine: /delay parks it in time.Sleep, /cpu computes on it. With back
// set, once everything read is answered and written, it offers the
// connection back to a poller, and returns if back accepts it.
func serveHTTP(c *net.TCPConn, s *h1.Session, pending, input []byte, closeConn bool, back func(*net.TCPConn, *h1.Session) bool) {
	if _, err := c.Write(pending); err != nil {
		return
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
				return
			}
			if closeConn {
				break
			}
		}
		if len(buf) == 0 && !s.Owed() && back != nil && back(c, s) {
			return
		}
		if len(buf) == cap(buf) { // a long head: grow up to h1's limit
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil && n == 0 {
			return
		}
	}
	backends.LingerClose(c)
}

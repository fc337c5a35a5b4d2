package stdlib

import (
	"net"

	"github.com/asyncbench/asyncbench/backends"
)

// notImplementedTE is what net/http writes, before any handler runs, for a
// Transfer-Encoding other than chunked. The contract answers that request
// with backends.BadRequestResponse instead.
const notImplementedTE = "HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nUnsupported transfer encoding"

// teListener hands out connections that replace net/http's 501 answer to an
// unknown Transfer-Encoding with the contract's 400.
type teListener struct{ net.Listener }

// Accept returns the next connection, wrapped.
func (l teListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return teConn{c.(*net.TCPConn)}, nil
}

// teConn is a TCP connection whose Write swaps one fixed response. net/http
// writes notImplementedTE in a single Write of exactly those bytes. No other
// Write can equal them: net/http's other fixed answers differ, a flush of a
// handler response starts with its 200, 404 or 413 status line, and a body
// written past the buffer is at least 4 KiB long.
type teConn struct{ *net.TCPConn }

// Write writes p, or backends.BadRequestResponse when p is notImplementedTE.
func (c teConn) Write(p []byte) (int, error) {
	if len(p) == len(notImplementedTE) && string(p) == notImplementedTE {
		if _, err := c.TCPConn.Write([]byte(backends.BadRequestResponse)); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.TCPConn.Write(p)
}

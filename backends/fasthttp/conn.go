package fasthttp

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncbench/asyncbench/backends"
)

// listener tracks accepted connections so Close can reach them all.
type listener struct {
	net.Listener
	mu      sync.Mutex
	conns   map[*conn]struct{}
	closing bool
}

// Accept returns the next connection, tracked.
func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &conn{TCPConn: c.(*net.TCPConn), ln: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		c.Close()
		return nil, net.ErrClosed
	}
	l.conns[tc] = struct{}{}
	return tc, nil
}

// closeAll closes the listener and every open connection at once.
func (l *listener) closeAll() error {
	err := l.Listener.Close()
	l.mu.Lock()
	l.closing = true
	conns := make([]*conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (l *listener) stopping() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closing
}

func (l *listener) forget(c *conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// rawResponse is one of the fixed close-delimited responses of package
// backends, with the head fasthttp writes in its place.
type rawResponse struct {
	code        int
	reason      []byte
	contentType []byte
	full        []byte // the contract's bytes
	status      []byte // status line with CRLF, as fasthttp writes it
	rest        []byte // the head after fasthttp's Date line
}

// fasthttpDateLine is the length of "Date: <IMF-fixdate>\r\n".
const fasthttpDateLine = len("Date: " + http.TimeFormat + "\r\n")

// newRawResponse splits full ("HTTP/1.1 code reason", Content-Type,
// Connection: close, body) into what fasthttp can be told to write.
func newRawResponse(code int, full string) *rawResponse {
	status, after, _ := strings.Cut(full, "\r\n")
	head, _, _ := strings.Cut(after, "\r\n\r\n")
	_, reason, _ := strings.Cut(strings.TrimPrefix(status, "HTTP/1.1 "), " ")
	ct, _, _ := strings.Cut(strings.TrimPrefix(head, "Content-Type: "), "\r\n")
	return &rawResponse{
		code:        code,
		reason:      []byte(reason),
		contentType: []byte(ct),
		full:        []byte(full),
		status:      []byte(status + "\r\n"),
		rest:        []byte(head + "\r\n\r\n"),
	}
}

// swap replaces the head fasthttp wrote for r at the end of p with r's
// bytes. p is returned unchanged if it does not end with that head.
func (r *rawResponse) swap(p []byte) []byte {
	n := len(r.status) + fasthttpDateLine + len(r.rest)
	if len(p) < n {
		return p
	}
	head := p[len(p)-n:]
	if !bytes.HasPrefix(head, r.status) || !bytes.HasPrefix(head[len(r.status):], []byte("Date: ")) || !bytes.HasSuffix(head, r.rest) {
		return p
	}
	return append(p[:len(p)-n], r.full...)
}

// conn is a served connection. Once armed with a fixed response it holds
// back every write, and on Close swaps fasthttp's head for that response
// and sends the lot; armed, the connection is about to close anyway.
// Closing is graceful: the write side shuts first and what the client
// still sends is drained for up to backends.LingerTime.
type conn struct {
	*net.TCPConn
	ln     *listener
	raw    atomic.Pointer[rawResponse] // set once armed
	mu     sync.Mutex                  // guards held
	held   []byte
	closed atomic.Bool
}

func (c *conn) arm(r *rawResponse) { c.raw.Store(r) }

// Write writes p, or holds it back once the connection is armed.
func (c *conn) Write(p []byte) (int, error) {
	if c.raw.Load() == nil {
		return c.TCPConn.Write(p)
	}
	c.mu.Lock()
	c.held = append(c.held, p...)
	c.mu.Unlock()
	return len(p), nil
}

// Close sends what an armed connection held back, then closes.
func (c *conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	defer c.ln.forget(c)
	if r := c.raw.Load(); r != nil {
		c.mu.Lock()
		c.TCPConn.Write(r.swap(c.held))
		c.held = nil
		c.mu.Unlock()
	}
	if !c.ln.stopping() && c.TCPConn.CloseWrite() == nil {
		c.TCPConn.SetReadDeadline(time.Now().Add(backends.LingerTime))
		var buf [512]byte
		for {
			if _, err := c.TCPConn.Read(buf[:]); err != nil {
				break
			}
		}
	}
	return c.TCPConn.Close()
}

package fasthttp

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"github.com/asyncbench/asyncbench/backends"
)

// listener tracks accepted connections so Close can reach them all, and
// the goroutines that linger on closed ones so Close can wait for them.
type listener struct {
	net.Listener
	mu      sync.Mutex
	conns   map[*conn]struct{}
	closing bool
	linger  sync.WaitGroup
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

// closeAll closes the listener and every open or lingering connection at
// once, and waits for the lingering goroutines to finish.
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
		c.TCPConn.Close()
	}
	l.linger.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// conn is a served connection whose Close is graceful: fasthttp's worker
// returns at once, and a goroutine shuts the write side, drops what the
// client still sends for up to backends.LingerTime and closes (see
// backends.LingerClose), so the client reads the last response rather
// than a reset.
type conn struct {
	*net.TCPConn
	ln     *listener
	closed atomic.Bool
}

// Close closes c gracefully in the background.
func (c *conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	l := c.ln
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return c.TCPConn.Close()
	}
	// c stays tracked while it lingers, so closeAll cuts the wait short.
	l.linger.Go(func() {
		backends.LingerClose(c.TCPConn)
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
	})
	return nil
}

package netpoll

import (
	"context"
	"errors"
	"sync"

	np "github.com/cloudwego/netpoll"
	"golang.org/x/sys/unix"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/backends/h1"
)

// state is where a connection is served.
type state uint8

const (
	onNetpoll state = iota // OnRequest serves it
	off                    // a goroutine owns its output; netpoll still reads it
	handing                // the runner is taking it off netpoll (runTask)
	handed                 // off netpoll for good: the goroutine reads the socket
)

// connKey is the context key of a connection's *conn.
type connKey struct{}

// conn is the state of one connection, kept in its netpoll context.
type conn struct {
	nc np.Connection
	fd int // netpoll's descriptor, open until netpoll closes the connection

	sess    h1.Session // HTTP only; owned by OnRequest, then by the goroutine
	pending []byte     // input consumed from netpoll, not yet a whole request

	mu       sync.Mutex
	cond     sync.Cond
	state    state
	stash    []np.Reader   // input taken from netpoll while off, for the goroutine
	rest     []byte        // input read by handOff, after the stash
	eof      bool          // netpoll closed the connection while off
	stopping bool          // the server is closing
	detached chan struct{} // closed when netpoll has let go of the socket (handing)
}

// serveFunc answers the complete requests at the start of in, appending the
// answers to out; it returns the bytes consumed and whether the connection
// closes once out is written.
type serveFunc func(c *conn, in, out []byte) (n int, _ []byte, closeConn bool)

// serveEcho returns every byte.
func serveEcho(_ *conn, in, out []byte) (int, []byte, bool) {
	backends.PayHandicap()
	return len(in), append(out, in...), false
}

// serveHTTP answers with the h1 engine; a slow request is waited for or
// computed on the calling goroutine (h1.Work.Inline: time.Sleep parks the
// goroutine, BurnCPU computes on its thread).
func serveHTTP(c *conn, in, out []byte) (int, []byte, bool) {
	return c.sess.ServeInline(in, out, h1.Work.Inline)
}

// outPool holds answer buffers; one is used per OnRequest call.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledOut is the largest answer buffer returned to outPool.
const maxPooledOut = 64 << 10

// onPrepare attaches a conn to a new connection, before netpoll reads it.
func (s *Server) onPrepare(nc np.Connection) context.Context {
	fc, ok := nc.(interface{ Fd() int })
	if !ok {
		nc.Close()
		return context.Background()
	}
	c := &conn{nc: nc, fd: fc.Fd()}
	c.cond.L = &c.mu
	if !s.track(c) {
		nc.Close()
		return context.Background()
	}
	nc.AddCloseCallback(func(np.Connection) error {
		s.onClosed(c)
		return nil
	})
	return context.WithValue(context.Background(), connKey{}, c)
}

// onClosed runs once netpoll has closed a connection (and let go of it).
func (s *Server) onClosed(c *conn) {
	s.untrack(c)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case handing:
		close(c.detached)
	case off:
		c.eof = true
		c.cond.Broadcast()
	}
}

// Input limits of a connection served on netpoll.
const (
	// serveChunk is the most input one OnRequest call answers; the rest
	// stays in netpoll's buffer and netpoll calls again at once.
	serveChunk = 64 << 10
	// maxBacklog is the most input netpoll may hold for a connection
	// served on it: more means the client sends faster than it is
	// answered, and the connection goes off netpoll.
	maxBacklog = 1 << 20
)

// onRequest is netpoll's OnRequest: it runs on a pool goroutine while
// netpoll holds input for the connection, and netpoll calls it again at
// once while unread input remains. It answers at most serveChunk of it;
// an incomplete request at the end of what netpoll holds is moved to
// c.pending, so no input is left for netpoll to call it again for. The
// answers are written straight to the socket; a connection whose answers
// the socket does not take at once, that must close, or whose client
// sends faster than it is answered goes off netpoll (goOff). Once off,
// its input is only passed on to its goroutine.
func (s *Server) onRequest(ctx context.Context, nc np.Connection) error {
	c, _ := ctx.Value(connKey{}).(*conn)
	r := nc.Reader()
	n := r.Len()
	if c == nil || s.closing.Load() {
		r.Skip(n)
		r.Release()
		return nc.Close()
	}
	if n == 0 {
		return nil
	}
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	c.mu.Lock()
	st := c.state
	c.mu.Unlock()
	switch {
	case st != onNetpoll:
		return c.stashInput(r, n)
	case n > maxBacklog:
		b, _ := r.Next(n)
		c.pending = append(c.pending, b...)
		r.Release()
		s.goOff(c, nil, false)
		return nil
	}

	k := min(n, serveChunk)
	var in []byte
	fromPending := len(c.pending) > 0
	if fromPending {
		b, _ := r.Next(k)
		c.pending = append(c.pending, b...)
		in = c.pending
	} else {
		in, _ = r.Peek(k) // netpoll's buffer, no copy when it is one node
	}
	outp := outPool.Get().(*[]byte)
	used, out, closeConn := s.serve(c, in, (*outp)[:0])
	switch {
	case fromPending:
		c.pending = c.pending[:copy(c.pending, c.pending[used:])]
	case used < k && (k == n || used == 0):
		c.pending = append(c.pending[:0], in[used:]...)
		r.Skip(k)
	default:
		r.Skip(used)
	}
	r.Release()

	w, err := writeNow(c.fd, out)
	var owed []byte
	if w < len(out) {
		owed = append([]byte(nil), out[w:]...)
	}
	if cap(out) <= maxPooledOut {
		*outp = out[:0]
		outPool.Put(outp)
	}
	switch {
	case err != nil:
		return nc.Close()
	case owed != nil || closeConn:
		s.goOff(c, owed, closeConn)
	}
	return nil
}

// stashInput passes what netpoll buffered for an off connection on to its
// goroutine; while handing, it then closes the netpoll connection, which
// leaves the socket open (the goroutine holds a duplicate).
func (c *conn) stashInput(r np.Reader, n int) error {
	rd, err := r.Slice(n) // no copy: the chunk keeps netpoll's buffers
	if err != nil {
		return c.nc.Close()
	}
	c.mu.Lock()
	c.stash = append(c.stash, rd)
	handingOff := c.state == handing
	c.cond.Broadcast()
	c.mu.Unlock()
	r.Release()
	if handingOff {
		return c.nc.Close()
	}
	return nil
}

// stop wakes the connection's goroutine, if any, for Close.
func (c *conn) stop() {
	c.mu.Lock()
	c.stopping = true
	c.cond.Broadcast()
	c.mu.Unlock()
}

// writeNow writes p to the non-blocking socket fd until it is all written
// or the socket is full, and returns how much was written.
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

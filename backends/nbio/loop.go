package nbio

import (
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"sync"
	"sync/atomic"

	nb "github.com/lesismal/nbio"
	"golang.org/x/sys/unix"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/backends/h1"
)

// A connection on a poller is served there as long as every write is taken
// by the socket at once and it asks for no slow work. nbio reads every
// readable connection (it has no way to pause one), queues without bound
// what Conn.Write cannot write at once, and closes a connection at the
// client's FIN, dropping what it still queues. So the handlers write to
// the socket themselves, and a connection that would have to wait (its
// answers do not fit the socket, a /delay or /cpu request, a closing
// answer) leaves the poller: its descriptor is removed from the poller's
// epoll set, a duplicate goes to a goroutine that serves it with blocking
// reads and writes (reading only once everything owed is written), and
// nbio closes its own descriptor. The goroutine hands the connection back
// to a poller (Engine.AddConn) once it owes nothing and holds no input.

// state is what a poller keeps for one connection between read events.
type state struct {
	fd   int        // nbio's descriptor of the connection
	http h1.Session // the HTTP session (http only)
	in   []byte     // input not yet consumed: an incomplete request head
	// ready is set once the fields above are, before the connection goes
	// to a poller; the poller loads it first. nbio hands a connection to
	// its poller through the kernel and unsynchronised memory, which the
	// race detector cannot see, so this is the edge it sees.
	ready atomic.Bool
}

// session returns c's state, or nil if it has none yet.
func session(c *nb.Conn) *state {
	st, _ := c.Session().(*state)
	if st == nil || !st.ready.Load() {
		return nil
	}
	return st
}

// maxKeptIn is the largest input buffer a connection keeps while idle.
const maxKeptIn = 16 << 10

// outPool holds response buffers; one is used per read event and returned.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledOut is the largest response buffer returned to outPool.
const maxPooledOut = 64 << 10

// onEcho writes the bytes read back, on the poller. What the socket does
// not take at once moves the connection off the poller.
func (s *Server) onEcho(c *nb.Conn, data []byte) {
	st := session(c)
	if st == nil {
		signalProbe(c)
		c.Close()
		return
	}
	backends.PayHandicap()
	n, err := writeNow(st.fd, data)
	if err != nil {
		c.Close()
		return
	}
	if n < len(data) {
		pending := append([]byte(nil), data[n:]...)
		s.leave(c, st.fd, func(tc *net.TCPConn) { serveEcho(tc, pending, s.backEcho) })
	}
}

// onHTTP answers, on the poller, every complete request read so far with
// one write. A slow request (/delay, /cpu), answers the socket does not
// take at once or a closing answer move the connection off the poller
// with what it owes and the input not yet served.
func (s *Server) onHTTP(c *nb.Conn, data []byte) {
	st := session(c)
	if st == nil {
		signalProbe(c)
		c.Close()
		return
	}
	buf := data // nbio's read buffer, reused after this call
	if len(st.in) > 0 {
		st.in = append(st.in, data...)
		buf = st.in
	}
	outp := outPool.Get().(*[]byte)
	var dateBuf [32]byte
	n, out, closeConn, w := st.http.Serve(buf, (*outp)[:0], backends.AppendDate(dateBuf[:0]))
	wr, err := writeNow(st.fd, out)
	if err != nil {
		c.Close()
		return
	}
	if w.Kind != h1.None || wr < len(out) || closeConn {
		pending := append([]byte(nil), out[wr:]...)
		var input []byte
		if !closeConn {
			input = append([]byte(nil), buf[n:]...)
		}
		putOut(outp, out)
		sess := st.http
		s.leave(c, st.fd, func(tc *net.TCPConn) { serveHTTP(tc, &sess, pending, input, closeConn, s.backHTTP) })
		return
	}
	putOut(outp, out)
	switch rest := buf[n:]; {
	case len(rest) == 0 && cap(st.in) > maxKeptIn:
		st.in = nil
	case len(rest) == 0:
		st.in = st.in[:0]
	case len(st.in) > 0: // buf is st.in
		st.in = st.in[:copy(st.in, rest)]
	default:
		st.in = append(st.in[:0], rest...)
	}
}

func putOut(outp *[]byte, out []byte) {
	if cap(out) <= maxPooledOut {
		*outp = out[:0]
		outPool.Put(outp)
	}
}

// backEcho hands an echo connection back to a poller.
func (s *Server) backEcho(tc *net.TCPConn) bool { return s.enroll(tc, &state{}) }

// backHTTP hands an HTTP connection back to a poller with its session.
func (s *Server) backHTTP(tc *net.TCPConn, sess *h1.Session) bool {
	return s.enroll(tc, &state{http: *sess})
}

// leave moves c off its poller, on the poller's goroutine: the descriptor
// leaves the poller's epoll set, a duplicate becomes a *net.TCPConn served
// by serve on a goroutine, and nbio closes its own descriptor, which
// leaves the socket open. Without the removal the epoll set would keep
// reporting the socket (epoll watches the open file, which the duplicate
// keeps alive) under a descriptor number nbio may give to a new
// connection.
func (s *Server) leave(c *nb.Conn, fd int, serve func(*net.TCPConn)) {
	defer c.Close()
	epfd, err := pollerFD(c)
	if err != nil {
		return
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return
	}
	tc, err := dupConn(fd)
	if err != nil {
		return
	}
	s.left.Add(1)
	s.goServe(tc, serve, false)
}

// dupConn returns a *net.TCPConn on a duplicate of fd.
func dupConn(fd int) (*net.TCPConn, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dup: %w", err)
	}
	f := os.NewFile(uintptr(nfd), "")
	fc, err := net.FileConn(f) // duplicates nfd again
	f.Close()
	if err != nil {
		return nil, err
	}
	tc, ok := fc.(*net.TCPConn)
	if !ok {
		fc.Close()
		return nil, fmt.Errorf("not a TCP connection: %T", fc)
	}
	return tc, nil
}

// connFD returns nbio's descriptor of c.
func connFD(c *nb.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	fd := -1
	if err := rc.Control(func(v uintptr) { fd = int(v) }); err != nil {
		return 0, err
	}
	return fd, nil
}

// pollerFD returns the epoll descriptor of the poller serving c. nbio v1.6
// exports neither the poller nor a way to remove a descriptor from it, so
// the unexported fields Conn.p and poller.epfd are read with reflect; an
// nbio that renames them makes this fail (checked by TestPollerFD).
func pollerFD(c *nb.Conn) (int, error) {
	p := reflect.ValueOf(c).Elem().FieldByName("p")
	if !p.IsValid() || p.Kind() != reflect.Pointer || p.IsNil() {
		return 0, errors.New("nbio: Conn has no poller field p")
	}
	fd := p.Elem().FieldByName("epfd")
	if !fd.IsValid() || fd.Kind() != reflect.Int {
		return 0, errors.New("nbio: poller has no int field epfd")
	}
	return int(fd.Int()), nil
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

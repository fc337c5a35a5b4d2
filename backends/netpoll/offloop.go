package netpoll

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/bytedance/gopkg/util/gopool"
	np "github.com/cloudwego/netpoll"
	"golang.org/x/sys/unix"

	"github.com/asyncbench/asyncbench/backends"
)

// netpoll reads every connection whatever its handler does (it has no way
// to pause reading) and, at the client's EOF, refuses writes through its
// own buffers. So answers are written to the socket directly, and a
// connection whose answers the socket does not take at once, or that must
// close after its last answer, goes off netpoll in two steps:
//
//  1. off: a goroutine takes a duplicate of the socket and writes what is
//     owed with blocking writes. netpoll still reads the connection;
//     OnRequest passes that input to the goroutine (stashInput).
//  2. handed: the next time netpoll starts a task for the connection, the
//     runner (runTask) runs on the poller goroutine that just read it, so
//     nothing else reads the socket; it blocks that goroutine until the
//     task has stashed netpoll's input and closed the netpoll connection,
//     which removes the socket from the poller. From then on the goroutine
//     reads the socket itself, and only once it has written everything
//     (back-pressure), until the client's EOF.
//
// A connection that must close goes off the same way; its goroutine writes
// the last answer, closes the netpoll connection and lingers
// (backends.LingerClose). A connection once off stays off until it closes.

// offLowat is the receive low-water mark of a connection that is off but
// not yet handed.
const offLowat = 1 << 20

// readSize is the read buffer of a connection served off netpoll.
const readSize = 16 << 10

// goOff starts serving c off netpoll, owing owed; closeAfter closes the
// connection once owed is written.
func (s *Server) goOff(c *conn, owed []byte, closeAfter bool) {
	tc, err := dupConn(c.fd)
	if err != nil {
		c.nc.Close()
		return
	}
	s.mu.Lock()
	if s.shut {
		s.mu.Unlock()
		tc.Close()
		c.nc.Close()
		return
	}
	s.offs[c] = tc
	s.offWG.Add(1)
	s.mu.Unlock()
	c.mu.Lock()
	c.state = off
	c.mu.Unlock()
	go s.serveOff(c, tc, owed, closeAfter)
}

// serveOff serves c on tc: write everything owed, then take more input
// (netpoll's, passed on, or once handed the socket's), answer it, repeat.
// At the client's EOF every complete request has been answered.
func (s *Server) serveOff(c *conn, tc *net.TCPConn, owed []byte, closeAfter bool) {
	defer s.offWG.Done()
	defer func() {
		s.mu.Lock()
		delete(s.offs, c)
		s.mu.Unlock()
		c.nc.Close()
		tc.Close()
	}()
	// The mark is set through tc: netpoll closes c.fd once the connection
	// is handed, and the number may then name another socket.
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	lowat := func(n int) {
		raw.Control(func(fd uintptr) { setLowat(int(fd), n) })
	}
	in := c.pending
	c.pending = nil
	if len(in) > 0 {
		var used int
		used, owed, closeAfter = s.serve(c, in, owed)
		in = in[:copy(in, in[used:])]
	}
	var buf []byte
	for {
		if len(owed) > 0 {
			// netpoll's task loop calls OnRequest again while input keeps
			// coming, and only a task started afresh completes the
			// hand-off. While a write waits for the client, a receive
			// low-water mark makes epoll report the socket readable only
			// once offLowat bytes are queued (or at the client's FIN), so
			// netpoll's reads become rare and its task ends; it is lowered
			// again once the goroutine waits for input, so that a request
			// smaller than the mark is read.
			lowat(offLowat)
			_, err := tc.Write(owed)
			lowat(1)
			if err != nil {
				return
			}
		}
		if closeAfter {
			c.nc.Close()
			backends.LingerClose(tc)
			return
		}
		more, rest, fromSocket, end := c.take()
		switch {
		case len(more) > 0 || len(rest) > 0:
			for _, rd := range more {
				b, _ := rd.Next(rd.Len())
				in = append(in, b...)
				rd.Release()
			}
			in = append(in, rest...)
		case fromSocket:
			if buf == nil {
				buf = make([]byte, readSize)
			}
			n, err := tc.Read(buf)
			if n == 0 || err != nil {
				return // EOF or gone; every complete request was answered
			}
			in = append(in, buf[:n]...)
		case end:
			return
		}
		var used int
		used, owed, closeAfter = s.serve(c, in, owed[:0])
		in = in[:copy(in, in[used:])]
	}
}

// take waits for input for c's goroutine: bytes stashed from netpoll, or
// word that the socket is its own to read (fromSocket), or the end (the
// netpoll connection closed while off, or the server is closing).
func (c *conn) take() (more []np.Reader, rest []byte, fromSocket, end bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.stash) == 0 && len(c.rest) == 0 && c.state != handed && !c.eof && !c.stopping {
		c.cond.Wait()
	}
	if len(c.stash) > 0 || len(c.rest) > 0 {
		more, rest, c.stash, c.rest = c.stash, c.rest, nil, nil
		return more, rest, false, false
	}
	return nil, nil, c.state == handed && !c.stopping, true
}

// setLowat sets the receive low-water mark of socket fd.
func setLowat(fd, n int) {
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVLOWAT, n)
}

// runTask is netpoll's task runner: tasks go to netpoll's default pool
// (gopool), except the first one netpoll starts for a connection that is
// off, which completes its hand-off (handOff).
func runTask(ctx context.Context, task func()) {
	if c, ok := ctx.Value(connKey{}).(*conn); ok && c.beginHandOff() {
		c.handOff(task)
		return
	}
	gopool.CtxGo(ctx, task)
}

// beginHandOff reports whether c is off and, if so, marks it handing.
func (c *conn) beginHandOff() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != off || c.eof || c.stopping {
		return false
	}
	c.state, c.detached = handing, make(chan struct{})
	return true
}

// handOff takes c off netpoll. netpoll starts a connection's task only
// from the poller goroutine that just read it (or when the connection is
// new), so the caller is that goroutine, and no read of the socket can
// happen until it returns. The task stashes netpoll's input and closes the
// connection, which removes the socket from the poller (onClosed then
// closes c.detached). The event being handled may carry the client's FIN,
// after which netpoll would read the rest of the socket once this returns:
// so the rest is read first.
func (c *conn) handOff(task func()) {
	go task()
	<-c.detached
	var rest []byte
	if peerClosed(c.fd) {
		var buf [readSize]byte
		for {
			n, err := unix.Read(c.fd, buf[:])
			if n <= 0 || (err != nil && !errors.Is(err, unix.EINTR)) {
				break
			}
			rest = append(rest, buf[:n]...)
		}
	}
	c.mu.Lock()
	c.rest = append(c.rest, rest...)
	c.state = handed
	c.cond.Broadcast()
	c.mu.Unlock()
}

// peerClosed reports whether the client's FIN has arrived on socket fd.
func peerClosed(fd int) bool {
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return true // read what there is; a read error ends it
	}
	switch info.State {
	case tcpTimeWait, tcpClose, tcpCloseWait, tcpLastAck, tcpClosing:
		return true
	}
	return false
}

// TCP states after the peer's FIN (include/net/tcp_states.h).
const (
	tcpTimeWait  = 6
	tcpClose     = 7
	tcpCloseWait = 8
	tcpLastAck   = 9
	tcpClosing   = 11
)

// dupConn returns a *net.TCPConn on a duplicate of socket fd, served by
// Go's own poller.
func dupConn(fd int) (*net.TCPConn, error) {
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dup: %w", err)
	}
	f := os.NewFile(uintptr(d), "netpoll-conn")
	defer f.Close()
	nc, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		nc.Close()
		return nil, fmt.Errorf("not a TCP socket: %T", nc)
	}
	return tc, nil
}

// Package threads is the classic design the async argument is against: one
// OS thread per connection doing blocking system calls. The listening socket
// and every accepted socket are blocking file descriptors that Go's
// netpoller never sees; each connection is served by a goroutine locked to
// its own OS thread (runtime.LockOSThread) that blocks in read(2) and
// write(2), so the process holds one thread per open connection. HTTP goes
// through the shared engine in package h1; a /delay request blocks the
// thread in nanosleep(2) and a /cpu request computes on it.
//
// The Go runtime stops at 10,000 threads by default; New raises the limit
// to MaxThreads. The kernel's own limits apply as well
// (/proc/sys/kernel/threads-max, pid_max, ulimit -u).
package threads

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/asyncbench/asyncbench/backends"
)

// MaxThreads is the runtime thread limit the backend sets: room for 20,000
// connections and the runtime's own threads.
const MaxThreads = 25000

// Server serves one protocol with a thread per connection.
type Server struct {
	serve func(c *conn) // serves one connection until it ends; runs on a locked thread

	mu     sync.Mutex
	lfd    int
	conns  map[int]*conn // open connections by descriptor
	closed bool
	// stopping is set by Close: a thread waiting in nanosleep(2) stops
	// waiting when a signal interrupts it.
	stopping atomic.Bool
	wg       sync.WaitGroup // accept loop and connection threads
}

var _ backends.Server = (*Server)(nil)

// New returns a server for proto.
func New(proto backends.Proto) (backends.Server, error) {
	s := &Server{lfd: -1, conns: map[int]*conn{}}
	switch proto {
	case backends.ProtoEcho:
		s.serve = func(c *conn) { serveEcho(c.fd) }
	case backends.ProtoHTTP:
		s.serve = s.serveHTTP
	default:
		return nil, fmt.Errorf("threads: %s: %w", proto, backends.ErrUnsupported)
	}
	if debug.SetMaxThreads(MaxThreads) > MaxThreads {
		debug.SetMaxThreads(MaxThreads * 2)
	}
	return s, nil
}

// Listen binds a blocking TCP socket to addr and starts the accept thread.
func (s *Server) Listen(addr string) (net.Addr, error) {
	ap, err := resolve(addr)
	if err != nil {
		return nil, err
	}
	lfd, err := listen(ap)
	if err != nil {
		return nil, fmt.Errorf("threads: listen %s: %w", addr, err)
	}
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		unix.Close(lfd)
		return nil, fmt.Errorf("threads: getsockname: %w", err)
	}
	s.mu.Lock()
	s.lfd = lfd
	s.mu.Unlock()
	s.wg.Add(1)
	go s.acceptLoop(lfd)
	return tcpAddr(sa), nil
}

// resolve parses HOST:PORT; HOST must be an IP address or localhost.
func resolve(addr string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("threads: address %q: %w", addr, err)
	}
	switch host {
	case "", "localhost":
		host = "127.0.0.1"
	}
	ap, err := netip.ParseAddrPort(net.JoinHostPort(host, port))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("threads: address %q: want IP:PORT: %w", addr, err)
	}
	return ap, nil
}

// listen opens a blocking listening socket with the settings every backend
// uses (SO_REUSEADDR; TCP_NODELAY on accepted sockets).
func listen(ap netip.AddrPort) (int, error) {
	family := unix.AF_INET
	var sa unix.Sockaddr = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}
	if ap.Addr().Is6() && !ap.Addr().Is4In6() {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.Listen(fd, 4096); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func tcpAddr(sa unix.Sockaddr) *net.TCPAddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return &net.TCPAddr{}
}

// acceptLoop accepts on its own locked thread until the listener is shut
// down, starting one locked thread per connection.
func (s *Server) acceptLoop(lfd int) {
	defer s.wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for {
		fd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
		if err != nil {
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ECONNABORTED) {
				continue
			}
			if errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) {
				// Out of descriptors: refuse this one by waiting for a close.
				unix.Nanosleep(&unix.Timespec{Nsec: 10e6}, nil)
				continue
			}
			return // shut down by Close, or the socket is gone
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		c := &conn{fd: fd}
		if !s.track(c) {
			unix.Close(fd)
			return
		}
		go s.connThread(c)
	}
}

// track records an open connection; it reports false once Close has begun.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c.fd] = c
	s.wg.Add(1)
	return true
}

// connThread serves one connection on a goroutine locked to its own OS
// thread. The goroutine exits locked, so the runtime ends the thread with
// the connection instead of keeping it for reuse.
func (s *Server) connThread(c *conn) {
	runtime.LockOSThread()
	defer s.wg.Done()
	c.tid.Store(int32(unix.Gettid()))
	s.serve(c)
	s.mu.Lock()
	delete(s.conns, c.fd)
	s.mu.Unlock()
	unix.Close(c.fd)
}

// Close stops accepting, shuts every open connection down (which wakes its
// thread from a blocking read or write), interrupts the threads waiting in
// nanosleep(2) for a /delay and waits for the threads to end. A /cpu
// computation in progress runs to its end.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.stopping.Store(true)
	lfd := s.lfd
	for fd := range s.conns {
		_ = unix.Shutdown(fd, unix.SHUT_RDWR)
	}
	s.mu.Unlock()
	if lfd >= 0 {
		// shutdown(2) wakes a thread blocked in accept(2) on Linux.
		_ = unix.Shutdown(lfd, unix.SHUT_RDWR)
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	// A signal makes nanosleep(2) return EINTR, and a thread that sees
	// stopping then stops waiting. It is sent again until every thread has
	// ended, for a thread that had not yet entered nanosleep. SIGURG is the
	// signal the Go runtime preempts with; it ignores a stray one.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for waiting := true; waiting; {
		s.interrupt()
		select {
		case <-done:
			waiting = false
		case <-tick.C:
		}
	}
	if lfd >= 0 {
		return unix.Close(lfd)
	}
	return nil
}

// interrupt sends SIGURG to every connection thread in a /delay.
func (s *Server) interrupt() {
	s.mu.Lock()
	defer s.mu.Unlock()
	pid := unix.Getpid()
	for _, c := range s.conns {
		if c.sleeping.Load() {
			_ = unix.Tgkill(pid, int(c.tid.Load()), unix.SIGURG)
		}
	}
}

// conn is one open connection and its thread.
type conn struct {
	fd       int
	tid      atomic.Int32 // the serving thread's id, once it runs
	sleeping atomic.Bool  // the thread is in, or about to enter, nanosleep(2)
}

// writeAll writes b to the blocking descriptor fd, looping over short
// writes.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		b = b[n:]
	}
	return nil
}

// read is read(2) retried on EINTR.
func read(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Read(fd, b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return n, err
	}
}

// serveEcho returns every byte read, in order, until EOF or an error. The
// blocking write is the back-pressure: while the client does not read, the
// thread does not read either.
func serveEcho(fd int) {
	buf := make([]byte, 32<<10)
	for {
		n, err := read(fd, buf)
		if n <= 0 || err != nil {
			return
		}
		backends.PayHandicap()
		if writeAll(fd, buf[:n]) != nil {
			return
		}
	}
}

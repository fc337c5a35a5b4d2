// Package nbio serves the echo and HTTP protocols on the poller goroutines
// of lesismal/nbio's engine (nbio.Engine), in one of nbio's three I/O
// modes: non-blocking (every connection on a poller), blocking (one
// goroutine per connection) or mixed (goroutines up to a number of
// connections, pollers beyond). HTTP goes through the project's h1 engine;
// see backends/README.md ("nbio") for why not nbhttp's parser.
package nbio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	nb "github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
	"golang.org/x/sys/unix"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/backends/h1"
)

// Mode is nbio's I/O mode: where a connection is read and served.
type Mode string

// The I/O modes, named after nbhttp's IOModNonBlocking, IOModBlocking and
// IOModMixed.
const (
	// NonBlocking serves every connection on nbio's pollers.
	NonBlocking Mode = "nonblocking"
	// Blocking serves every connection on a goroutine of its own that
	// blocks in reads and writes (package net).
	Blocking Mode = "blocking"
	// Mixed serves the first MaxBlockingOnline connections open at once
	// like Blocking and the others like NonBlocking.
	Mixed Mode = "mixed"
)

// DefaultMode is the mode New uses, nbhttp's default.
const DefaultMode = NonBlocking

// DefaultMaxBlockingOnline is how many connections Mixed serves on
// goroutines at once: nbhttp's DefaultMaxBlockingOnline.
const DefaultMaxBlockingOnline = 10_000

// ParseMode returns the Mode named s, or an error listing the valid ones.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case NonBlocking, Blocking, Mixed:
		return m, nil
	}
	return "", fmt.Errorf("unknown nbio mode %q (valid: nonblocking, blocking, mixed)", s)
}

// Config selects the I/O mode. Its zero value is DefaultMode.
type Config struct {
	Mode Mode
	// MaxBlockingOnline applies to Mixed; 0 means DefaultMaxBlockingOnline.
	MaxBlockingOnline int
}

// New returns a server for proto in DefaultMode; it serves echo and http.
func New(proto backends.Proto) (backends.Server, error) {
	return NewConfig(proto, Config{})
}

// NewConfig returns a server for proto in the mode cfg selects.
func NewConfig(proto backends.Proto, cfg Config) (*Server, error) {
	if cfg.Mode == "" {
		cfg.Mode = DefaultMode
	}
	if _, err := ParseMode(string(cfg.Mode)); err != nil {
		return nil, fmt.Errorf("nbio: %w", err)
	}
	if cfg.MaxBlockingOnline <= 0 {
		cfg.MaxBlockingOnline = DefaultMaxBlockingOnline
	}
	switch proto {
	case backends.ProtoEcho, backends.ProtoHTTP:
	default:
		return nil, fmt.Errorf("nbio: %s: %w", proto, backends.ErrUnsupported)
	}
	return &Server{proto: proto, cfg: cfg}, nil
}

// Server is one nbio engine and its listener serving one protocol.
type Server struct {
	proto backends.Proto
	cfg   Config

	ln  net.Listener
	eng *nb.Engine // nil in Blocking mode

	blockingOnline atomic.Int64 // Mixed: connections on goroutines of their own
	enrolled       atomic.Int64 // connections handed to a poller, returns included
	left           atomic.Int64 // connections that moved off a poller

	mu     sync.Mutex
	conns  map[*net.TCPConn]struct{} // connections served by goroutines
	closed bool
	wg     sync.WaitGroup // the accept loop and every connection goroutine
}

var _ backends.Server = (*Server)(nil)

// setup adjusts nbio's package-level settings once per process.
var setup sync.Once

// setupNbio keeps nbio's log lines off stdout, which carries only the
// server's listening line (errors go to stderr), and sizes nbio's table of
// connections, indexed by descriptor, to the open-file limit: its default
// of 2 Mi entries is 16 MiB of pointers that the GC scans.
func setupNbio() {
	logging.SetLogger(stderrLogger{})
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && lim.Cur > 0 && lim.Cur < uint64(nb.MaxOpenFiles) {
		nb.MaxOpenFiles = int(lim.Cur)
	}
}

// Listen binds addr, starts nbio's pollers (one per GOMAXPROCS) unless the
// mode is Blocking, and accepts in the background.
func (s *Server) Listen(addr string) (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil || s.closed {
		return nil, errors.New("nbio: Listen called twice or after Close")
	}
	ln, err := backends.ListenTCP(context.Background(), addr)
	if err != nil {
		return nil, fmt.Errorf("nbio: %w", err)
	}
	if s.cfg.Mode != Blocking {
		onData := s.onHTTP
		if s.proto == backends.ProtoEcho {
			onData = s.onEcho
		}
		eng, err := startEngine(runtime.GOMAXPROCS(0), onData)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("nbio: start: %w", err)
		}
		s.eng = eng
	}
	s.ln = ln
	s.conns = make(map[*net.TCPConn]struct{})
	s.wg.Add(1)
	go s.accept()
	return ln.Addr(), nil
}

// startEngine starts an nbio engine with npoller pollers and no listener,
// whose pollers pass what they read to onData, and returns once every
// poller runs its loop (see probePollers).
func startEngine(npoller int, onData func(*nb.Conn, []byte)) (*nb.Engine, error) {
	setup.Do(setupNbio)
	eng := nb.NewEngine(nb.Config{
		Name:    "asyncbench",
		NPoller: npoller,
		// Read until the socket is drained: with nbio's default of 3
		// reads per event, a client whose FIN arrives behind more than
		// 3 × 64 KiB would see the connection closed with input unread.
		MaxConnReadTimesPerEventLoop: 1 << 30,
	})
	eng.OnData(onData)
	if err := eng.Start(); err != nil {
		return nil, err
	}
	if _, err := probePollers(eng, npoller); err != nil {
		// No Stop: it would wait forever on a poller not yet running.
		return nil, fmt.Errorf("probe pollers: %w", err)
	}
	return eng, nil
}

// probe is the session of a connection probePollers adds; the handlers
// signal on it when it is read (see signalProbe).
type probe chan struct{}

// probePollers returns once every poller of eng has read from a probe
// connection. nbio v1.6.8's poller clears its shutdown flag as its loop
// begins, so an Engine.Stop that came earlier would be lost and Stop would
// wait for that poller forever; a poller that has read is past that point.
// A connection goes to poller fd % npoller, so probes (one end of a Unix
// socket pair each) are added until every poller has one. Descriptors are
// allocated lowest first, so each probe would land on the same poller as
// the one before; a spare descriptor held after a probe that hit a covered
// poller shifts the next one by one.
// It returns how many probes it added. Descriptors other goroutines open
// meanwhile can spoil a shift, so it gives up only after 64 per poller.
func probePollers(eng *nb.Engine, npoller int) (probes int, err error) {
	type pair struct {
		c    *nb.Conn
		peer int
		seen probe
	}
	var pairs []pair
	var spares []int
	defer func() {
		for _, p := range pairs {
			p.c.Close()
			unix.Close(p.peer)
		}
		for _, fd := range spares {
			unix.Close(fd)
		}
	}()
	covered := make(map[int]bool)
	for ; len(covered) < npoller; probes++ {
		if probes > 64*npoller {
			return probes, errors.New("no descriptor reached some poller")
		}
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
		if err != nil {
			return probes, fmt.Errorf("socketpair: %w", err)
		}
		f := os.NewFile(uintptr(fds[0]), "")
		fc, err := net.FileConn(f)
		f.Close()
		if err != nil {
			unix.Close(fds[1])
			return probes, err
		}
		c, err := nb.NBConn(fc) // duplicates, closes fc
		if err != nil {
			fc.Close()
			unix.Close(fds[1])
			return probes, err
		}
		p := pair{c: c, peer: fds[1], seen: make(probe, 1)}
		c.SetSession(p.seen)
		if _, err := eng.AddConn(c); err != nil {
			unix.Close(p.peer)
			return probes, err
		}
		pairs = append(pairs, p)
		if covered[c.Hash()%npoller] {
			fd, err := unix.Dup(p.peer)
			if err != nil {
				return probes, fmt.Errorf("dup: %w", err)
			}
			spares = append(spares, fd)
		}
		covered[c.Hash()%npoller] = true
	}
	for _, p := range pairs {
		if _, err := unix.Write(p.peer, []byte{0}); err != nil {
			return probes, fmt.Errorf("write probe: %w", err)
		}
	}
	for _, p := range pairs {
		<-p.seen
	}
	return probes, nil
}

// signalProbe, for a connection without a state, signals its probe if it
// has one; the caller closes it either way.
func signalProbe(c *nb.Conn) {
	if p, ok := c.Session().(probe); ok {
		select {
		case p <- struct{}{}:
		default:
		}
	}
}

// accept hands every accepted connection to a goroutine or to a poller,
// as the mode says.
func (s *Server) accept() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: wait and retry as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		tc := c.(*net.TCPConn)
		if !s.onGoroutine() {
			s.enroll(tc, &state{})
			continue
		}
		counted := s.cfg.Mode == Mixed
		serve := func(tc *net.TCPConn) { s.serveBlocking(tc) }
		if !s.goServe(tc, serve, counted) && counted {
			s.blockingOnline.Add(-1)
		}
	}
}

// onGoroutine reports whether a new connection is served by a goroutine
// of its own; in Mixed mode it counts the connection if so.
func (s *Server) onGoroutine() bool {
	switch s.cfg.Mode {
	case Blocking:
		return true
	case Mixed:
		if s.blockingOnline.Add(1) <= int64(s.cfg.MaxBlockingOnline) {
			return true
		}
		s.blockingOnline.Add(-1)
	}
	return false
}

// serveBlocking serves a connection on the calling goroutine until it
// closes; it never moves to a poller.
func (s *Server) serveBlocking(tc *net.TCPConn) {
	if s.proto == backends.ProtoEcho {
		serveEcho(tc, nil, nil)
		return
	}
	serveHTTP(tc, &h1.Session{}, nil, nil, false, nil)
}

// goServe runs serve(tc) on a new goroutine that Close can reach, then
// closes tc unless serve handed it elsewhere (tc is then closed already,
// and closing again is harmless). counted connections decrement the
// Mixed-mode count when done. It reports false, having closed tc, once
// the server is closing.
func (s *Server) goServe(tc *net.TCPConn, serve func(*net.TCPConn), counted bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		tc.Close()
		return false
	}
	s.conns[tc] = struct{}{}
	s.wg.Go(func() {
		serve(tc)
		tc.Close()
		s.mu.Lock()
		delete(s.conns, tc)
		s.mu.Unlock()
		if counted {
			s.blockingOnline.Add(-1)
		}
	})
	return true
}

// enroll hands tc to a poller with st as its state (nbio duplicates the
// descriptor and closes tc). It reports false, having closed tc, when the
// server is closing or nbio refuses the connection.
func (s *Server) enroll(tc *net.TCPConn, st *state) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.eng == nil {
		tc.Close()
		return false
	}
	c, err := nb.NBConn(tc) // duplicates the descriptor, closes tc
	if err != nil {
		tc.Close()
		return false
	}
	fd, err := connFD(c)
	if err != nil {
		c.Close()
		return false
	}
	st.fd = fd
	st.ready.Store(true)
	c.SetSession(st) // before any read event can arrive
	if _, err := s.eng.AddConn(c); err != nil {
		return false // nbio has closed c
	}
	s.enrolled.Add(1)
	return true
}

// Close stops accepting, stops the pollers (closing their connections),
// closes the connections served by goroutines and waits for every
// goroutine, a slow request in flight included.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	err := s.ln.Close()
	if s.eng != nil {
		s.eng.Stop()
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// stderrLogger drops nbio's debug, info and warning lines and writes its
// errors to stderr.
type stderrLogger struct{}

func (stderrLogger) Debug(string, ...any) {}
func (stderrLogger) Info(string, ...any)  {}
func (stderrLogger) Warn(string, ...any)  {}
func (stderrLogger) Error(format string, v ...any) {
	fmt.Fprintf(os.Stderr, "nbio: "+format+"\n", v...)
}

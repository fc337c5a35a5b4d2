// Package gnet serves the echo and HTTP protocols on gnet v2 event loops,
// one loop per GOMAXPROCS, with the h1 engine working on gnet's inbound
// buffer in place. gnet reads; the answers bypass gnet's output path
// (Conn.Write and its outbound buffer): the handlers write them to the
// socket themselves and serve a connection that falls behind off the loop
// (see handoff.go). gnet-pool's answers to slow requests are the exception:
// they go through AsyncWrite (see pool.go).
package gnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"

	gn "github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/asyncbench/asyncbench/backends"
)

// Server is a gnet engine serving one protocol.
type Server struct {
	handler gn.EventHandler
	off     offLoop // connections served off the event loops
	stop    func()  // run by Close once the loops have stopped, if set

	mu     sync.Mutex
	eng    gn.Engine
	done   chan error // receives gnet.Run's result once it returns
	closed bool
}

var _ backends.Server = (*Server)(nil)

// New returns a gnet server for proto; it serves echo and http.
func New(proto backends.Proto) (backends.Server, error) {
	s := &Server{}
	switch proto {
	case backends.ProtoEcho:
		s.handler = &echoHandler{off: &s.off}
	case backends.ProtoHTTP:
		s.handler = &httpHandler{off: &s.off}
	default:
		return nil, fmt.Errorf("gnet: protocol %q: %w", proto, backends.ErrUnsupported)
	}
	return s, nil
}

// booter wraps a handler to report the engine and its bound address once
// gnet has bound the listener and is about to start its event loops.
type booter struct {
	gn.EventHandler
	booted chan<- bootInfo
}

type bootInfo struct {
	eng  gn.Engine
	addr net.Addr
	err  error
}

// OnBoot learns the bound address from a duplicate of the listening socket.
func (b *booter) OnBoot(eng gn.Engine) gn.Action {
	info := bootInfo{eng: eng}
	fd, err := eng.Dup()
	if err == nil {
		var sa unix.Sockaddr
		sa, err = unix.Getsockname(fd)
		unix.Close(fd)
		if err == nil {
			info.addr, err = sockaddrToTCP(sa)
		}
	}
	info.err = err
	b.booted <- info
	if err != nil {
		return gn.Shutdown
	}
	return gn.None
}

// sockaddrToTCP converts a bound TCP socket address.
func sockaddrToTCP(sa unix.Sockaddr) (*net.TCPAddr, error) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}, nil
	case *unix.SockaddrInet6:
		addr := &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
		if a.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(a.ZoneId)); err == nil {
				addr.Zone = ifi.Name
			}
		}
		return addr, nil
	}
	return nil, fmt.Errorf("unexpected socket address %T", sa)
}

// Listen binds addr and starts the event loops. It returns the bound address
// once the listener is open, or the bind error.
func (s *Server) Listen(addr string) (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil || s.closed {
		return nil, errors.New("gnet: Listen called twice or after Close")
	}
	booted := make(chan bootInfo, 1)
	done := make(chan error, 1)
	h := &booter{EventHandler: s.handler, booted: booted}
	go func() {
		done <- gn.Run(h, "tcp://"+addr,
			gn.WithMulticore(true),
			gn.WithNumEventLoop(runtime.GOMAXPROCS(0)),
			gn.WithReuseAddr(true),
			gn.WithTCPNoDelay(gn.TCPNoDelay),
			// Loops are not locked to OS threads: the handlers use no
			// thread-local state, with one P a locked loop forces a thread
			// handoff whenever another goroutine (GC, timers) runs, and
			// locking showed no throughput gain (see README.md).
			gn.WithLockOSThread(false),
			gn.WithLogger(quietLogger{}),
		)
	}()
	select {
	case info := <-booted:
		if info.err != nil {
			<-done
			return nil, fmt.Errorf("gnet: listen %s: %w", addr, info.err)
		}
		s.eng, s.done = info.eng, done
		return info.addr, nil
	case err := <-done:
		if err == nil {
			err = errors.New("engine stopped before it started")
		}
		return nil, fmt.Errorf("gnet: listen %s: %w", addr, err)
	}
}

// Close stops the engine, closing every connection, and waits for its event
// loops to return.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.done == nil {
		if s.stop != nil {
			s.stop()
		}
		return nil
	}
	// Engine.Stop polls for completion; the Run goroutine finishing is the
	// real signal, so Stop's wait is cut short once Run has returned.
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- s.eng.Stop(ctx) }()
	runErr := <-s.done
	cancel()
	if s.stop != nil {
		s.stop()
	}
	s.off.close()
	if err := <-stopped; err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("gnet: stop: %w", err)
	}
	if runErr != nil {
		return fmt.Errorf("gnet: run: %w", runErr)
	}
	return nil
}

// quietLogger keeps gnet off stdout, which carries only the server's
// "listening on" line: debug, info and warning lines are dropped, errors go
// to stderr.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gnet: "+format+"\n", args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gnet: "+format+"\n", args...)
}

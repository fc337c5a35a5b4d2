// Package netpoll serves the echo and HTTP protocols on cloudwego/netpoll:
// its pollers (one per GOMAXPROCS) read every connection into netpoll's
// buffers, and the OnRequest handler runs on a goroutine from netpoll's
// pool (bytedance's gopool), where slow requests are waited for and
// computed. HTTP goes through the engine in backends/h1; netpoll has no
// HTTP server of its own.
package netpoll

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	np "github.com/cloudwego/netpoll"

	"github.com/asyncbench/asyncbench/backends"
)

// Server is a netpoll event loop serving one protocol.
type Server struct {
	serve serveFunc

	closing  atomic.Bool  // set by Close: handlers close their connection
	inflight atomic.Int64 // OnRequest calls running

	mu    sync.Mutex
	evl   np.EventLoop
	done  chan error             // receives EventLoop.Serve's result
	conns map[*conn]struct{}     // connections netpoll serves
	offs  map[*conn]*net.TCPConn // connections served off netpoll
	offWG sync.WaitGroup         // their goroutines
	shut  bool                   // Close has begun; nothing new is tracked
}

var _ backends.Server = (*Server)(nil)

// New returns a netpoll server for proto; it serves echo and http.
func New(proto backends.Proto) (backends.Server, error) {
	s := &Server{conns: map[*conn]struct{}{}, offs: map[*conn]*net.TCPConn{}}
	switch proto {
	case backends.ProtoEcho:
		s.serve = serveEcho
	case backends.ProtoHTTP:
		s.serve = serveHTTP
	default:
		return nil, fmt.Errorf("netpoll: protocol %q: %w", proto, backends.ErrUnsupported)
	}
	return s, nil
}

// configure sets netpoll's process-wide settings: one poller per P (the
// contract's event loops = GOMAXPROCS; netpoll's default is GOMAXPROCS/20
// + 1) and the task runner that completes hand-offs (runTask).
// It runs once: netpoll's poller manager is not safe to resize while in
// use.
func configure() error {
	configOnce.Do(func() {
		configErr = np.SetNumLoops(runtime.GOMAXPROCS(0))
		np.SetRunner(runTask)
		np.Initialize()
	})
	return configErr
}

var (
	configOnce sync.Once
	configErr  error
)

// Listen binds addr and starts serving it on netpoll's pollers. It returns
// the bound address once the socket accepts, or the bind error.
func (s *Server) Listen(addr string) (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.evl != nil || s.shut {
		return nil, errors.New("netpoll: Listen called twice or after Close")
	}
	if err := configure(); err != nil {
		return nil, fmt.Errorf("netpoll: %w", err)
	}
	ln, err := backends.ListenTCP(context.Background(), addr)
	if err != nil {
		return nil, fmt.Errorf("netpoll: %w", err)
	}
	evl, err := np.NewEventLoop(s.onRequest, np.WithOnPrepare(s.onPrepare))
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("netpoll: %w", err)
	}
	s.evl, s.done = evl, make(chan error, 1)
	go func() { s.done <- evl.Serve(ln) }()
	return ln.Addr(), nil
}

// Close stops accepting, closes every connection, on netpoll or off it,
// and returns once every handler and off-netpoll goroutine has returned
// (a slow request in flight is waited for, at most 10 s).
func (s *Server) Close() error {
	s.mu.Lock()
	if s.shut {
		s.mu.Unlock()
		return nil
	}
	s.shut = true
	evl := s.evl
	s.mu.Unlock()
	if evl == nil {
		return nil
	}
	s.closing.Store(true)
	// Shutdown closes the listener, closes idle connections and then waits
	// for busy ones until its context ends: it ends at once, and the
	// connections are closed below.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := evl.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("netpoll: shutdown: %w", err)
	}
	serveErr := <-s.done

	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns)+len(s.offs))
	for c := range s.conns {
		conns = append(conns, c)
	}
	offs := make([]*net.TCPConn, 0, len(s.offs))
	for c, tc := range s.offs {
		conns = append(conns, c)
		offs = append(offs, tc)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.nc.Close()
		c.stop()
	}
	for _, tc := range offs {
		tc.Close()
	}
	s.offWG.Wait()
	for s.inflight.Load() > 0 {
		time.Sleep(time.Millisecond)
	}
	if serveErr != nil {
		return fmt.Errorf("netpoll: serve: %w", serveErr)
	}
	return nil
}

// track records c so Close can reach it; it reports false once closing.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shut {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

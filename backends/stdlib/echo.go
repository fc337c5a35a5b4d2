package stdlib

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/asyncbench/asyncbench/backends"
)

// echoBufSize is the per-connection read buffer, the size net/http uses for
// each connection's bufio reader.
const echoBufSize = 4 << 10

// EchoServer returns every byte it reads, one goroutine per connection.
type EchoServer struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	conn map[net.Conn]struct{}
	done bool
}

var _ backends.Server = (*EchoServer)(nil)

// Listen binds addr and starts accepting in the background.
func (s *EchoServer) Listen(addr string) (net.Addr, error) {
	ln, err := backends.ListenTCP(context.Background(), addr)
	if err != nil {
		return nil, fmt.Errorf("stdlib echo: %w", err)
	}
	s.ln = ln
	s.conn = make(map[net.Conn]struct{})
	s.wg.Add(1)
	go s.serve()
	return ln.Addr(), nil
}

func (s *EchoServer) serve() {
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
		if !s.track(c) {
			c.Close()
			return
		}
		s.wg.Add(1)
		go s.echo(c)
	}
}

// track records c so Close can reach it; it reports false once closing.
func (s *EchoServer) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return false
	}
	s.conn[c] = struct{}{}
	return true
}

func (s *EchoServer) echo(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conn, c)
		s.mu.Unlock()
		c.Close()
	}()
	buf := make([]byte, echoBufSize)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			backends.PayHandicap()
			// net.Conn.Write writes all of buf[:n] or fails.
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Close stops accepting, closes every connection and waits for their
// goroutines to return.
func (s *EchoServer) Close() error {
	if s.ln == nil {
		return nil
	}
	err := s.ln.Close()
	s.mu.Lock()
	s.done = true
	for c := range s.conn {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

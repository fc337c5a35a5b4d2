package backends

import (
	"context"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// ListenTCP binds addr (HOST:PORT) with SO_REUSEADDR and no TCP keep-alive
// probes, and returns a listener whose accepted connections have TCP_NODELAY
// set: the socket settings every backend shares.
func ListenTCP(ctx context.Context, addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1, Control: reuseAddr}
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return noDelayListener{ln.(*net.TCPListener)}, nil
}

func reuseAddr(_, _ string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}); err != nil {
		return err
	}
	return serr
}

// noDelayListener sets TCP_NODELAY on every accepted connection.
type noDelayListener struct{ *net.TCPListener }

// Accept waits for the next connection and returns it with TCP_NODELAY set.
func (l noDelayListener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	// SetNoDelay fails only on a dead socket, which the server then sees on
	// its first read.
	_ = c.SetNoDelay(true)
	return c, nil
}

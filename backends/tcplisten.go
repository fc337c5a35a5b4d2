package backends

import (
	"context"
	"net"
)

// ListenTCP binds addr (HOST:PORT) with the socket settings every backend
// shares: SO_REUSEADDR, no TCP keep-alive probes and TCP_NODELAY on every
// accepted connection. Package net sets SO_REUSEADDR on every listening
// socket and TCP_NODELAY on every TCP connection by default, so only the
// keep-alive probes need turning off here.
func ListenTCP(ctx context.Context, addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	return lc.Listen(ctx, "tcp", addr)
}

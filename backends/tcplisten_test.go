package backends

import (
	"context"
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// sockopt reads one integer socket option of c.
func sockopt(t *testing.T, c syscall.Conn, level, opt int) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), level, opt) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

func TestListenTCPSocketSettings(t *testing.T) {
	ln, err := ListenTCP(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if v := sockopt(t, ln.(*net.TCPListener), unix.SOL_SOCKET, unix.SO_REUSEADDR); v == 0 {
		t.Error("listener: SO_REUSEADDR off")
	}
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc := c.(*net.TCPConn)
	if v := sockopt(t, tc, unix.IPPROTO_TCP, unix.TCP_NODELAY); v == 0 {
		t.Error("accepted connection: TCP_NODELAY off")
	}
	if v := sockopt(t, tc, unix.SOL_SOCKET, unix.SO_KEEPALIVE); v != 0 {
		t.Error("accepted connection: SO_KEEPALIVE on")
	}
}

//go:build !linux

package loadgen

import (
	"errors"
	"net"
)

const epollAvailable = false

func startEpoll(*shared, []*conn, []net.Conn, int) error {
	return errors.New("engine epoll is available on Linux only")
}

// bindNoPort does nothing off Linux.
func bindNoPort(int) {}

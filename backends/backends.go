// Package backends holds the contract every server backend meets: the
// protocols, the Server interface, the limits and the fixed HTTP responses
// that all backends must produce byte for byte (apart from Date).
package backends

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Proto is the protocol a server speaks.
type Proto string

// The protocols a backend may serve.
const (
	ProtoEcho Proto = "echo" // raw TCP: every byte returned in order
	ProtoHTTP Proto = "http" // HTTP/1.1 with keep-alive
)

// ParseProto returns the Proto named s or an error listing the valid ones.
func ParseProto(s string) (Proto, error) {
	switch Proto(s) {
	case ProtoEcho, ProtoHTTP:
		return Proto(s), nil
	}
	return "", fmt.Errorf("unknown protocol %q (valid: echo, http)", s)
}

// ErrUnsupported is returned (wrapped) by a backend asked for a protocol it
// does not serve.
var ErrUnsupported = errors.New("not supported")

// ErrExternal is returned for a backend served by a separate program
// (Info.Program), which the Go server cannot run in process.
var ErrExternal = errors.New("a separate program, not part of the Go server")

// Server is one backend serving one protocol.
//
// Listen binds addr (HOST:PORT, port 0 picks a free one) and returns the bound
// address once the socket accepts connections; serving goes on in the
// background. Bind errors are returned at once. Close stops accepting, closes
// open connections and returns when serving has stopped. Close may be called
// once, from any goroutine.
type Server interface {
	Listen(addr string) (net.Addr, error)
	Close() error
}

// ListeningPrefix starts the line `server` prints on stdout once the backend
// accepts connections: ListeningPrefix + "HOST:PORT\n". The runner waits for
// it before it starts the generator.
const ListeningPrefix = "listening on "

// LingerTime bounds how long a closing connection keeps reading and dropping
// what the client still sends after its last response, so that the client
// reads that response rather than a reset (net/http waits 500 ms too).
const LingerTime = 500 * time.Millisecond

// Limits of the HTTP contract, the same on every backend.
const (
	MaxHeaderBytes = 8 << 10 // request line + headers over this → 431
	MaxBodyBytes   = 1 << 20 // request body over this → 413
)

// LingerClose closes c gracefully after its last response: it shuts the
// write side (the client reads the end of the response), then reads and
// drops what the client still sends until it closes or LingerTime passes,
// and closes. Closing with unread input would send a reset that can destroy
// the response in flight.
func LingerClose(c *net.TCPConn) error {
	if c.CloseWrite() == nil && c.SetReadDeadline(time.Now().Add(LingerTime)) == nil {
		var buf [512]byte
		for {
			if _, err := c.Read(buf[:]); err != nil {
				break
			}
		}
	}
	return c.Close()
}

// Package stdlib serves the contract with the standard library: package net
// for echo and net/http for HTTP, one goroutine per connection.
package stdlib

import (
	"fmt"

	"github.com/asyncbench/asyncbench/backends"
)

// New returns a server for proto.
func New(proto backends.Proto) (backends.Server, error) {
	switch proto {
	case backends.ProtoEcho:
		return &EchoServer{}, nil
	case backends.ProtoHTTP:
		return &HTTPServer{}, nil
	}
	return nil, fmt.Errorf("stdlib: %s: %w", proto, backends.ErrUnsupported)
}

// Package registry maps backend names to constructors. It lives apart from
// package backends, which every backend imports.
package registry

import (
	"fmt"
	"slices"
	"strings"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/backends/fasthttp"
	"github.com/asyncbench/asyncbench/backends/gnet"
	"github.com/asyncbench/asyncbench/backends/stdlib"
)

// Constructor returns a backend serving proto, or an error wrapping
// backends.ErrUnsupported when the backend does not serve it.
type Constructor func(proto backends.Proto) (backends.Server, error)

// constructors is every backend by name.
var constructors = map[string]Constructor{
	"stdlib":   stdlib.New,
	"gnet":     gnet.New,
	"fasthttp": fasthttp.New,
}

// Names returns the backend names, sorted.
func Names() []string {
	names := make([]string, 0, len(constructors))
	for name := range constructors {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// New returns the backend called name serving proto.
func New(name string, proto backends.Proto) (backends.Server, error) {
	newServer, ok := constructors[name]
	if !ok {
		return nil, fmt.Errorf("unknown backend %q (valid: %s)", name, strings.Join(Names(), ", "))
	}
	return newServer(proto)
}

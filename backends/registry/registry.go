// Package registry maps the backends in backends.Catalog to their
// constructors. It lives apart from package backends, which every backend
// imports.
package registry

import (
	"fmt"
	"strings"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/backends/fasthttp"
	"github.com/asyncbench/asyncbench/backends/gnet"
	"github.com/asyncbench/asyncbench/backends/nbio"
	"github.com/asyncbench/asyncbench/backends/netpoll"
	"github.com/asyncbench/asyncbench/backends/stdlib"
	"github.com/asyncbench/asyncbench/backends/threads"
)

// Constructor returns a backend serving proto, or an error wrapping
// backends.ErrUnsupported when the backend does not serve it.
type Constructor func(proto backends.Proto) (backends.Server, error)

// constructors holds one constructor per catalog entry; TestCatalog checks
// that the two agree.
var constructors = map[string]Constructor{
	"stdlib":    stdlib.New,
	"gnet":      gnet.New,
	"gnet-pool": gnet.NewPool,
	"fasthttp":  fasthttp.New,
	"threads":   threads.New,
	"nbio":      nbio.New,
	"netpoll":   netpoll.New,
}

// New returns the backend called name serving proto. A protocol the catalog
// does not list for the backend is refused with backends.ErrUnsupported.
func New(name string, proto backends.Proto) (backends.Server, error) {
	info, err := backends.Lookup(name)
	if err != nil {
		return nil, err
	}
	if info.External() {
		return nil, fmt.Errorf("backend %s: %w (run bin/%s)", name, backends.ErrExternal, info.Program)
	}
	newServer, ok := constructors[name]
	if !ok {
		return nil, fmt.Errorf("backend %s: no constructor registered", name)
	}
	if !info.Serves(proto) {
		return nil, fmt.Errorf("%s: %s: %w (%s serves %s)", name, proto, backends.ErrUnsupported, name, protoList(info.Protos))
	}
	return newServer(proto)
}

func protoList(ps []backends.Proto) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, " and ")
}

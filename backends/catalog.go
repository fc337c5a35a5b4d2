package backends

import (
	"fmt"
	"slices"
	"strings"
)

// Info names one backend and the protocols it serves.
type Info struct {
	Name   string
	Design string  // how it schedules connections, for reports and help
	Protos []Proto // protocols it serves
	// Program, when set, names a separate executable that serves this
	// backend instead of the Go server: `make build` puts it in bin/, and
	// it takes `-proto P -addr HOST:PORT [-handicap-cpu-us N]` and prints
	// the listening line like cmd/server. Written in C, it measures a
	// design with no language runtime in the way.
	Program string
}

// External reports whether the backend is a separate program (Program).
func (i Info) External() bool { return i.Program != "" }

// Serves reports whether the backend serves p.
func (i Info) Serves(p Proto) bool { return slices.Contains(i.Protos, p) }

// Catalog is every backend, sorted by name. The registry, plan validation
// and the conformance suite all read it; a new backend is added here once.
var Catalog = []Info{
	{Name: "cepoll", Design: "C, no runtime: one thread, an epoll loop over non-blocking sockets", Protos: []Proto{ProtoEcho, ProtoHTTP}, Program: "cepoll"},
	{Name: "cthreads", Design: "C, no runtime: one pthread per connection, blocking system calls", Protos: []Proto{ProtoEcho, ProtoHTTP}, Program: "cthreads"},
	{Name: "fasthttp", Design: "fasthttp: goroutines from a worker pool", Protos: []Proto{ProtoHTTP}},
	{Name: "gnet", Design: "gnet v2: event loops, handlers run on the loop; slow requests block it", Protos: []Proto{ProtoEcho, ProtoHTTP}},
	{Name: "gnet-pool", Design: "gnet v2: event loops; slow requests run on a goroutine pool, answered with AsyncWrite", Protos: []Proto{ProtoEcho, ProtoHTTP}},
	{Name: "nbio", Design: "nbio: poller goroutines serve connections; slow requests and slow readers move to a goroutine until caught up", Protos: []Proto{ProtoEcho, ProtoHTTP}},
	{Name: "netpoll", Design: "cloudwego/netpoll: pollers read every connection; handlers, slow requests included, run on netpoll's goroutine pool", Protos: []Proto{ProtoEcho, ProtoHTTP}},
	{Name: "stdlib", Design: "net and net/http: one goroutine per connection", Protos: []Proto{ProtoEcho, ProtoHTTP}},
	{Name: "threads", Design: "one locked OS thread per connection, blocking system calls", Protos: []Proto{ProtoEcho, ProtoHTTP}},
}

// Names returns the names of every backend in the catalog, sorted.
func Names() []string {
	names := make([]string, len(Catalog))
	for i, b := range Catalog {
		names[i] = b.Name
	}
	return names
}

// Lookup returns the catalog entry called name, or an error listing the
// valid names.
func Lookup(name string) (Info, error) {
	for _, b := range Catalog {
		if b.Name == name {
			return b, nil
		}
	}
	return Info{}, fmt.Errorf("unknown backend %q (valid: %s)", name, strings.Join(Names(), ", "))
}

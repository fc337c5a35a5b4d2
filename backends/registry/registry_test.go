package registry

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/backends"
)

// TestCatalog checks that every catalog entry has a constructor and every
// constructor a catalog entry, and that the catalog is sorted.
func TestCatalog(t *testing.T) {
	names := backends.Names()
	if !slices.IsSorted(names) {
		t.Errorf("catalog not sorted: %v", names)
	}
	for _, b := range backends.Catalog {
		_, ok := constructors[b.Name]
		if b.External() {
			if ok {
				t.Errorf("catalog lists %q as program %s, and it has a constructor", b.Name, b.Program)
			}
			continue
		}
		if n := b.Name; !ok {
			t.Errorf("catalog lists %q, which has no constructor", n)
		}
	}
	for n := range constructors {
		if !slices.Contains(names, n) {
			t.Errorf("constructor %q has no catalog entry", n)
		}
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name        string
		proto       backends.Proto
		unsupported bool
		errHas      string
	}{
		{name: "stdlib", proto: backends.ProtoEcho},
		{name: "stdlib", proto: backends.ProtoHTTP},
		{name: "gnet", proto: backends.ProtoEcho},
		{name: "gnet", proto: backends.ProtoHTTP},
		{name: "gnet-pool", proto: backends.ProtoEcho},
		{name: "gnet-pool", proto: backends.ProtoHTTP},
		{name: "threads", proto: backends.ProtoEcho},
		{name: "threads", proto: backends.ProtoHTTP},
		{name: "fasthttp", proto: backends.ProtoHTTP},
		{name: "fasthttp", proto: backends.ProtoEcho, unsupported: true, errHas: "fasthttp: echo: not supported (fasthttp serves http)"},
		{name: "nginx", proto: backends.ProtoHTTP, errHas: `unknown backend "nginx" (valid: cepoll, cthreads, fasthttp, gnet, gnet-pool, nbio, netpoll, stdlib, threads)`},
		{name: "cthreads", proto: backends.ProtoHTTP, errHas: "backend cthreads: a separate program, not part of the Go server (run bin/cthreads)"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+string(tt.proto), func(t *testing.T) {
			srv, err := New(tt.name, tt.proto)
			if tt.errHas == "" {
				if err != nil || srv == nil {
					t.Fatalf("New: %v, %v", srv, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New: no error, want %q", tt.errHas)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("error %q does not contain %q", err, tt.errHas)
			}
			if got := errors.Is(err, backends.ErrUnsupported); got != tt.unsupported {
				t.Fatalf("errors.Is(ErrUnsupported) = %v, want %v", got, tt.unsupported)
			}
		})
	}
}

package registry

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/backends"
)

func TestNames(t *testing.T) {
	want := []string{"fasthttp", "gnet", "stdlib"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
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
		{name: "fasthttp", proto: backends.ProtoHTTP},
		{name: "fasthttp", proto: backends.ProtoEcho, unsupported: true, errHas: "fasthttp: echo: not supported (fasthttp serves HTTP only)"},
		{name: "nginx", proto: backends.ProtoHTTP, errHas: `unknown backend "nginx" (valid: fasthttp, gnet, stdlib)`},
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

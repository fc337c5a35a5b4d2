package conformance

import (
	"testing"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/backends/nbio"
)

// TestNbioModes runs the echo and HTTP suites on nbio's two other I/O
// modes (the catalog's nbio is the non-blocking one). Mixed serves one
// connection at a time on a goroutine here, so the suite's connections
// are served both ways.
func TestNbioModes(t *testing.T) {
	for _, cfg := range []nbio.Config{{Mode: nbio.Blocking}, {Mode: nbio.Mixed, MaxBlockingOnline: 1}} {
		for _, proto := range protos {
			t.Run(string(cfg.Mode)+"/"+string(proto), func(t *testing.T) {
				srv, err := nbio.NewConfig(proto, cfg)
				if err != nil {
					t.Fatal(err)
				}
				a, err := srv.Listen("127.0.0.1:0")
				if err != nil {
					t.Fatalf("Listen: %v", err)
				}
				t.Cleanup(func() { closeWithin(t, srv) })
				addr := a.String()
				track(t, addr, srv)
				switch proto {
				case backends.ProtoEcho:
					testEcho(t, addr)
				case backends.ProtoHTTP:
					testHTTP(t, addr)
				}
			})
		}
	}
}

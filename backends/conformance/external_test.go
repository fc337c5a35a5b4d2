package conformance

import (
	"cmp"
	"os"
	"testing"

	"github.com/asyncbench/asyncbench/backends"
)

// TestExternal checks a server that is not in the catalog against the
// contract, with the same checks as TestConformance (see doc.go):
//
//	CONFORMANCE_CMD='COMMAND'       run COMMAND with sh -c in the module root;
//	                                {addr} and {port} in it become a free
//	                                127.0.0.1 port, or else COMMAND prints
//	                                "listening on HOST:PORT"
//	CONFORMANCE_ADDR=HOST:PORT      a server already running there
//	CONFORMANCE_PROTO=http|echo     its protocol (default http)
//
// It skips when neither CONFORMANCE_CMD nor CONFORMANCE_ADDR is set.
func TestExternal(t *testing.T) {
	cmdline, addr := os.Getenv("CONFORMANCE_CMD"), os.Getenv("CONFORMANCE_ADDR")
	switch {
	case cmdline == "" && addr == "":
		t.Skip("no server named: set CONFORMANCE_CMD or CONFORMANCE_ADDR (see doc.go)")
	case cmdline != "" && addr != "":
		t.Fatal("set CONFORMANCE_CMD or CONFORMANCE_ADDR, not both")
	}
	proto, err := backends.ParseProto(cmp.Or(os.Getenv("CONFORMANCE_PROTO"), string(backends.ProtoHTTP)))
	if err != nil {
		t.Fatalf("CONFORMANCE_PROTO: %v", err)
	}
	if cmdline != "" {
		root, err := moduleRoot()
		if err != nil {
			t.Fatal(err)
		}
		p := &program{name: cmdline, argv: []string{"sh", "-c", cmdline}, dir: root}
		a, err := p.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { closeWithin(t, p) })
		addr = a.String()
		track(t, addr, p)
	}
	t.Logf("checking %s on %s", proto, addr)
	switch proto {
	case backends.ProtoEcho:
		testEcho(t, addr)
	case backends.ProtoHTTP:
		testHTTP(t, addr)
	}
}

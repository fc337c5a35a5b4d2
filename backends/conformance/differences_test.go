package conformance

import (
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/backends"
)

// The cases where the libraries cannot be made to agree without rewriting
// their input or output; backends/README.md ("Edge cases") lists them. Each
// backend must give the answer documented for it, and every backend must
// answer once the client has shut its write side: none may hang.

// Answers in differences: exact bytes, or ok for the plaintext 200 (the
// connection stays open until the client's EOF).
const ok200 = "200"

// differences maps a request to the answer of each HTTP backend.
var differences = []struct {
	name string
	req  string
	want map[string]string
}{
	{
		// RFC 9112 §2.2 SHOULD: net/http refuses, fasthttp and gnet skip.
		name: "leading_empty_lines",
		req:  "\r\n\r\n" + reqPlaintext,
		want: map[string]string{"stdlib": backends.BadRequestResponse, "gnet": ok200, "gnet-pool": ok200, "netpoll": ok200, "threads": ok200, "fasthttp": ok200, "cepoll": ok200, "cthreads": ok200, "nbio": ok200},
	},
	{
		// RFC 9112 §2.2 MAY: net/http and gnet take a bare LF as a line
		// end; fasthttp waits for a CRLFCRLF and refuses at the client's EOF.
		name: "bare_lf",
		req:  "GET /plaintext HTTP/1.1\nHost: test\n\n",
		want: map[string]string{"stdlib": ok200, "gnet": ok200, "gnet-pool": ok200, "netpoll": ok200, "threads": ok200, "fasthttp": backends.BadRequestResponse, "cepoll": ok200, "cthreads": ok200, "nbio": ok200},
	},
	{
		// RFC 9110 §8.6 allows either: net/http merges equal values before
		// any handler sees them; fasthttp refuses, and so does gnet.
		name: "content_length_repeated_equal",
		req:  "POST /plaintext HTTP/1.1\r\nHost: test\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi",
		want: map[string]string{"stdlib": ok200, "gnet": backends.BadRequestResponse, "gnet-pool": backends.BadRequestResponse, "netpoll": backends.BadRequestResponse, "threads": backends.BadRequestResponse, "fasthttp": backends.BadRequestResponse, "cepoll": backends.BadRequestResponse, "cthreads": backends.BadRequestResponse, "nbio": backends.BadRequestResponse},
	},
}

func TestDocumentedDifferences(t *testing.T) {
	for _, b := range backends.Catalog {
		if !b.Serves(backends.ProtoHTTP) {
			continue
		}
		t.Run(b.Name, func(t *testing.T) {
			addr := start(t, b.Name, backends.ProtoHTTP)
			for _, d := range differences {
				t.Run(d.name, func(t *testing.T) {
					want, ok := d.want[b.Name]
					if !ok {
						t.Fatalf("no documented answer for %s", b.Name)
					}
					c := dial(t, addr)
					c.send(d.req)
					if err := c.c.CloseWrite(); err != nil {
						t.Fatal(err)
					}
					c.c.SetDeadline(time.Now().Add(ioTimeout))
					if want == ok200 {
						checkResponse(t, c.read(), wantPlaintext)
						return
					}
					r, err := readResponse(c.br)
					if err != nil || fixedForm(r) != want {
						t.Fatalf("got %v, %v; want %q", r, err, want)
					}
				})
			}
		})
	}
}

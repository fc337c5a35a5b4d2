package gnet

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/backends"
)

// startPool runs a gnet-pool HTTP server with one event loop, so every
// connection shares it.
func startPool(t *testing.T) (*Server, string) {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	bs, err := NewPool(backends.ProtoHTTP)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := bs.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return bs.(*Server), addr.String()
}

// TestPoolLoopStaysFree checks that a slow request on the pool leaves the
// event loop free: another connection on the same loop is answered while
// a 10 s wait is in flight, and Close cuts that wait short.
func TestPoolLoopStaysFree(t *testing.T) {
	srv, addr := startPool(t)
	slow := dial(t, addr)
	slow.Write([]byte("GET /delay?us=10000000 HTTP/1.1\r\nHost: x\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"))
	fast := dial(t, addr)
	// The hang guard is far below the 10 s wait: the answer can only come
	// from a loop that is not waiting.
	fast.SetDeadline(time.Now().Add(5 * time.Second))
	for range 3 {
		fast.Write([]byte("GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"))
		if got := norm(readN(t, fast, len(okPlain))); got != okPlain {
			t.Fatalf("fast connection got %q", got)
		}
	}
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for the 10 s delay")
	}
}

// TestPoolOrder checks that answers on one connection keep request order
// across slow requests sent in separate writes while one is in flight.
func TestPoolOrder(t *testing.T) {
	srv, addr := startPool(t)
	defer srv.Close()
	c := dial(t, addr)
	get := "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
	c.Write([]byte(get + "GET /delay?us=30000 HTTP/1.1\r\nHost: x\r\n\r\n"))
	c.Write([]byte("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nA"))
	c.Write([]byte("GET /cpu?us=2000 HTTP/1.1\r\nHost: x\r\n\r\n" + get))
	c.Write([]byte("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nB"))
	echo := func(b string) string { return resp("200 OK", "application/octet-stream", b, "") }
	want := okPlain + okPlain + echo("A") + okPlain + okPlain + echo("B")
	if got := norm(readN(t, c, len(want))); got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	c.Write([]byte("GET /delay?us=1000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + get))
	if got := norm(readAllClosed(t, c)); got != strings.Replace(okPlain, "\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1) {
		t.Fatalf("closing answer %q", got)
	}
}

// TestPoolPipelinedMix pipelines many rounds of a slow request followed by
// fast ones while the client reads slowly, so answers also leave the loop
// and come back; every answer must arrive, in order.
func TestPoolPipelinedMix(t *testing.T) {
	srv, addr := startPool(t)
	defer srv.Close()
	c := dial(t, addr)
	const rounds, fast = 40, 1000 // about 4.5 MB of answers
	get := "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
	round := "GET /delay?us=100 HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat(get, fast) + "GET /cpu?us=50 HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nend"
	go func() {
		for range rounds {
			if _, err := c.Write([]byte(round)); err != nil {
				return
			}
		}
	}()
	want := strings.Repeat(okPlain, fast+2) + resp("200 OK", "application/octet-stream", "end", "")
	for i := range rounds {
		if i%10 == 0 {
			time.Sleep(100 * time.Millisecond) // let the socket fill
		}
		if got := norm(readN(t, c, len(want))); got != want {
			t.Fatalf("round %d differs:\n%q", i, got)
		}
	}
}

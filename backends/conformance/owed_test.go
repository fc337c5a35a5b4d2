package conformance

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/backends"
)

// Every byte owed is sent before the server closes, and a client that does
// not read cannot make the server buffer without bound.

// longTimeout bounds the exchanges below that move tens of MiB.
const longTimeout = 60 * time.Second

// stall is how long a client writes without reading before it checks how
// much the server took. Only an upper bound on the bytes taken is checked,
// never a rate, so a slow machine cannot fail the test.
const stall = 2 * time.Second

// Back-pressure bounds: the client offers offered bytes without reading;
// the server (with the kernel's socket buffers on both sides, up to a few
// tens of MiB on Linux loopback) must take fewer than taken.
const (
	offered = 256 << 20
	taken   = 128 << 20
)

// pattern fills p with the bytes of an endless test stream from offset off.
// Its period is not a power of two, so a byte out of place shows.
func pattern(p []byte, off int) {
	const period = 65521
	for i := range p {
		k := (off + i) % period
		p[i] = byte(k ^ k>>8)
	}
}

// lateReader is a client that reads only once it has sent everything or
// once the server stops taking its bytes, whichever comes first: a server
// that takes everything has all its answers queued when the client's EOF
// arrives.
type lateReader struct {
	c   *client
	got <-chan []byte // nil until reading starts
}

// write writes p, starting to read once a write makes no progress for a
// while.
func (l *lateReader) write(p []byte) error {
	for len(p) > 0 {
		if l.got == nil {
			l.c.c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		}
		k, err := l.c.c.Write(p)
		p = p[k:]
		if err != nil {
			if l.got == nil && isTimeout(err) {
				l.got = readAllAsync(l.c.c)
				l.c.c.SetWriteDeadline(time.Now().Add(longTimeout))
				continue
			}
			return err
		}
	}
	return nil
}

// finish shuts the write side and returns everything read until EOF.
func (l *lateReader) finish(t *testing.T) []byte {
	t.Helper()
	l.c.c.SetDeadline(time.Now().Add(longTimeout))
	if err := l.c.c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if l.got == nil {
		l.got = readAllAsync(l.c.c)
	}
	return <-l.got
}

// readAllAsync reads c until EOF on a goroutine.
func readAllAsync(c net.Conn) <-chan []byte {
	got := make(chan []byte, 1)
	go func() {
		b, err := io.ReadAll(c)
		if err != nil {
			b = append(b, fmt.Sprintf("\n(read error: %v)", err)...)
		}
		got <- b
	}()
	return got
}

// checkPattern compares got with the first n bytes of the test stream.
func checkPattern(t *testing.T, got []byte, n int) {
	t.Helper()
	want := make([]byte, n)
	pattern(want, 0)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes back, want %d (equal prefix %d)", len(got), n, firstDiff(got, want))
	}
}

// testEchoHalfClose sends n bytes, shuts the write side and reads: every
// byte must come back before the server closes.
func testEchoHalfClose(t *testing.T, addr string, n int) {
	l := lateReader{c: dial(t, addr)}
	buf := make([]byte, 64<<10)
	for off := 0; off < n; off += len(buf) {
		p := buf[:min(len(buf), n-off)]
		pattern(p, off)
		if err := l.write(p); err != nil {
			t.Fatalf("write at %d: %v", off, err)
		}
	}
	checkPattern(t, l.finish(t), n)
}

// testEchoBackPressure writes without reading until the server stops
// taking bytes, then reads everything back.
func testEchoBackPressure(t *testing.T, addr string) {
	c := dial(t, addr)
	c.c.SetWriteDeadline(time.Now().Add(stall))
	buf := make([]byte, 64<<10)
	sent := 0
	for sent < offered {
		pattern(buf, sent)
		k, err := c.c.Write(buf)
		sent += k
		if err != nil {
			if !isTimeout(err) {
				t.Fatalf("write: %v", err)
			}
			break
		}
	}
	t.Logf("the server took %d KiB", sent>>10)
	if sent >= taken {
		t.Fatalf("the server took %d MiB from a client that does not read; want under %d MiB", sent>>20, taken>>20)
	}
	c.c.SetDeadline(time.Now().Add(longTimeout))
	got := readAllAsync(c.c)
	if err := c.c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	checkPattern(t, <-got, sent)
}

const okStatus = "HTTP/1.1 200 OK\r\n"

// countAnswers counts the 200 answers in a stream of responses that all
// carry body, and checks that nothing else is in it.
func countAnswers(t *testing.T, got []byte, body string) int {
	t.Helper()
	n := bytes.Count(got, []byte(okStatus))
	if n > 0 {
		one := len(got) / n
		if len(got)%n != 0 || !bytes.HasSuffix(got, []byte("\r\n\r\n"+body)) || !bytes.HasPrefix(got, []byte(okStatus)) || one > 200+len(body) {
			t.Fatalf("%d bytes of answers are not %d plaintext responses; the end: %q", len(got), n, got[max(0, len(got)-200):])
		}
	}
	return n
}

// testHTTPHalfClose pipelines k copies of req, shuts the write side and
// counts the answers, each carrying body: all k are owed before the server
// closes.
func testHTTPHalfClose(t *testing.T, addr string, k int, req, body string) {
	l := lateReader{c: dial(t, addr)}
	per := max(1, (64<<10)/len(req))
	batch := []byte(strings.Repeat(req, per))
	for sent := 0; sent < k; sent += per {
		if err := l.write(batch[:len(req)*min(per, k-sent)]); err != nil {
			t.Fatalf("write after %d requests: %v", sent, err)
		}
	}
	if n := countAnswers(t, l.finish(t), body); n != k {
		t.Fatalf("got %d answers to %d pipelined requests", n, k)
	}
}

// paddedGet is a GET /plaintext of 256 bytes, so the server's answers do
// not dwarf what it reads.
var paddedGet = withHeaderBytes(256)

// testHTTPBackPressure pipelines GETs without reading until the server
// stops taking them, then reads every answer.
func testHTTPBackPressure(t *testing.T, addr string) {
	c := dial(t, addr)
	c.c.SetWriteDeadline(time.Now().Add(stall))
	batch := []byte(strings.Repeat(paddedGet, 256))
	sent := 0
	for sent < offered {
		k, err := c.c.Write(batch)
		sent += k
		if err != nil {
			if !isTimeout(err) {
				t.Fatalf("write: %v", err)
			}
			break
		}
	}
	t.Logf("the server took %d KiB of requests", sent>>10)
	if sent >= taken {
		t.Fatalf("the server took %d MiB of requests from a client that does not read; want under %d MiB", sent>>20, taken>>20)
	}
	c.c.SetDeadline(time.Now().Add(longTimeout))
	got := readAllAsync(c.c)
	// Finish the request cut by the deadline, so every request is whole.
	if rest := sent % len(paddedGet); rest > 0 {
		if _, err := io.WriteString(c.c, paddedGet[rest:]); err != nil {
			t.Fatalf("write: %v", err)
		}
		sent += len(paddedGet) - rest
	}
	if err := c.c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, want := countAnswers(t, <-got, backends.PlaintextBody), sent/len(paddedGet); n != want {
		t.Fatalf("got %d answers to %d pipelined requests", n, want)
	}
}

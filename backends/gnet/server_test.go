package gnet

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/backends"
)

// start runs a server for proto on 127.0.0.1:0 and closes it when the test ends.
func start(t *testing.T, proto backends.Proto) string {
	t.Helper()
	srv, err := New(proto)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return addr.String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

var dateRe = regexp.MustCompile(`Date: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n`)

// norm replaces every Date header value with the test date.
func norm(b []byte) string {
	return dateRe.ReplaceAllString(string(b), "Date: "+testDate+"\r\n")
}

// readAllClosed reads until the server closes the connection.
func readAllClosed(t *testing.T, c net.Conn) []byte {
	t.Helper()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read until close: %v (got %q)", err, b)
	}
	return b
}

// readN reads exactly n bytes.
func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

func TestNewUnsupported(t *testing.T) {
	if _, err := New("quic"); !errors.Is(err, backends.ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
}

func TestListenErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv, _ := New(backends.ProtoEcho)
	if _, err := srv.Listen(ln.Addr().String()); err == nil {
		srv.Close()
		t.Fatal("Listen on a bound port succeeded")
	}
	srv2, _ := New(backends.ProtoHTTP)
	if _, err := srv2.Listen("256.0.0.1:0"); err == nil {
		srv2.Close()
		t.Fatal("Listen on a bad address succeeded")
	}
}

func TestListenReturnsAddress(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "[::1]"} {
		t.Run(host, func(t *testing.T) {
			srv, _ := New(backends.ProtoEcho)
			addr, err := srv.Listen(host + ":0")
			if err != nil {
				if host == "[::1]" {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				t.Fatal(err)
			}
			defer srv.Close()
			ta, ok := addr.(*net.TCPAddr)
			if !ok || ta.Port == 0 {
				t.Fatalf("addr %v", addr)
			}
			c := dial(t, addr.String())
			c.Write([]byte("ping"))
			if got := readN(t, c, 4); string(got) != "ping" {
				t.Fatalf("got %q", got)
			}
		})
	}
}

func TestEcho(t *testing.T) {
	addr := start(t, backends.ProtoEcho)
	c := dial(t, addr)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 256<<10/16*4) // 4 MiB
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for p := payload; len(p) > 0; {
			k := min(len(p), 3001)
			if _, err := c.Write(p[:k]); err != nil {
				t.Errorf("write: %v", err)
				return
			}
			p = p[k:]
		}
		c.(*net.TCPConn).CloseWrite()
	}()
	got := readAllClosed(t, c)
	wg.Wait()
	if !bytes.Equal(got, payload) {
		t.Fatalf("echoed %d bytes, want %d (equal prefix %d)", len(got), len(payload), commonPrefix(got, payload))
	}
}

func commonPrefix(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

func TestHTTPRaw(t *testing.T) {
	addr := start(t, backends.ProtoHTTP)
	get := "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"connection close", "GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp("200 OK", "text/plain", "Hello, World!", "close")},
		{"not found", "GET /missing?q HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp("404 Not Found", "text/plain", "Not Found", "close")},
		{"echo then close", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd" + "GET /plaintext HTTP/1.0\r\n\r\n",
			resp("200 OK", "application/octet-stream", "abcd", "") + resp("200 OK", "text/plain", "Hello, World!", "close")},
		{"bad request", get + "GET / HTTP/1.x\r\nHost: x\r\n\r\n" + get, okPlain + backends.BadRequestResponse},
		{"version not supported", get + "GET / HTTP/9.9\r\nHost: x\r\n\r\n" + get, okPlain + backends.VersionNotSupportedResponse},
		{"header too large", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("h", 9<<10) + "\r\n\r\n", backends.HeaderTooLargeResponse},
		{"declared body too large", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", tooLarge},
		{"chunked", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + get,
			resp("200 OK", "application/octet-stream", "hello", "close")},
		{"smuggling attempt", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n",
			resp("200 OK", "application/octet-stream", "", "close")},
		{"unknown coding", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", backends.NotImplementedResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			if _, err := c.Write([]byte(tt.in)); err != nil {
				t.Fatal(err)
			}
			if got := norm(readAllClosed(t, c)); got != tt.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestHTTPKeepAlive checks that 7 KiB of headers are served, that a
// request split at every byte is answered and that the connection stays open.
func TestHTTPKeepAlive(t *testing.T) {
	addr := start(t, backends.ProtoHTTP)
	c := dial(t, addr)
	big := "GET /plaintext HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 7<<10) + "\r\n\r\n"
	c.Write([]byte(big))
	if got := norm(readN(t, c, len(okPlain))); got != okPlain {
		t.Fatalf("7 KiB headers: got %q", got)
	}
	req := "POST /echo?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz"
	want := resp("200 OK", "application/octet-stream", "xyz", "")
	for i := range len(req) {
		if _, err := c.Write([]byte{req[i]}); err != nil {
			t.Fatal(err)
		}
		if i%8 == 0 {
			time.Sleep(time.Millisecond) // let some bytes arrive alone
		}
	}
	if got := norm(readN(t, c, len(want))); got != want {
		t.Fatalf("bytewise: got %q", got)
	}
	// Still open: one more request.
	c.Write([]byte("GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"))
	if got := norm(readN(t, c, len(okPlain))); got != okPlain {
		t.Fatalf("after: got %q", got)
	}
}

// TestHTTPPipelined sends 64 requests in one write and reads the answers in order.
func TestHTTPPipelined(t *testing.T) {
	addr := start(t, backends.ProtoHTTP)
	c := dial(t, addr)
	var in, want strings.Builder
	for i := range 64 {
		if i%2 == 0 {
			in.WriteString("GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
			want.WriteString(okPlain)
		} else {
			body := fmt.Sprintf("body-%d", i)
			fmt.Fprintf(&in, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			want.WriteString(resp("200 OK", "application/octet-stream", body, ""))
		}
	}
	c.Write([]byte(in.String()))
	if got := norm(readN(t, c, want.Len())); got != want.String() {
		t.Fatalf("pipelined answers differ")
	}
}

// TestHTTPLargeBodies sends bodies up to the limit, and one over it.
func TestHTTPLargeBodies(t *testing.T) {
	addr := start(t, backends.ProtoHTTP)
	t.Run("1 MiB echo then close", func(t *testing.T) {
		c := dial(t, addr)
		body := bytes.Repeat([]byte("q"), backends.MaxBodyBytes)
		go func() {
			fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n", len(body))
			c.Write(body)
		}()
		time.Sleep(50 * time.Millisecond) // let the server's output back up before reading
		got := norm(readAllClosed(t, c))
		if want := resp("200 OK", "application/octet-stream", string(body), "close"); got != want {
			t.Fatalf("got %d bytes, want %d", len(got), len(want))
		}
	})
	t.Run("chunked over the limit", func(t *testing.T) {
		c := dial(t, addr)
		go func() {
			c.Write([]byte("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"))
			chunk := fmt.Sprintf("%x\r\n%s\r\n", 64<<10, bytes.Repeat([]byte("c"), 64<<10))
			for range 17 {
				if _, err := c.Write([]byte(chunk)); err != nil {
					return // the server may close first
				}
			}
		}()
		if got := norm(readAllClosed(t, c)); got != tooLarge {
			t.Fatalf("got %q", got)
		}
	})
}

// TestHTTPClient talks to the server with net/http's client.
func TestHTTPClient(t *testing.T) {
	addr := start(t, backends.ProtoHTTP)
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for range 3 {
		res, err := client.Get("http://" + addr + "/plaintext")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(body) != "Hello, World!" || res.Header.Get("Content-Type") != "text/plain" {
			t.Fatalf("status %d body %q header %v", res.StatusCode, body, res.Header)
		}
		if _, err := http.ParseTime(res.Header.Get("Date")); err != nil {
			t.Fatalf("Date: %v", err)
		}
		if len(res.Header) != 3 {
			t.Fatalf("headers %v, want exactly Content-Type, Content-Length, Date", res.Header)
		}
	}
	res, err := client.Post("http://"+addr+"/echo", "text/plain", bufio.NewReader(strings.NewReader("streamed")))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "streamed" {
		t.Fatalf("echo body %q", body)
	}
}

// TestCloseWithOpenConnections checks that Close returns while clients are connected.
func TestCloseWithOpenConnections(t *testing.T) {
	srv, _ := New(backends.ProtoHTTP)
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, addr.String())
	c.Write([]byte("GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"))
	readN(t, c, len(okPlain))
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after Close")
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// offLoopConns is how many connections srv serves off its event loops.
func offLoopConns(srv *Server) int {
	srv.off.mu.Lock()
	defer srv.off.mu.Unlock()
	return len(srv.off.conns)
}

// TestOffLoopAndBack checks that a connection whose client stops reading
// leaves the event loop and, once the client has read everything, comes
// back to it and is still served.
func TestOffLoopAndBack(t *testing.T) {
	bs, _ := New(backends.ProtoHTTP)
	srv := bs.(*Server)
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := dial(t, addr.String())
	get := "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
	batch := []byte(strings.Repeat(get, 1000))
	// Send requests without reading until the server has moved the
	// connection off its loop. Each write may block once the buffers are
	// full, so each has a short deadline and what it left unsent goes
	// first in the next; the minute is a hang guard, not a speed limit.
	hang := time.Now().Add(time.Minute)
	sent := 0
	var pending []byte
	for offLoopConns(srv) == 0 {
		if time.Now().After(hang) {
			t.Fatalf("the connection never left the loop after %d bytes of requests not read", sent)
		}
		if len(pending) == 0 {
			pending = batch
		}
		c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		k, err := c.Write(pending)
		sent += k
		pending = pending[k:]
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal(err)
		}
	}
	c.SetDeadline(time.Now().Add(time.Minute))
	if rest := sent % len(get); rest > 0 {
		go c.Write([]byte(get[rest:]))
		sent += len(get) - rest
	}
	if offLoopConns(srv) != 1 {
		t.Fatalf("%d connections off the loop while the client does not read, want 1", offLoopConns(srv))
	}
	if got := norm(readN(t, c, sent/len(get)*len(okPlain))); got != strings.Repeat(okPlain, sent/len(get)) {
		t.Fatal("answers differ")
	}
	for offLoopConns(srv) != 0 {
		if time.Now().After(hang) {
			t.Fatal("the connection did not come back to the loop")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Write([]byte(get))
	if got := norm(readN(t, c, len(okPlain))); got != okPlain {
		t.Fatalf("after coming back: %q", got)
	}
}

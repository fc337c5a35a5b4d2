package threads

import (
	"bytes"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/backends"
)

func startEcho(t *testing.T) (backends.Server, string) {
	t.Helper()
	srv, err := New(backends.ProtoEcho)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, addr.String()
}

// threadCount reads this process's thread count from /proc.
func threadCount(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc")
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatal("no Threads line")
	return 0
}

// TestThreadPerConnection checks that open connections hold one OS thread
// each and that the threads end with their connections.
func TestThreadPerConnection(t *testing.T) {
	srv, addr := startEcho(t)
	const n = 50
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
		// One round trip makes sure the server thread exists.
		if _, err := c.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil || b[0] != byte(i) {
			t.Fatalf("conn %d echoed %v, %v", i, b, err)
		}
	}
	// Each connection's thread is blocked in read(2) and locked to its
	// goroutine: the process must hold at least one thread per connection
	// plus the accept thread, whatever threads the runtime kept idle before.
	during := threadCount(t)
	if during < n+1 {
		t.Fatalf("%d threads with %d open connections, want at least %d", during, n, n+1)
	}
	for _, c := range conns {
		c.Close()
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	// Their goroutines exit locked, so the runtime ends those threads, just
	// after Close has seen them finish. The minute bounds a hang only.
	deadline := time.Now().Add(time.Minute)
	after := threadCount(t)
	for after > during-n+10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		after = threadCount(t)
	}
	if after > during-n+10 {
		t.Fatalf("%d threads a minute after Close, %d before: the connection threads did not end", after, during)
	}
}

// TestEchoHalfClose sends a large stream, shuts down its write side and
// expects every byte back before EOF.
func TestEchoHalfClose(t *testing.T) {
	_, addr := startEcho(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB
	go func() {
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes (equal %v), err %v; want %d", len(got), bytes.Equal(got, data), err, len(data))
	}
}

func TestCloseWithOpenConns(t *testing.T) {
	srv, addr := startEcho(t)
	var conns []net.Conn
	for range 5 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	c := conns[0]
	c.Write([]byte("x"))
	io.ReadFull(c, make([]byte, 1))
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	for i, c := range conns {
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("conn %d still open after Close (read %d)", i, n)
		}
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("listener still accepts after Close")
	}
}

func TestListenErrors(t *testing.T) {
	srv, _ := New(backends.ProtoEcho)
	if _, err := srv.Listen("example.com:80"); err == nil {
		t.Fatal("host name accepted")
	}
	_, addr := startEcho(t)
	srv2, _ := New(backends.ProtoEcho)
	if _, err := srv2.Listen(addr); err == nil {
		t.Fatal("second listener on a bound port accepted")
	}
}

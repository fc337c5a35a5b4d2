package threads

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/backends"
)

// sleepingThreads counts this process's threads blocked in nanosleep(2)
// (wchan hrtimer_nanosleep). The runtime's sysmon thread may be one.
func sleepingThreads(t *testing.T) int {
	tasks, err := filepath.Glob("/proc/self/task/*/wchan")
	if err != nil || len(tasks) == 0 {
		t.Skip("no /proc/self/task/*/wchan")
	}
	n := 0
	for _, p := range tasks {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), "nanosleep") {
			n++
		}
	}
	return n
}

// TestDelayBlocksThread checks that /delay blocks the connection's OS
// thread in a system call rather than parking a goroutine: with n waits in
// flight, at least n threads sleep in nanosleep(2) (one of them may be the
// runtime's sysmon, so at least n-1 are the connections').
func TestDelayBlocksThread(t *testing.T) {
	srv, err := New(backends.ProtoHTTP)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const n = 8
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(c, "GET /delay?us=3000000 HTTP/1.1\r\nHost: x\r\n\r\n")
		conns[i] = c
	}
	got := 0
	for deadline := time.Now().Add(2500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = max(got, sleepingThreads(t)); got >= n {
			break
		}
	}
	if got < n {
		t.Fatalf("at most %d threads in nanosleep with %d /delay requests waiting, want at least %d", got, n, n)
	}
	for i, c := range conns {
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != "HTTP/1.1 200 OK\r\n" {
			t.Fatalf("conn %d: %q, %v", i, line, err)
		}
	}
}

// TestHTTPManyConns holds many connections, each with a /delay in flight
// on its own thread, and checks every one is answered and the process
// holds a thread per connection meanwhile. (The race detector allows 8128
// live goroutines, so this stays well below the 19,000 the backend is
// built for; cmd/server and loadgen check that scale, see README.md.)
func TestHTTPManyConns(t *testing.T) {
	srv, err := New(backends.ProtoHTTP)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const n = 1000
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.DialTimeout("tcp", addr.String(), 10*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		io.WriteString(c, "GET /delay?us=1000000 HTTP/1.1\r\nHost: x\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
		conns[i] = c
	}
	// A dial returns once the kernel has queued the connection; the
	// server accepts it and starts its thread a little later.
	got := threadCount(t)
	for deadline := time.Now().Add(20 * time.Second); got < n && time.Now().Before(deadline); got = threadCount(t) {
		time.Sleep(10 * time.Millisecond)
	}
	if got < n {
		t.Errorf("%d threads with %d connections open", got, n)
	}
	for i, c := range conns {
		br := bufio.NewReader(c)
		for j := range 2 {
			line, err := br.ReadString('\n')
			if err != nil || line != "HTTP/1.1 200 OK\r\n" {
				t.Fatalf("conn %d answer %d: %q, %v", i, j, line, err)
			}
			for line != "\r\n" {
				if line, err = br.ReadString('\n'); err != nil {
					t.Fatalf("conn %d answer %d: %v", i, j, err)
				}
			}
			if _, err := br.Discard(len(backends.PlaintextBody)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestCloseInterruptsDelay checks that Close does not wait out a /delay in
// flight: it interrupts the thread's nanosleep. The hang guard is far
// below the 10 s wait.
func TestCloseInterruptsDelay(t *testing.T) {
	srv, err := New(backends.ProtoHTTP)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /delay?us=10000000 HTTP/1.1\r\nHost: x\r\n\r\n")
	for deadline := time.Now().Add(5 * time.Second); sleepingThreads(t) == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond) // until the thread sleeps, at best
	}
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for the 10 s /delay")
	}
}

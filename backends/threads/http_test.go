package threads

import (
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
// runtime's sysmon, so at least n-1 are the connections'). The waits are
// the longest a request may ask for (10 s), so that all n overlap however
// slowly a loaded machine starts them; Close then cuts them short.
func TestDelayBlocksThread(t *testing.T) {
	srv, err := New(backends.ProtoHTTP)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		io.WriteString(c, "GET /delay?us=10000000 HTTP/1.1\r\nHost: x\r\n\r\n")
		conns[i] = c
	}
	// Until the last wait has begun; the first ends 10 s after it began,
	// so 9 s after the last send is still within every wait.
	got := 0
	for deadline := time.Now().Add(9 * time.Second); got < n && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got = max(got, sleepingThreads(t))
	}
	if got < n {
		t.Fatalf("at most %d threads in nanosleep with %d /delay requests waiting, want at least %d", got, n, n)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	for i, c := range conns {
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("conn %d not closed by Close: %v", i, err)
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
	for deadline := time.Now().Add(5 * time.Second); sleepingThreads(t) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) { // the wait would be half over
			t.Fatal("no thread in nanosleep 5 s after the /delay request")
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
		t.Fatal("Close waited for the 10 s /delay")
	}
}

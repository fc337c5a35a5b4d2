package nbio

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	nb "github.com/lesismal/nbio"

	"github.com/asyncbench/asyncbench/backends"
)

func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Mode
		ok   bool
	}{
		{"nonblocking", NonBlocking, true},
		{"blocking", Blocking, true},
		{"mixed", Mixed, true},
		{"", "", false},
		{"NonBlocking", "", false},
		{"async", "", false},
	} {
		got, err := ParseMode(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseMode(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	if _, err := NewConfig(backends.ProtoHTTP, Config{Mode: "async"}); err == nil {
		t.Error("NewConfig accepted mode async")
	}
	if _, err := New("udp"); err == nil {
		t.Error("New accepted protocol udp")
	}
}

// TestListenClose: Close right after Listen returns (nbio loses a Stop
// that comes before a poller has started; Listen waits for them).
func TestListenClose(t *testing.T) {
	for range 50 {
		s, err := NewConfig(backends.ProtoHTTP, Config{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Listen("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPollerFD: the descriptor read from nbio's unexported fields is an
// epoll instance.
func TestPollerFD(t *testing.T) {
	eng, err := startEngine(1, func(c *nb.Conn, _ []byte) { signalProbe(c) })
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c, err := eng.AddConn(sc)
	if err != nil {
		t.Fatal(err)
	}
	epfd, err := pollerFD(c)
	if err != nil {
		t.Fatal(err)
	}
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(epfd))
	if err != nil || link != "anon_inode:[eventpoll]" {
		t.Fatalf("fd %d links to %q (%v), want anon_inode:[eventpoll]", epfd, link, err)
	}
}

// TestOffPollerAndBack: a slow request moves its connection off the
// poller; once answered, the connection comes back and is served there.
func TestOffPollerAndBack(t *testing.T) {
	s, err := NewConfig(backends.ProtoHTTP, Config{})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	get := func(target string) {
		t.Helper()
		io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != backends.PlaintextBody {
			t.Fatalf("%s: %d %q", target, resp.StatusCode, body)
		}
	}
	get("/plaintext")
	if n := s.left.Load(); n != 0 {
		t.Fatalf("%d moves off the poller after /plaintext, want 0", n)
	}
	get("/delay?us=1000")
	if n := s.left.Load(); n != 1 {
		t.Fatalf("%d moves off the poller after /delay, want 1", n)
	}
	// The answer is written before the connection is handed back.
	for deadline := time.Now().Add(10 * time.Second); s.enrolled.Load() < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("enrolled %d times, want 2 (accept, return)", s.enrolled.Load())
		}
		time.Sleep(time.Millisecond)
	}
	get("/plaintext")
	if n := s.left.Load(); n != 1 {
		t.Fatalf("%d moves off the poller, want still 1", n)
	}
}

// TestProbeEveryPoller: the probes reach every poller within 2 per poller
// whatever the residue of the next free descriptor (held descriptors
// shift it), for 1 to 4 pollers; descriptors allocated lowest first would
// otherwise put every probe on one poller.
func TestProbeEveryPoller(t *testing.T) {
	for npoller := 1; npoller <= 4; npoller++ {
		for shift := range 5 {
			var held []*os.File
			for range shift {
				f, err := os.Open(os.DevNull)
				if err != nil {
					t.Fatal(err)
				}
				held = append(held, f)
			}
			setup.Do(setupNbio)
			eng := nb.NewEngine(nb.Config{Name: "probe-test", NPoller: npoller})
			eng.OnData(func(c *nb.Conn, _ []byte) { signalProbe(c) })
			if err := eng.Start(); err != nil {
				t.Fatal(err)
			}
			probes, err := probePollers(eng, npoller)
			for _, f := range held {
				f.Close()
			}
			if err != nil || probes > 2*npoller {
				t.Fatalf("%d pollers, %d descriptors held: %d probes, %v; want every poller within %d", npoller, shift, probes, err, 2*npoller)
			}
			eng.Stop()
		}
	}
}

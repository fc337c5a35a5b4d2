package netpoll

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/backends"
)

const get = "GET /plaintext HTTP/1.1\r\nHost: test\r\n\r\n"

func listen(t *testing.T, proto backends.Proto) (*Server, string) {
	t.Helper()
	b, err := New(proto)
	if err != nil {
		t.Fatal(err)
	}
	s := b.(*Server)
	addr, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, addr.String()
}

// offStates returns the states of the connections served off netpoll.
func offStates(s *Server) []state {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st []state
	for c := range s.offs {
		c.mu.Lock()
		st = append(st, c.state)
		c.mu.Unlock()
	}
	return st
}

// TestHandedOffWhenClientStopsReading pipelines GETs without reading until
// the server stops taking them: the connection must then be off netpoll
// and handed (netpoll reads it no more), and every request is answered.
func TestHandedOffWhenClientStopsReading(t *testing.T) {
	s, addr := listen(t, backends.ProtoHTTP)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	batch := []byte(strings.Repeat(get, 1024))
	sent := 0
	c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	for sent < 512<<20 {
		k, err := c.Write(batch)
		sent += k
		if err != nil {
			break
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for st := offStates(s); len(st) != 1 || st[0] != handed; st = offStates(s) {
		if time.Now().After(deadline) {
			t.Fatalf("off-netpoll states %v after the client stopped reading; want one handed", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(c); got <- b }()
	if rest := sent % len(get); rest > 0 {
		if _, err := io.WriteString(c, get[rest:]); err != nil {
			t.Fatal(err)
		}
		sent += len(get) - rest
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	b := <-got
	if n, want := bytes.Count(b, []byte("HTTP/1.1 200 OK\r\n")), sent/len(get); n != want {
		t.Fatalf("%d answers to %d requests", n, want)
	}
}

// TestEchoStaysOnNetpoll: a client that reads its echo keeps its
// connection on netpoll.
func TestEchoStaysOnNetpoll(t *testing.T) {
	s, addr := listen(t, backends.ProtoEcho)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 5)
	for i := range 100 {
		msg := []byte{'e', 'c', 'h', 'o', byte('0' + i%10)}
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil || !bytes.Equal(buf, msg) {
			t.Fatalf("round %d: got %q, %v", i, buf, err)
		}
	}
	if st := offStates(s); len(st) != 0 {
		t.Fatalf("off-netpoll states %v; want none", st)
	}
}

// TestPeerClosed reads the TCP state of a server socket before and after
// its client shuts the write side.
func TestPeerClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	raw, err := sc.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	closed := func() (b bool) {
		raw.Control(func(fd uintptr) { b = peerClosed(int(fd)) })
		return b
	}
	if closed() {
		t.Fatal("peerClosed before the client's FIN")
	}
	cl.(*net.TCPConn).CloseWrite()
	deadline := time.Now().Add(10 * time.Second)
	for !closed() {
		if time.Now().After(deadline) {
			t.Fatal("peerClosed false 10 s after the client's FIN")
		}
		time.Sleep(time.Millisecond)
	}
}

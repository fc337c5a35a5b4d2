package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/internal/rtmetrics"
)

// syncBuffer is a bytes.Buffer safe to write from run's goroutine while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startRun runs run in the background and waits for its listening line.
func startRun(t *testing.T, args ...string) (addr string, cancel func() error) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, pw, &stderr)
		pw.Close()
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		stop()
		t.Fatalf("no listening line: %v (run: %v, stderr %q)", err, <-done, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	addr, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "listening on ")
	if !ok {
		t.Fatalf("first line %q, want \"listening on HOST:PORT\"", line)
	}
	return addr, func() error {
		stop()
		select {
		case err := <-done:
			return err
		case <-time.After(2 * time.Second):
			return errors.New("run did not return within 2s of cancel")
		}
	}
}

func TestRunListensAndStops(t *testing.T) {
	for _, tc := range []struct{ backend, proto, req, wantPrefix string }{
		{"stdlib", "http", "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n"},
		{"stdlib", "echo", "ping", "ping"},
		{"fasthttp", "http", "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n"},
		{"gnet", "echo", "pong", "pong"},
		{"gnet-pool", "http", "GET /delay?us=10 HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n"},
		{"gnet-pool", "echo", "pong", "pong"},
		{"threads", "http", "GET /cpu?us=10 HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n"},
		{"threads", "echo", "pong", "pong"},
	} {
		t.Run(tc.backend+"/"+tc.proto, func(t *testing.T) {
			addr, cancel := startRun(t, "-backend", tc.backend, "-proto", tc.proto, "-addr", "127.0.0.1:0")
			host, port, err := net.SplitHostPort(addr)
			if err != nil || host != "127.0.0.1" || port == "0" {
				t.Fatalf("address %q: want 127.0.0.1 and a real port (%v)", addr, err)
			}
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, tc.req)
			got := make([]byte, len(tc.wantPrefix))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != tc.wantPrefix {
				t.Fatalf("reply %q (%v), want prefix %q", got, err, tc.wantPrefix)
			}
			if err := cancel(); err != nil {
				t.Fatalf("run after cancel: %v", err)
			}
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Fatal("still accepting after stop")
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name    string
		args    []string
		code    int
		message string
		usage   bool // run prints the usage to stderr
	}{
		{"bad flag", []string{"-bogus"}, 2, "flag provided but not defined: -bogus", false},
		{"bad proto", []string{"-proto", "tcp"}, 2, `-proto: unknown protocol "tcp" (valid: echo, http)`, false},
		{"extra argument", []string{"-addr", "127.0.0.1:0", "more"}, 2, `unexpected argument "more"`, false},
		{"unknown backend", []string{"-backend", "nginx", "-addr", "127.0.0.1:0"}, 1, `unknown backend "nginx" (valid: cepoll, cthreads, fasthttp, gnet, gnet-pool, stdlib, threads)`, false},
		{"unsupported proto", []string{"-backend", "fasthttp", "-proto", "echo", "-addr", "127.0.0.1:0"}, 1, "fasthttp: echo: not supported (fasthttp serves http)", false},
		{"negative handicap", []string{"-handicap-cpu-us", "-1"}, 2, "-handicap-cpu-us -1: want 0 to 10000000", false},
		{"busy port", []string{"-addr", busy.Addr().String()}, 1, "address already in use", false},
		{"help", []string{"-h"}, 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := run(ctx, tt.args, &stdout, &stderr)
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
			if hasUsage := strings.Contains(stderr.String(), "-backend"); hasUsage != tt.usage || !tt.usage && stderr.Len() != 0 {
				t.Errorf("stderr %q, want usage: %v", stderr.String(), tt.usage)
			}
			var report bytes.Buffer
			if code := exitCode(err, &report); code != tt.code {
				t.Fatalf("exit code %d, want %d (err %v)", code, tt.code, err)
			}
			msg := report.String()
			if tt.message == "" {
				if msg != "" {
					t.Fatalf("reported %q, want nothing", msg)
				}
				return
			}
			if strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "server: ") || !strings.Contains(msg, tt.message) {
				t.Fatalf("reported %q, want one line containing %q", msg, tt.message)
			}
		})
	}
}

// TestBinarySIGTERM builds the command, starts it, and checks SIGTERM stops
// it with status 0 within 2 s.
func TestBinarySIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "server")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, backend := range []string{"stdlib", "gnet", "gnet-pool", "fasthttp", "threads"} {
		t.Run(backend, func(t *testing.T) {
			cmd := exec.Command(bin, "-backend", backend, "-proto", "http", "-addr", "127.0.0.1:0")
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			br := bufio.NewReader(stdout)
			line, err := br.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "listening on 127.0.0.1:") {
				t.Fatalf("first line %q (%v), stderr %q", line, err, stderr.String())
			}
			start := time.Now()
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			// Wait closes stdout, so it runs after the read; both run here
			// so that a server that does not stop fails the test in time.
			var rest []byte
			waited := make(chan error, 1)
			go func() {
				rest, _ = io.ReadAll(br)
				waited <- cmd.Wait()
			}()
			select {
			case err := <-waited:
				if err != nil {
					t.Fatalf("exit: %v, stderr %q", err, stderr.String())
				}
			case <-time.After(2 * time.Second):
				t.Fatal("still running 2s after SIGTERM")
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("stopped after %v, want under 2s", took)
			}
			if len(rest) != 0 || stderr.Len() != 0 {
				t.Fatalf("more output after the listening line: stdout %q, stderr %q", rest, stderr.String())
			}
		})
	}
}

// processCPU returns the CPU time (user + system) this process has used;
// run serves in this process.
func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestHandicap checks -handicap-cpu-us on every backend and protocol: n
// requests (or echo reads, one per round trip) add at least n times the
// handicap to the server's CPU time. Only that lower bound is checked.
func TestHandicap(t *testing.T) {
	const n, us = 20, 2000
	for _, tc := range []struct{ backend, proto, req, wantPrefix string }{
		{"stdlib", "http", "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n"},
		{"stdlib", "echo", "ping", "ping"},
		{"fasthttp", "http", "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n"},
		{"gnet", "http", "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n"},
		{"gnet", "echo", "ping", "ping"},
		{"gnet-pool", "http", "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n"},
		{"gnet-pool", "echo", "ping", "ping"},
		{"threads", "http", "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n"},
		{"threads", "echo", "ping", "ping"},
	} {
		t.Run(tc.backend+"/"+tc.proto, func(t *testing.T) {
			addr, cancel := startRun(t, "-backend", tc.backend, "-proto", tc.proto, "-addr", "127.0.0.1:0", "-handicap-cpu-us", strconv.Itoa(us))
			defer cancel()
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			br := bufio.NewReader(c)
			before := processCPU(t)
			for i := range n {
				io.WriteString(c, tc.req)
				got := make([]byte, len(tc.wantPrefix))
				if _, err := io.ReadFull(br, got); err != nil || string(got) != tc.wantPrefix {
					t.Fatalf("round %d: %q (%v), want prefix %q", i, got, err, tc.wantPrefix)
				}
				if tc.proto == "http" {
					// Skip the rest of the /plaintext answer.
					if _, err := br.Discard(len(okPlaintextRest)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if used, want := processCPU(t)-before, time.Duration(n*us)*time.Microsecond; used < want {
				t.Fatalf("%d round trips used %v of CPU, want at least %v", n, used, want)
			}
		})
	}
}

// okPlaintextRest is what follows the status line of a /plaintext answer.
var okPlaintextRest = "Content-Type: text/plain\r\nContent-Length: 13\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\nHello, World!"

// TestRuntimeMetricsWindow marks a window on the server's socket, as
// loadgen -mark-socket does, around some requests and a forced GC.
func TestRuntimeMetricsWindow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.sock")
	addr, cancel := startRun(t, "-backend", "stdlib", "-proto", "http", "-addr", "127.0.0.1:0", "-runtime-metrics", path)
	mc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	rd := bufio.NewReader(mc)
	mark := func(cmd string) []byte {
		t.Helper()
		if _, err := io.WriteString(mc, cmd+"\n"); err != nil {
			t.Fatal(err)
		}
		line, err := rd.ReadBytes('\n')
		if err != nil {
			t.Fatal(err)
		}
		return line
	}
	mark(rtmetrics.CmdOpen)
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(c, "GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		_, _ = io.Copy(io.Discard, c)
		c.Close()
	}
	runtime.GC()
	w, err := rtmetrics.Parse(mark(rtmetrics.CmdClose))
	if err != nil {
		t.Fatal(err)
	}
	if w.GCCycles < 1 || w.GCPauses < 1 || w.SchedSamples < 1 {
		t.Fatalf("window with requests and a forced GC: %+v", w)
	}
	if err := cancel(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
}

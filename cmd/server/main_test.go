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
	"syscall"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/internal/cli"
	"github.com/asyncbench/asyncbench/internal/rtmetrics"
)

// startRun runs run in the background and waits for its listening line.
func startRun(t *testing.T, args ...string) (addr string, cancel func() error) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, pw)
		pw.Close()
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		stop()
		t.Fatalf("no listening line: %v (run: %v)", err, <-done)
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
		case <-time.After(time.Minute): // a hang, not a speed limit
			return errors.New("run did not return within a minute of cancel")
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
		{"nbio", "http", "GET /delay?us=10 HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n"},
		{"nbio", "echo", "pong", "pong"},
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
		message string // the one line on stderr, after "server: "
	}{
		{"bad flag", []string{"-bogus"}, 2, "flag provided but not defined: -bogus (see server -h)"},
		{"bad value", []string{"-handicap-cpu-us", "x"}, 2, `invalid value "x" for flag -handicap-cpu-us: parse error (see server -h)`},
		{"bad proto", []string{"-proto", "tcp"}, 2, `-proto: unknown protocol "tcp" (valid: echo, http) (see server -h)`},
		{"extra argument", []string{"-addr", "127.0.0.1:0", "more"}, 2, `unexpected argument "more" (see server -h)`},
		{"unknown backend", []string{"-backend", "nginx", "-addr", "127.0.0.1:0"}, 1, `unknown backend "nginx" (valid: cepoll, cthreads, fasthttp, gnet, gnet-pool, nbio, netpoll, stdlib, threads)`},
		{"unsupported proto", []string{"-backend", "fasthttp", "-proto", "echo", "-addr", "127.0.0.1:0"}, 1, "fasthttp: echo: not supported (fasthttp serves http)"},
		{"negative handicap", []string{"-handicap-cpu-us", "-1"}, 2, "-handicap-cpu-us -1: want 0 to 10000000 (see server -h)"},
		{"delay without share", []string{"-handicap-delay-us", "2000"}, 2, "-handicap-delay-us and -handicap-delay-every go together, both positive (got 2000 and 0) (see server -h)"},
		{"share without delay", []string{"-handicap-delay-every", "50"}, 2, "-handicap-delay-us and -handicap-delay-every go together, both positive (got 0 and 50) (see server -h)"},
		{"nbio mode without nbio", []string{"-backend", "gnet", "-nbio-mode", "mixed"}, 2, "-nbio-mode applies only to -backend nbio (got -backend gnet) (see server -h)"},
		{"bad nbio mode", []string{"-backend", "nbio", "-nbio-mode", "async"}, 2, `-nbio-mode: unknown nbio mode "async" (valid: nonblocking, blocking, mixed) (see server -h)`},
		{"busy port", []string{"-addr", busy.Addr().String()}, 1, "address already in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := run(ctx, tt.args, &stdout)
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
			if code := cli.Exit(&stderr, "server", err); code != tt.code {
				t.Fatalf("exit code %d, want %d (err %v)", code, tt.code, err)
			}
			msg := stderr.String()
			if strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "server: ") || !strings.Contains(msg, tt.message) {
				t.Fatalf("stderr %q, want one line containing %q", msg, tt.message)
			}
		})
	}
}

// TestHelp: -h and -help print the complete usage, every flag included, on
// stdout and exit 0 with nothing on stderr.
func TestHelp(t *testing.T) {
	for _, h := range []string{"-h", "-help", "--help"} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"-addr", "127.0.0.1:0", h}, &stdout)
		if code := cli.Exit(&stderr, "server", err); code != cli.ExitOK || stderr.Len() != 0 {
			t.Fatalf("%s: exit %d, stderr %q", h, code, stderr.String())
		}
		checkUsage(t, stdout.String())
	}
}

// checkUsage fails t unless out is server's complete usage.
func checkUsage(t *testing.T, out string) {
	t.Helper()
	if !strings.HasPrefix(out, "usage: server ") {
		t.Fatalf("usage does not start with its synopsis:\n%s", out)
	}
	for _, want := range []string{"-backend", "-proto", "-addr", "-handicap-cpu-us", "fasthttp, gnet", "listening on HOST:PORT", "Exit status"} {
		if !strings.Contains(out, want) {
			t.Fatalf("usage lacks %q:\n%s", want, out)
		}
	}
}

// TestBinarySIGTERM builds the command, checks its -h and unknown-flag
// output and exit status, then starts it and checks SIGTERM stops it with
// status 0.
func TestBinarySIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "server")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Run("help", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, "-h")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil || stderr.Len() != 0 {
			t.Fatalf("exit %v, stderr %q", err, stderr.String())
		}
		checkUsage(t, stdout.String())
	})
	t.Run("unknown flag", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, "-bogus")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != cli.ExitUsage || stdout.Len() != 0 {
			t.Fatalf("exit %d (%v), stdout %q", code, err, stdout.String())
		}
		if want := "server: flag provided but not defined: -bogus (see server -h)\n"; stderr.String() != want {
			t.Fatalf("stderr %q, want %q", stderr.String(), want)
		}
	})
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
			case <-time.After(time.Minute): // a hang, not a speed limit
				t.Fatal("still running a minute after SIGTERM")
			}
			t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
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
		{"nbio", "http", "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n"},
		{"nbio", "echo", "ping", "ping"},
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

// TestDelayHandicap checks -handicap-delay-us with -handicap-delay-every:
// of n sequential requests on one connection every 4th takes at least the
// delay (counted from the first). Only that lower bound is checked.
func TestDelayHandicap(t *testing.T) {
	const every, delay, n = 4, 30 * time.Millisecond, 12
	addr, cancel := startRun(t, "-backend", "stdlib", "-proto", "http", "-addr", "127.0.0.1:0",
		"-handicap-delay-us", strconv.Itoa(int(delay/time.Microsecond)), "-handicap-delay-every", strconv.Itoa(every))
	defer cancel()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	for i := 1; i <= n; i++ {
		start := time.Now()
		io.WriteString(c, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
		got := make([]byte, len("HTTP/1.1 200 OK\r\n")+len(okPlaintextRest))
		if _, err := io.ReadFull(br, got); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if took := time.Since(start); i%every == 0 && took < delay {
			t.Errorf("request %d took %v, want at least the delay %v", i, took, delay)
		}
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

// TestNbioMode: -nbio-mode reaches nbio; every mode serves.
func TestNbioMode(t *testing.T) {
	for _, mode := range []string{"nonblocking", "blocking", "mixed"} {
		t.Run(mode, func(t *testing.T) {
			addr, cancel := startRun(t, "-backend", "nbio", "-nbio-mode", mode, "-proto", "http", "-addr", "127.0.0.1:0")
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
			const want = "HTTP/1.1 200 OK\r\n"
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
				t.Fatalf("reply %q (%v), want prefix %q", got, err, want)
			}
			if err := cancel(); err != nil {
				t.Fatalf("run after cancel: %v", err)
			}
		})
	}
}

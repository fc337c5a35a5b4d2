package conformance

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/backends"
)

// TestProgramCommandLine checks the command line of every catalog program,
// which the runner relies on (backends.Info.Program):
// PROGRAM -proto http|echo -addr HOST:PORT [-handicap-cpu-us N]
// [-handicap-delay-us D -handicap-delay-every N]; -h prints
// the usage on stdout; a bad command line is one line on stderr and exit
// status 2; a bind failure, one line and exit status 1; SIGINT, like
// SIGTERM, exit status 0.
func TestProgramCommandLine(t *testing.T) {
	for _, b := range backends.Catalog {
		if !b.External() {
			continue
		}
		t.Run(b.Name, func(t *testing.T) {
			path, skip, err := programPath(b.Program)
			switch {
			case skip != "":
				t.Skip(skip)
			case err != nil:
				t.Fatal(err)
			}
			t.Run("help", func(t *testing.T) {
				stdout, stderr, code := runProgram(t, path, "-h")
				if code != 0 || !strings.HasPrefix(stdout, "usage: "+b.Program+" -proto http|echo -addr HOST:PORT") || stderr != "" {
					t.Fatalf("-h: exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", code, stdout, stderr)
				}
			})
			for _, args := range [][]string{
				{"-bogus"}, {"-proto", "udp"}, {"-proto"}, {"-handicap-cpu-us", "-1"},
				{"-handicap-cpu-us", "10000001"}, {"-handicap-cpu-us", "1ms"}, {"-addr", "nohost"},
				{"-addr", "example.com:80"}, {"-addr", "127.0.0.1:65536"}, {"stray"},
				{"-handicap-delay-us", "1000"}, {"-handicap-delay-every", "50"},
				{"-handicap-delay-us", "1000", "-handicap-delay-every", "-1"},
			} {
				t.Run("usage"+strings.Join(args, "_"), func(t *testing.T) {
					stdout, stderr, code := runProgram(t, path, args...)
					if code != 2 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "run with -h for usage\n") {
						t.Fatalf("%q: exit %d, stdout %q, stderr %q; want 2 and one line ending in the hint", args, code, stdout, stderr)
					}
				})
			}
			t.Run("bind_failure", func(t *testing.T) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				_, stderr, code := runProgram(t, path, "-addr", ln.Addr().String())
				if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, ln.Addr().String()) {
					t.Fatalf("exit %d, stderr %q; want 1 and one line naming the address", code, stderr)
				}
			})
			t.Run("delay_handicap", func(t *testing.T) { testProgramDelay(t, b.Program, path) })
			t.Run("sigint", func(t *testing.T) {
				p := &program{name: b.Program, argv: []string{path}, addrArg: true, exit0: true}
				if _, err := p.Listen("127.0.0.1:0"); err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				p.cmd.Process.Signal(os.Interrupt)
				select {
				case <-p.exited:
				case <-time.After(closeTimeout):
					t.Fatalf("no exit within %v of SIGINT", closeTimeout)
				}
				if p.waitErr != nil {
					t.Fatalf("at SIGINT: %v; want exit status 0", p.waitErr)
				}
			})
			t.Run("ipv6", func(t *testing.T) {
				if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
					t.Skipf("no IPv6 loopback: %v", err)
				} else {
					ln.Close()
				}
				p := &program{name: b.Program, argv: []string{path}, addrArg: true, exit0: true}
				addr, err := p.Listen("[::1]:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { closeWithin(t, p) })
				if !strings.HasPrefix(addr.String(), "[::1]:") {
					t.Fatalf("listening on %s, want [::1]:PORT", addr)
				}
				_, r := exchange(t, addr.String(), reqPlaintext)
				checkResponse(t, r, wantPlaintext)
			})
			for _, proto := range []backends.Proto{backends.ProtoHTTP, backends.ProtoEcho} {
				t.Run("handicap_"+string(proto), func(t *testing.T) { testHandicap(t, b.Program, path, proto) })
			}
		})
	}
}

// testHandicap checks that -handicap-cpu-us makes one HTTP request, or
// one echo read, cost that much of the program's CPU time.
func testHandicap(t *testing.T, name, path string, proto backends.Proto) {
	const d = 50 * time.Millisecond
	p := &program{name: name, argv: []string{path, "-proto", string(proto), "-handicap-cpu-us", "50000"}, addrArg: true, exit0: true}
	addr, err := p.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeWithin(t, p) })
	c := dial(t, addr.String())
	before, err := p.cpuTime()
	if err != nil {
		t.Fatal(err)
	}
	if proto == backends.ProtoHTTP {
		c.send(reqPlaintext)
		checkResponse(t, c.read(), wantPlaintext)
	} else {
		c.send("x")
		if got := readN(t, c, 1); got != "x" {
			t.Fatalf("echo got %q", got)
		}
	}
	after, err := p.cpuTime()
	if err != nil {
		t.Fatal(err)
	}
	if used := after - before; used < d-procCPUSlack {
		t.Fatalf("one %s exchange used %v of CPU with a %v handicap, want at least %v", proto, used, d, d-procCPUSlack)
	}
}

// runProgram runs a program that is expected to exit at once and returns
// its output and exit status.
func runProgram(t *testing.T, path string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &out, &errOut, io.LimitReader(nil, 0)
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		code = ee.ExitCode()
	default:
		t.Fatalf("%s %q: %v (it should exit at once)", path, args, err)
	}
	return out.String(), errOut.String(), code
}

// testProgramDelay checks -handicap-delay-us with -handicap-delay-every on
// a program: of n sequential requests on one connection every 4th takes at
// least the delay (counted from the first). Only that lower bound is
// checked, as for the Go backends (cmd/server's TestDelayHandicap).
func testProgramDelay(t *testing.T, name, path string) {
	const every, delay, n = 4, 30 * time.Millisecond, 12
	p := &program{name: name, addrArg: true, exit0: true, argv: []string{path, "-proto", "http",
		"-handicap-delay-us", strconv.Itoa(int(delay / time.Microsecond)), "-handicap-delay-every", strconv.Itoa(every)}}
	addr, err := p.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.DialTimeout("tcp", addr.String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	for i := 1; i <= n; i++ {
		start := time.Now()
		io.WriteString(c, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if took := time.Since(start); i%every == 0 && took < delay {
			t.Errorf("request %d took %v, want at least the delay %v", i, took, delay)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/internal/cli"
	"github.com/asyncbench/asyncbench/loadgen/summary"
)

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-c", "0", "http://127.0.0.1:1/"},
		{"-bogus", "http://127.0.0.1:1/"},
		{"ftp://127.0.0.1:1/"},
		{"-start-at", "tomorrow", "http://127.0.0.1:1/"},
		{"-source-ips", "127.0.0.x", "http://127.0.0.1:1/"},
		{"-body", "10", "tcp://127.0.0.1:1"},
		{"http://127.0.0.1:0/"},
		{"http://127.0.0.1:65536/"},
		{"http://:8080/"},
		{"-P", "0", "http://127.0.0.1:1/"},
		{"-timeout", "0", "http://127.0.0.1:1/"},
		{"-payload", "0", "tcp://127.0.0.1:1"},
		{"http://127.0.0.1:1/", "http://127.0.0.1:2/"},
		{"-mix", "plaintext:1", "http://127.0.0.1:1/"},
		{"-mix", "/plaintext:0", "http://127.0.0.1:1/"},
		{"-mix", "/plaintext", "http://127.0.0.1:1/"},
		{"-mix", "/a:1,/b:x", "http://127.0.0.1:1/"},
		{"-mix", "/a:1", "tcp://127.0.0.1:1"},
		{"-seed", "-1", "http://127.0.0.1:1/"},
		{"-idle", "http://127.0.0.1:1/"},
		{"-R", "100:", "http://127.0.0.1:1/"},
		{"-R", "0:100", "http://127.0.0.1:1/"},
		{"-R", "100:x", "http://127.0.0.1:1/"},
		{"-R", "100:200", "-d", "0", "-n", "10", "http://127.0.0.1:1/"},
		{"-idle", "-server-pid", "1", "-R", "100", "http://127.0.0.1:1/"},
		{"-idle", "-server-pid", "1", "-P", "1", "http://127.0.0.1:1/"},
		{"-idle", "-server-pid", "1", "-mix", "/a:1", "http://127.0.0.1:1/"},
		{"-churn", "-P", "2", "http://127.0.0.1:1/"},
		{"-churn", "tcp://127.0.0.1:1"},
		{"-churn", "-idle", "-server-pid", "1", "http://127.0.0.1:1/"},
	} {
		err := run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{})
		if cli.Code(err) != cli.ExitUsage || strings.Contains(err.Error(), "\n") || !strings.HasSuffix(err.Error(), " (see loadgen -h)") {
			t.Errorf("%q: err = %v, want a one-line usage error ending with the hint", args, err)
		}
	}
	// The flag named in the message.
	for flagName, args := range map[string][]string{
		"-P":       {"-P", "0", "http://127.0.0.1:1/"},
		"-timeout": {"http://127.0.0.1:1/", "-timeout", "0"},
	} {
		if err := run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), flagName) {
			t.Errorf("%q: err = %v, want it to name %s", args, err, flagName)
		}
	}
}

// TestFlagsAfterURL: flags may follow the URL, as with wrk.
func TestFlagsAfterURL(t *testing.T) {
	for _, args := range [][]string{
		{"http://127.0.0.1:8080/", "-c", "64", "-d", "10s"},
		{"-c", "64", "http://127.0.0.1:8080/", "-d", "10s"},
	} {
		o, err := parseArgs(args, &bytes.Buffer{})
		if err != nil || o.cfg.Conns != 64 || o.cfg.Duration != 10*time.Second || o.cfg.Target != "http://127.0.0.1:8080/" {
			t.Errorf("%q: %+v, %v", args, o.cfg, err)
		}
	}
}

// TestUnwritableOutputsFailFirst: an unwritable -json-out or -hlog fails
// before anything is dialled (the target here does not exist).
func TestUnwritableOutputsFailFirst(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "no", "such", "dir", "out")
	for _, f := range []string{"-json-out", "-hlog"} {
		start := time.Now()
		err := run(context.Background(), []string{f, bad, "-d", "30s", "http://127.0.0.1:1/"}, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), f) || strings.Contains(err.Error(), "connect") {
			t.Errorf("%s: err = %v, want the file named before any dial", f, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: took %v", f, d)
		}
	}
}

// TestHelpIsNotAnError: -h prints the complete usage, every flag
// included, on stdout and exits 0 with nothing on stderr.
func TestHelpIsNotAnError(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"-help"}, {"-c", "2", "http://127.0.0.1:1/", "-h"}} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, &stdout, &stderr)
		if code := cli.Exit(&stderr, "loadgen", err); !errors.Is(err, flag.ErrHelp) || code != cli.ExitOK || stderr.Len() != 0 {
			t.Errorf("%q: err = %v (exit %d), stderr %q; want flag.ErrHelp, exit 0, no stderr", args, err, code, stderr.String())
		}
		out := stdout.String()
		if !strings.HasPrefix(out, usageLine+"\n") || !strings.Contains(out, "Exit status") {
			t.Errorf("%q: usage lacks its synopsis or exit status:\n%s", args, out)
		}
		var o options
		var sources, startAt string
		newFlagSet(&o, &sources, &startAt).VisitAll(func(f *flag.Flag) {
			if !strings.Contains(out, "\n  -"+f.Name+" ") && !strings.Contains(out, "\n  -"+f.Name+"\n") {
				t.Errorf("%q: usage lacks -%s:\n%s", args, f.Name, out)
			}
		})
	}
}

// TestUnknownFlag: an unknown flag is one line on stderr with the hint,
// exit 2, nothing on stdout.
func TestUnknownFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-bogus", "http://127.0.0.1:1/"}, &stdout, &stderr)
	if code := cli.Exit(&stderr, "loadgen", err); code != cli.ExitUsage || stdout.Len() != 0 {
		t.Fatalf("exit %d (%v), stdout %q", code, err, stdout.String())
	}
	if want := "loadgen: flag provided but not defined: -bogus (see loadgen -h)\n"; stderr.String() != want {
		t.Fatalf("stderr %q, want %q", stderr.String(), want)
	}
}

func TestParseRamp(t *testing.T) {
	o, err := parseArgs([]string{"-R", "1000:5000", "-d", "30s", "http://127.0.0.1:1/"}, &bytes.Buffer{})
	if err != nil || o.cfg.Rate != 1000 || o.cfg.RateEnd != 5000 {
		t.Fatalf("%+v, %v", o.cfg, err)
	}
	o, err = parseArgs([]string{"-R", "250.5", "http://127.0.0.1:1/"}, &bytes.Buffer{})
	if err != nil || o.cfg.Rate != 250.5 || o.cfg.RateEnd != 0 {
		t.Fatalf("%+v, %v", o.cfg, err)
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"1700000000":           time.Unix(1700000000, 0),
		"1700000000.5":         time.Unix(1700000000, 5e8),
		"2026-01-02T03:04:05Z": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	} {
		got, err := parseTime(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestJSONAgainstEcho(t *testing.T) {
	addr := serveLocal(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	})
	var out bytes.Buffer
	jsonOut := filepath.Join(t.TempDir(), "sum.json")
	args := []string{"-c", "2", "-n", "500", "-d", "5s", "-warmup", "0", "-json", "-json-out", jsonOut, "tcp://" + addr}
	if err := run(context.Background(), args, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var s summary.Summary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if s.Requests != 500 || s.Workload != "echo" || s.Conns != 2 || s.PayloadBytes != 64 || s.StopReason != "requests" || s.Latency.P50 <= 0 {
		t.Fatalf("summary %+v", s)
	}
	if len(s.ErrorKinds) != 7 {
		t.Fatalf("error kinds %v, want all 7 listed", s.ErrorKinds)
	}
	file, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, out.Bytes()) {
		t.Fatalf("-json-out file differs from stdout:\n%s\n%s", file, out.Bytes())
	}
}

func TestWarnsWhenNothingCompleted(t *testing.T) {
	// Answers every connection with garbage, then closes it.
	addr := serveLocal(t, func(c net.Conn) {
		c.Write([]byte("garbage\r\n\r\n"))
	})
	var stderr bytes.Buffer
	args := []string{"-c", "1", "-d", "300ms", "-warmup", "0", "-json", "http://" + addr + "/"}
	if err := run(context.Background(), args, &bytes.Buffer{}, &stderr); cli.Code(err) != cli.ExitFailed {
		t.Fatalf("err = %v (exit %d), want exit %d", err, cli.Code(err), cli.ExitFailed)
	}
	if !strings.Contains(stderr.String(), "warning: no request completed") {
		t.Fatalf("stderr %q, want a warning", stderr.String())
	}
}

// TestExitStatus: every response a 404 used to exit 0; a hung server with
// a timeout longer than -d used to print no warning.
func TestExitStatus(t *testing.T) {
	var hang atomic.Bool
	addr := serveLocal(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
			if !hang.Load() {
				c.Write([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
			}
		}
	})
	url := "http://" + addr + "/"
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-c", "1", "-d", "300ms", "-warmup", "0", "-json", url}, &bytes.Buffer{}, &stderr)
	if cli.Code(err) != cli.ExitFailed {
		t.Fatalf("all 404: err = %v, want exit %d", err, cli.ExitFailed)
	}
	hang.Store(true)
	stderr.Reset()
	err = run(context.Background(), []string{"-c", "1", "-d", "300ms", "-warmup", "0", "-timeout", "1m", "-json", url}, &bytes.Buffer{}, &stderr)
	if cli.Code(err) != cli.ExitFailed || !strings.Contains(stderr.String(), "warning: no request completed") {
		t.Fatalf("hung: err = %v, stderr %q, want exit %d and a warning", err, stderr.String(), cli.ExitFailed)
	}
}

// TestVerdictExitCodes maps finished runs to exit statuses.
func TestVerdictExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    summary.Summary
		want int
	}{
		{"ok", summary.Summary{Requests: 10, StopReason: summary.StopDuration}, cli.ExitOK},
		{"failed", summary.Summary{Failed: true, StopReason: summary.StopDuration}, cli.ExitFailed},
		{"saturated", summary.Summary{Requests: 10, Saturated: true, StopReason: summary.StopDuration}, cli.ExitSaturated},
		{"failed and saturated", summary.Summary{Failed: true, Saturated: true, StopReason: summary.StopRequests}, cli.ExitFailed},
		{"interrupted", summary.Summary{Requests: 10, StopReason: summary.StopInterrupted}, cli.ExitInterrupted},
	} {
		if got := cli.Code(verdict(tc.s)); got != tc.want {
			t.Errorf("%s: exit %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestJSONMix: a mix run's summary carries mix, seed and one endpoint per
// entry in the order written; the text output carries the table.
func TestJSONMix(t *testing.T) {
	addr := serveLocal(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			for range bytes.Count(buf[:n], []byte("\r\n\r\n")) {
				c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!"))
			}
		}
	})
	url := "http://" + addr + "/plaintext"
	mix := "/plaintext:99,/cpu?us=1000:1"
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-c", "2", "-n", "300", "-d", "5s", "-warmup", "0", "-json", "-mix", mix, "-seed", "42", url}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	eps, _ := raw["endpoints"].([]any)
	if raw["mix"] != mix || raw["seed"] != 42.0 || len(eps) != 2 {
		t.Fatalf("mix %v seed %v endpoints %v", raw["mix"], raw["seed"], raw["endpoints"])
	}
	for i, want := range []string{"/plaintext", "/cpu?us=1000"} {
		e := eps[i].(map[string]any)
		for _, k := range []string{"path", "weight", "requests", "errors", "latency_us"} {
			if _, ok := e[k]; !ok {
				t.Fatalf("endpoint %d lacks %q: %v", i, k, e)
			}
		}
		if e["path"] != want {
			t.Fatalf("endpoint %d path %v, want %s", i, e["path"], want)
		}
	}
	out.Reset()
	if err := run(context.Background(), []string{"-c", "1", "-n", "50", "-d", "5s", "-warmup", "0", "-mix", mix, url}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Mix (seed 1):") || !strings.Contains(out.String(), "/cpu?us=1000") {
		t.Fatalf("text output lacks the mix table:\n%s", out.String())
	}
}

// TestJSONChurn: -churn puts every request on a connection of its own,
// with Connection: close; the JSON says so and counts the dials.
func TestJSONChurn(t *testing.T) {
	var accepts, closeAsked atomic.Int64
	addr := serveLocal(t, func(c net.Conn) {
		accepts.Add(1)
		var got []byte
		buf := make([]byte, 4096)
		for !bytes.Contains(got, []byte("\r\n\r\n")) {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			got = append(got, buf[:n]...)
		}
		if bytes.Contains(got, []byte("\r\nConnection: close\r\n")) {
			closeAsked.Add(1)
		}
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, World!"))
	})
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-churn", "-c", "1", "-n", "100", "-d", "10s", "-warmup", "0", "-json", "http://" + addr + "/plaintext"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if raw["churn"] != true || raw["requests"] != 100.0 || raw["dials"] != 100.0 || raw["dials_per_s"].(float64) <= 0 {
		t.Fatalf("churn %v requests %v dials %v dials_per_s %v", raw["churn"], raw["requests"], raw["dials"], raw["dials_per_s"])
	}
	// The probe, the 100 requests' connections; each asked to close.
	if a, c := accepts.Load(), closeAsked.Load(); c != 100 || a != 101 {
		t.Fatalf("%d connections, %d requests asking to close; want 101 and 100", a, c)
	}
}

// TestIdleExitsZero: an idle run whose one request per connection
// succeeded exits 0 with server_idle filled, though the held window saw
// no requests.
func TestIdleExitsZero(t *testing.T) {
	addr := serveLocal(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			c.Write(buf[:n])
		}
	})
	var out bytes.Buffer
	args := []string{"-idle", "-c", "20", "-d", "200ms", "-json", "-server-pid", strconv.Itoa(os.Getpid()), "tcp://" + addr}
	if err := run(context.Background(), args, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var s summary.Summary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if s.Requests != 20 || s.Failed || s.ServerIdle == nil || s.ServerIdle.RSSKiB <= 0 || s.ServerIdle.Threads < 1 {
		t.Fatalf("summary %+v idle %+v", s, s.ServerIdle)
	}
}

// TestLiveOnlyOnTerminal: no live line with -json, into a pipe, a file or
// a buffer.
func TestLiveOnlyOnTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, stderr := range map[string]io.Writer{"pipe": w, "file": f, "buffer": &bytes.Buffer{}} {
		for _, j := range []bool{false, true} {
			if lw := liveWriter(stderr, j); lw != nil {
				t.Errorf("%s, json %v: live line enabled", name, j)
			}
		}
	}
	// A whole run into a buffer prints nothing on stderr.
	addr := serveLocal(t, func(c net.Conn) {
		io.Copy(c, c)
	})
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"-c", "1", "-d", "1200ms", "-warmup", "0", "tcp://" + addr}, &bytes.Buffer{}, &stderr); err != nil {
		t.Fatal(err)
	}
	if stderr.Len() != 0 {
		t.Fatalf("stderr %q, want nothing", stderr.String())
	}
}

// serveLocal listens on a loopback port until the test ends and serves
// every connection with handle in its own goroutine, closing it after. It
// returns the address.
func serveLocal(t *testing.T, handle func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestErrorList checks the warning's list of error kinds: in the order the
// kinds are reported, only those that occurred.
func TestErrorList(t *testing.T) {
	got := errorList(map[string]uint64{"protocol": 3, "connect": 1, "timeout": 2, "read": 0})
	if want := "connect 1, timeout 2, protocol 3"; got != want {
		t.Fatalf("errorList = %q, want %q", got, want)
	}
	if got := errorList(map[string]uint64{"read": 0}); got != "none" {
		t.Fatalf("errorList with no errors = %q, want none", got)
	}
}

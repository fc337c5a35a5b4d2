package conformance

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/asyncbench/asyncbench/backends"
)

// The slow endpoints: GET /delay?us=N waits, GET /cpu?us=N computes, and
// both then answer exactly like /plaintext. A bad us= gets one 400 with
// BadWorkBody and the connection stays open.

// wantBadWork is the answer to a /delay or /cpu request with a bad us=.
var wantBadWork = want("HTTP/1.1 400 Bad Request", backends.BadWorkBody,
	"Content-Type: text/plain", "Content-Length: 41")

// badWorkQueries are the us= values every backend refuses alike.
var badWorkQueries = map[string]string{
	"missing":      "",
	"empty":        "?us=",
	"negative":     "?us=-1",
	"not_a_number": "?us=abc",
	"too_large":    "?us=10000001",
	"repeated":     "?us=1&us=1",
}

// workCases are the single exchanges of the slow endpoints; they join
// httpCases, so every backend runs them.
func workCases() []exchangeCase {
	cases := []exchangeCase{
		{name: "delay_zero", req: "GET /delay?us=0 HTTP/1.1\r\nHost: test\r\n\r\n", want: []string{wantPlaintext}},
		{name: "cpu_zero", req: "GET /cpu?us=0 HTTP/1.1\r\nHost: test\r\n\r\n", want: []string{wantPlaintext}},
		{name: "delay_other_params", req: "GET /delay?a=1&us=10&b HTTP/1.1\r\nHost: test\r\n\r\n", want: []string{wantPlaintext}},
		{name: "delay_connection_close", req: "GET /delay?us=100 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n" + reqPlaintext, want: []string{wantPlaintextClose}, close: true},
		{name: "cpu_connection_close", req: "GET /cpu?us=100 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", want: []string{wantPlaintextClose}, close: true},
	}
	for _, path := range []string{backends.DelayPath, backends.CPUPath} {
		for name, q := range badWorkQueries {
			cases = append(cases, exchangeCase{
				name: strings.TrimPrefix(path, "/") + "_400_" + name,
				req:  "GET " + path + q + " HTTP/1.1\r\nHost: test\r\n\r\n",
				want: []string{wantBadWork},
			})
		}
	}
	return cases
}

// testWork runs the slow endpoints' checks that are not single exchanges.
func testWork(t *testing.T, addr string) {
	t.Run("delay_waits", func(t *testing.T) {
		// A lower bound only: the reply never comes before the wait ends.
		const d = 20 * time.Millisecond
		c := dial(t, addr)
		sent := time.Now()
		c.send("GET /delay?us=20000 HTTP/1.1\r\nHost: test\r\n\r\n")
		checkResponse(t, c.read(), wantPlaintext)
		if got := time.Since(sent); got < d {
			t.Fatalf("/delay?us=20000 answered after %v, want at least %v", got, d)
		}
		c.expectOpen()
	})
	t.Run("cpu_computes", func(t *testing.T) {
		// The server's process CPU time grows by at least what /cpu asked
		// for, less what the meter may miss (clock ticks in /proc).
		v, ok := cpuMeters.Load(addr)
		if !ok {
			t.Skip("the server's process is not known (a server given by its address)")
		}
		m := v.(cpuMeter)
		d := 20*time.Millisecond + 2*m.slack
		c := dial(t, addr)
		before := readCPU(t, m)
		c.send("GET /cpu?us=" + strconv.FormatInt(d.Microseconds(), 10) + " HTTP/1.1\r\nHost: test\r\n\r\n")
		checkResponse(t, c.read(), wantPlaintext)
		if used := readCPU(t, m) - before; used < d-m.slack {
			t.Fatalf("/cpu?us=%d used %v of the server's CPU, want at least %v", d.Microseconds(), used, d-m.slack)
		}
		c.expectOpen()
	})
	t.Run("pipelined_in_order", func(t *testing.T) {
		// Answers after a slow request wait for it: each is told apart by
		// its status or body.
		c := dial(t, addr)
		c.send(reqPlaintext + "GET /delay?us=5000 HTTP/1.1\r\nHost: test\r\n\r\n" + reqPlaintext +
			"GET /cpu?us=1000 HTTP/1.1\r\nHost: test\r\n\r\n" + reqEcho("after cpu") + reqNotFound +
			"GET /delay HTTP/1.1\r\nHost: test\r\n\r\n" + reqEcho("last"))
		for i, w := range []string{wantPlaintext, wantPlaintext, wantPlaintext, wantPlaintext, wantEcho("after cpu"), wantNotFound, wantBadWork, wantEcho("last")} {
			r := c.read()
			if got := r.normal(); got != w {
				t.Fatalf("response %d differs\n got: %q\nwant: %q", i, got, w)
			}
		}
		c.expectOpen()
	})
	t.Run("half_close_after_slow", func(t *testing.T) {
		// The client shuts its write side while a slow request is in
		// flight: it is still owed every answer, then the close.
		c := dial(t, addr)
		c.send(reqPlaintext + "GET /delay?us=20000 HTTP/1.1\r\nHost: test\r\n\r\n" + reqEcho("after") +
			"GET /cpu?us=1000 HTTP/1.1\r\nHost: test\r\n\r\n" + reqPlaintext)
		if err := c.c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		for i, w := range []string{wantPlaintext, wantPlaintext, wantEcho("after"), wantPlaintext, wantPlaintext} {
			r := c.read()
			if got := r.normal(); got != w {
				t.Fatalf("response %d differs\n got: %q\nwant: %q", i, got, w)
			}
		}
		c.expectEOF()
	})
	t.Run("slow_split", func(t *testing.T) {
		// A slow request split across reads, then more requests in the
		// same write as its end.
		c := dial(t, addr)
		req := "GET /delay?us=2000 HTTP/1.1\r\nHost: test\r\n\r\n"
		c.send(req[:17])
		time.Sleep(splitPause)
		c.send(req[17:] + reqEcho("x"))
		checkResponse(t, c.read(), wantPlaintext)
		checkResponse(t, c.read(), wantEcho("x"))
		c.expectOpen()
	})
}

// readCPU reads m.
func readCPU(t *testing.T, m cpuMeter) time.Duration {
	t.Helper()
	d, err := m.read()
	if err != nil {
		t.Fatalf("server CPU time: %v", err)
	}
	return d
}

// processCPU returns the CPU time (user + system) this process has used.
func processCPU() (time.Duration, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

package loadgen

import (
	"bytes"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/loadgen/summary"
)

// churnConn is what a recording server saw on one connection.
type churnConn struct {
	got        []byte // every byte the client sent, up to its close
	earlyClose bool   // the client closed before the server did
}

// recordingServer accepts on 127.0.0.1:0 and, on every connection, reads
// one request (up to its blank line), answers it with resp, waits hold,
// closes its side (a FIN, before the client's close when the client waits
// for it) and reads on until the client closes, keeping every byte the
// client sent. With hold > 0 it also notes a client that closed before the
// server did. conns returns the connections seen so far.
func recordingServer(t *testing.T, resp string, hold time.Duration) (addr string, conns func() []churnConn) {
	var mu sync.Mutex
	var seen []churnConn
	addr = serve(t, func(c net.Conn) {
		var got []byte
		buf := make([]byte, 4096)
		early := false
		for !bytes.Contains(got, []byte("\r\n\r\n")) {
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		if bytes.Contains(got, []byte("\r\n\r\n")) {
			if _, err := c.Write([]byte(resp)); err == nil && hold > 0 {
				// The client must still be there: it waits for our close.
				_ = c.SetReadDeadline(time.Now().Add(hold))
				n, err := c.Read(buf)
				got = append(got, buf[:n]...)
				early = err == nil || !errors.Is(err, os.ErrDeadlineExceeded)
				_ = c.SetReadDeadline(time.Time{})
			}
			_ = c.(*net.TCPConn).CloseWrite()
			for {
				n, err := c.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					break
				}
			}
		}
		mu.Lock()
		seen = append(seen, churnConn{got: got, earlyClose: early})
		mu.Unlock()
	})
	return addr, func() []churnConn {
		mu.Lock()
		defer mu.Unlock()
		return append([]churnConn(nil), seen...)
	}
}

// waitConns waits (up to 5 s) until the server has seen at least n
// connections end, and returns them all.
func waitConns(t *testing.T, conns func() []churnConn, n int) []churnConn {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if cs := conns(); len(cs) >= n || time.Now().After(deadline) {
			return cs
		}
	}
}

// TestChurnRequestBytes: each request goes out on a connection of its own,
// carries Connection: close, and is the only thing sent on it. The server
// counts connections: those that carried a request are the requests the
// generator counted, plus at most one in flight per connection slot when
// the window closed; the one connection that carried nothing is the probe
// made before the run.
func TestChurnRequestBytes(t *testing.T) { forEngines(t, testChurnRequestBytes) }

func testChurnRequestBytes(t *testing.T, engine summary.Engine) {
	for _, tc := range []struct {
		name  string
		conns int
		rate  float64
		mix   string
	}{
		{"closed", 2, 0, ""},
		{"open", 4, 300, ""},
		{"mix", 2, 0, "/a:1,/b:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, conns := recordingServer(t, closeResp, 0)
			cfg := Config{Engine: engine, Target: "http://" + addr + "/plaintext", Conns: tc.conns, Rate: tc.rate,
				Mix: tc.mix, Duration: time.Second, Churn: true}
			s := runOK(t, cfg).Summary
			if s.Requests < 20 || s.Errors != 0 || !s.Churn {
				t.Fatalf("requests %d errors %v churn %v", s.Requests, s.ErrorKinds, s.Churn)
			}
			// No warm-up: every request counted was dialled in the window;
			// at its end up to one connection per slot was still open.
			if s.Dials < s.Requests || s.Dials > s.Requests+uint64(tc.conns) {
				t.Errorf("dials %d for %d requests over %d connections", s.Dials, s.Requests, tc.conns)
			}
			if s.DialsPerSecond != float64(s.Dials)/s.DurationSeconds {
				t.Errorf("dials_per_s %v, want %d / %v", s.DialsPerSecond, s.Dials, s.DurationSeconds)
			}
			want := map[string]bool{}
			if tc.mix == "" {
				want["GET /plaintext HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n"] = true
			} else {
				for _, p := range []string{"/a", "/b"} {
					want["GET "+p+" HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n"] = true
				}
			}
			// The generator closes the connections still open at its end,
			// so all of them end.
			cs := waitConns(t, conns, int(s.Requests)+1)
			carried, empty := 0, 0
			for _, c := range cs {
				switch {
				case len(c.got) == 0:
					empty++
				case want[string(c.got)]:
					carried++
				default:
					t.Fatalf("a connection carried %q, want one request with Connection: close", c.got)
				}
			}
			if uint64(carried) < s.Requests || empty < 1 || empty > 1+tc.conns {
				t.Fatalf("%d connections carried a request, %d none, for %d requests counted", carried, empty, s.Requests)
			}
			if tc.mix == "" {
				req := uint64(len("GET /plaintext HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n\r\n"))
				if n := s.BytesWritten / req; s.BytesWritten%req != 0 || n < s.Requests || n > s.Requests+uint64(tc.conns) {
					t.Errorf("bytes written %d: not %d..%d requests of %d bytes", s.BytesWritten, s.Requests, s.Requests+uint64(tc.conns), req)
				}
			}
		})
	}
}

// TestChurnExactCount: one connection slot, no warm-up, a request limit:
// the server sees the probe, then exactly one connection per request
// counted, each carrying one request (one more may be dialled as the run
// stops).
func TestChurnExactCount(t *testing.T) { forEngines(t, testChurnExactCount) }

func testChurnExactCount(t *testing.T, engine summary.Engine) {
	addr, conns := recordingServer(t, closeResp, 0)
	const n = 50
	s := runOK(t, Config{Engine: engine, Target: "http://" + addr + "/", Conns: 1, Requests: n, Duration: time.Minute,
		Timeout: 10 * time.Second, Churn: true}).Summary
	if s.Requests != n || s.Errors != 0 || s.StopReason != summary.StopRequests {
		t.Fatalf("requests %d errors %v stop %s", s.Requests, s.ErrorKinds, s.StopReason)
	}
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n\r\n"
	if s.Dials < n || s.Dials > n+1 || s.BytesWritten < n*uint64(len(req)) || s.BytesWritten > (n+1)*uint64(len(req)) {
		t.Fatalf("dials %d, bytes written %d for %d requests of %d bytes", s.Dials, s.BytesWritten, n, len(req))
	}
	carried := 0
	for _, c := range waitConns(t, conns, n+1) {
		if len(c.got) > 0 {
			if string(c.got) != req {
				t.Fatalf("a connection carried %q", c.got)
			}
			carried++
		}
	}
	if carried < n || carried > n+1 {
		t.Fatalf("%d connections carried a request, want %d (or one more at the stop)", carried, n)
	}
}

// TestChurnServerClosesFirst: the generator keeps the connection open
// after the response until the server closes it, so the server closes
// first (its side holds the TIME_WAIT), and the slot's next request waits
// for that close.
func TestChurnServerClosesFirst(t *testing.T) { forEngines(t, testChurnServerClosesFirst) }

func testChurnServerClosesFirst(t *testing.T, engine summary.Engine) {
	const hold = 50 * time.Millisecond
	addr, conns := recordingServer(t, closeResp, hold)
	s := runOK(t, Config{Engine: engine, Target: "http://" + addr + "/", Conns: 2, Warmup: 0, Duration: time.Second, Churn: true}).Summary
	// Each slot's connection lives ≥ 50 ms: at most 2 × (1 s / 50 ms) = 40
	// requests (plus one per slot at the edges).
	if s.Requests < 4 || s.Requests > 42 || s.Errors != 0 {
		t.Fatalf("requests %d errors %v, want 4..42 and none", s.Requests, s.ErrorKinds)
	}
	// Only the connections open when the run stopped (one per slot) are
	// closed by the generator first.
	early := 0
	for _, c := range waitConns(t, conns, int(s.Requests)) {
		if c.earlyClose {
			early++
		}
	}
	if early > 2 {
		t.Fatalf("%d connections closed (or written to) by the generator before the server's close; at most the 2 open at the stop may be", early)
	}
}

// TestChurnServerMisbehaves: servers that do not close as asked are
// counted as errors, and the run does not hang on them.
func TestChurnServerMisbehaves(t *testing.T) { forEngines(t, testChurnServerMisbehaves) }

func testChurnServerMisbehaves(t *testing.T, engine summary.Engine) {
	const notFound = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
	for _, tc := range []struct {
		name    string
		handle  func(net.Conn)
		kind    string // the only error kind expected
		answers bool   // responses count as requests
	}{
		// Keep-alive answer: the generator closes the connection itself and
		// counts a protocol error per request.
		{"keep-alive", replyEach([]byte(okResp)), "protocol", false},
		// A bad status without close counts as its status, once.
		{"404 keep-alive", replyEach([]byte(notFound)), "status", false},
		// Connection: close but no close: the request counts, then after
		// the timeout a protocol error, and the generator closes.
		{"close not honoured", replyEach([]byte(closeResp)), "protocol", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			accepts, eofs := 0, 0
			addr := serve(t, func(c net.Conn) {
				mu.Lock()
				accepts++
				mu.Unlock()
				tc.handle(c) // returns when the client closes
				mu.Lock()
				eofs++
				mu.Unlock()
			})
			s := runOK(t, Config{Engine: engine, Target: "http://" + addr + "/", Conns: 1, Warmup: 0, Duration: time.Second,
				Timeout: 200 * time.Millisecond, Churn: true}).Summary
			if s.Errors == 0 || s.ErrorKinds[tc.kind] != s.Errors || !s.Failed {
				t.Fatalf("errors %v, want only %s, failed (%v)", s.ErrorKinds, tc.kind, s.Failed)
			}
			if tc.answers {
				// One request, then 200 ms waiting for the close: a
				// protocol error for each, give or take the one at the end.
				if s.Requests < 1 || s.Requests > s.Errors+1 || s.Errors > s.Requests+1 || s.Requests > 6 {
					t.Fatalf("requests %d errors %d, want equal, 1..6", s.Requests, s.Errors)
				}
			} else if s.Requests != 0 {
				t.Fatalf("requests %d, want 0", s.Requests)
			}
			// Every connection (the probe too) was closed by the generator.
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				mu.Lock()
				a, e := accepts, eofs
				mu.Unlock()
				if a == e && uint64(a) >= s.Errors {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d connections accepted, %d closed by the generator, %d errors", a, e, s.Errors)
				}
			}
		})
	}
}

// TestChurnOpenLoopWindowFull: one connection slot at 100/s against a
// server that holds each connection 50 ms. Slot k is intended at k × 10 ms
// but the slot frees only every ≥ 50 ms, so at most 1 s / 50 ms + 1 = 21
// requests go out in the window, the other ≥ 100 − 21 − 2 slots came due
// while the slot was busy (window_full): a server backlog, the generator
// kept up (its own send lag is small), so not saturated. The
// k-th request waited about k × 40 ms from its intended time: the
// corrected maximum passes 500 ms. The server holds the connection after
// the response: latency ends at the response, so from the dial it is well
// under the 50 ms hold.
func TestChurnOpenLoopWindowFull(t *testing.T) { forEngines(t, testChurnOpenLoopWindowFull) }

func testChurnOpenLoopWindowFull(t *testing.T, engine summary.Engine) {
	addr, _ := recordingServer(t, closeResp, 50*time.Millisecond)
	res := runOK(t, Config{Engine: engine, Target: "http://" + addr + "/", Conns: 1, Rate: 100, Warmup: 0,
		Duration: time.Second, Churn: true})
	s := res.Summary
	if s.Requests < 2 || s.Requests > 21 || s.Errors != 0 {
		t.Fatalf("requests %d errors %v, want 2..21 and none", s.Requests, s.ErrorKinds)
	}
	if s.WindowFull < 100-21-2 || s.Saturated || !s.ServerBacklog || !strings.Contains(s.ServerBacklogReason, "window full") {
		t.Fatalf("window_full %d saturated %v (%s) backlog %v (%s)", s.WindowFull, s.Saturated, s.SaturatedReason, s.ServerBacklog, s.ServerBacklogReason)
	}
	if mx := time.Duration(s.Latency.Max) * time.Microsecond; mx < 500*time.Millisecond {
		t.Fatalf("corrected max %v, want ≥ 500ms", mx)
	}
	if p50 := time.Duration(s.Uncorrected.P50) * time.Microsecond; p50 > 45*time.Millisecond {
		t.Fatalf("uncorrected p50 %v, want < 45ms (the response, not the close, ends a request)", p50)
	}
}

// TestChurnOpenLoopKeepsRate: at a rate the connection slots can carry,
// the schedule is kept: as many requests (and dials) as slots, each on a
// new connection.
func TestChurnOpenLoopKeepsRate(t *testing.T) { forEngines(t, testChurnOpenLoopKeepsRate) }

func testChurnOpenLoopKeepsRate(t *testing.T, engine summary.Engine) {
	addr, _ := recordingServer(t, closeResp, 0)
	s := runOK(t, Config{Engine: engine, Target: "http://" + addr + "/", Conns: 8, Rate: 200, Warmup: 0,
		Duration: time.Second, Churn: true}).Summary
	// 200 slots fall in the window; under -race on a loaded machine some
	// may still be in flight at its end.
	if s.Requests < 150 || s.Requests > 201 || s.Errors != 0 {
		t.Fatalf("requests %d errors %v, want 150..201 and none", s.Requests, s.ErrorKinds)
	}
	if s.Dials < s.Requests-8 || s.Dials > s.Requests+8 {
		t.Fatalf("dials %d for %d requests", s.Dials, s.Requests)
	}
}

func TestChurnValidate(t *testing.T) {
	for _, cfg := range []Config{
		{Target: "tcp://127.0.0.1:1"},
		{Target: "http://127.0.0.1:1/", Pipeline: 2},
		{Target: "http://127.0.0.1:1/", Idle: true, ServerPID: 1},
	} {
		cfg.Conns, cfg.Duration, cfg.Churn = 1, time.Second, true
		if err := cfg.Validate(); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
	ok := Config{Target: "http://127.0.0.1:1/", Conns: 1, Duration: time.Second, Churn: true, Pipeline: 1, Rate: 10, Mix: "/a:1"}
	if err := ok.Validate(); err != nil {
		t.Errorf("%+v: %v", ok, err)
	}
}

func TestWriteTextChurn(t *testing.T) {
	h := newHist()
	_ = h.RecordValue(100)
	r := &Result{Latency: h, Summary: summary.Summary{Requests: 3000, DurationSeconds: 2, RPS: 1500, Churn: true, Dials: 3001, DialsPerSecond: 1500.5}}
	var b bytes.Buffer
	if err := WriteText(&b, r, false); err != nil {
		t.Fatal(err)
	}
	if want := "Dials/sec:         1500.50 (3001 connections opened)\n"; !strings.Contains(b.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, b.String())
	}
	b.Reset()
	if err := WriteHeader(&b, Config{Target: "http://127.0.0.1:1/", Conns: 8, Rate: 100, Churn: true, Duration: time.Second}); err != nil {
		t.Fatal(err)
	}
	if want := "8 connections, pipeline 1, a new connection per request, open loop at 100 req/s"; !strings.Contains(b.String(), want) {
		t.Errorf("header %q lacks %q", b.String(), want)
	}
}

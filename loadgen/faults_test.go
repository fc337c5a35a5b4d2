package loadgen

import (
	"bytes"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/loadgen/summary"
)

const closeResp = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, World!"

// closingServer answers GETs, asking to close after every every-th response
// of a connection (then closing it).
func closingServer(t *testing.T, every int) string {
	return serve(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		have, served := 0, 0
		for {
			n, err := c.Read(buf[have:])
			if err != nil {
				return
			}
			have += n
			for {
				end := bytes.Index(buf[:have], []byte("\r\n\r\n"))
				if end < 0 {
					break
				}
				have = copy(buf, buf[end+4:have])
				served++
				resp := okResp
				if served%every == 0 {
					resp = closeResp
				}
				if _, err := c.Write([]byte(resp)); err != nil || served%every == 0 {
					return
				}
			}
		}
	})
}

// TestCloseRedialsAtOnce: after a Connection: close response both engines
// re-dial at once. The epoll engine used to wait for its next housekeeping
// round (every 50 ms), so 400 requests over one connection closed after
// every response took ≥ 10 s and the run ended on its 8 s duration.
func TestCloseRedialsAtOnce(t *testing.T) { forEngines(t, testCloseRedialsAtOnce) }

func testCloseRedialsAtOnce(t *testing.T, engine summary.Engine) {
	for _, tc := range []struct{ every, requests int }{{1, 400}, {4, 1200}} {
		t.Run("every"+strconv.Itoa(tc.every), func(t *testing.T) {
			addr := closingServer(t, tc.every)
			res := runOK(t, Config{Engine: engine, Target: "http://" + addr + "/", Conns: 1, Warmup: 0,
				Requests: uint64(tc.requests), Duration: 8 * time.Second, Timeout: time.Minute})
			s := res.Summary
			if s.StopReason != summary.StopRequests || s.Requests != uint64(tc.requests) || s.Errors != 0 {
				t.Fatalf("stop %s, requests %d, errors %v: re-dial after close waited", s.StopReason, s.Requests, s.ErrorKinds)
			}
		})
	}
}

// TestTimeoutIsRecorded: a server that never answers used to leave the
// histogram empty (max 0). A timed-out request is recorded at the time it
// waited and counted as a timeout, and the run is failed.
func TestTimeoutIsRecorded(t *testing.T) { forEngines(t, testTimeoutIsRecorded) }

func testTimeoutIsRecorded(t *testing.T, engine summary.Engine) {
	addr := serve(t, func(c net.Conn) {
		buf := make([]byte, 1024)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
	const timeout = 200 * time.Millisecond
	res := runOK(t, Config{Engine: engine, Target: "http://" + addr + "/", Conns: 1, Duration: 1500 * time.Millisecond, Warmup: 0, Timeout: timeout})
	s := res.Summary
	to := s.ErrorKinds["timeout"]
	if to < 1 || s.Requests != 0 || s.Errors != to {
		t.Fatalf("timeouts %d requests %d errors %v", to, s.Requests, s.ErrorKinds)
	}
	if uint64(res.Latency.TotalCount()) != to {
		t.Fatalf("histogram holds %d values, want one per timeout (%d)", res.Latency.TotalCount(), to)
	}
	if mx := time.Duration(s.Latency.Max) * time.Microsecond; mx < timeout {
		t.Fatalf("max %v < timeout %v", mx, timeout)
	}
	if !s.Failed || s.ErrorPercent != 100 {
		t.Fatalf("failed %v (%q), error_pct %v", s.Failed, s.FailedReason, s.ErrorPercent)
	}
}

// TestErrorKinds drives misbehaving servers and checks that each fault is
// filed under the kind the README gives it.
func TestErrorKinds(t *testing.T) { forEngines(t, testErrorKinds) }

func testErrorKinds(t *testing.T, engine summary.Engine) {
	big := 50 << 20
	bigBody := bytes.Repeat([]byte{'x'}, big)
	for _, tc := range []struct {
		name   string
		target string // "http" or "tcp"
		handle func(net.Conn)
		kind   string // expected error kind; "" = none, requests must succeed
	}{
		{"garbage without newline", "http", replyOnce([]byte("\x16\x03\x01 random bytes, no line end")), "protocol"},
		{"closed mid-header", "http", replyAndClose([]byte("HTTP/1.1 200 OK\r\nContent-Le")), "protocol"},
		{"body until close", "http", replyAndClose([]byte("HTTP/1.1 200 OK\r\n\r\nHello, World!")), "protocol"},
		{"100 continue skipped", "http", replyEach([]byte("HTTP/1.1 100 Continue\r\n\r\n" + okResp)), ""},
		{"50 MB body", "http", replyEach(append([]byte("HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(big)+"\r\n\r\n"), bigBody...)), ""},
		{"echo byte dropped", "tcp", echoEdit(func(b []byte) []byte { return b[1:] }), "mismatch"},
		{"echo byte duplicated", "tcp", echoEdit(func(b []byte) []byte { return append(b, b[len(b)-1]) }), "mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := serve(t, tc.handle)
			cfg := Config{Engine: engine, Target: tc.target + "://" + addr + "/", Conns: 1, Warmup: 0,
				Duration: time.Second, Timeout: 300 * time.Millisecond, Payload: 64}
			if tc.target == "tcp" {
				cfg.Target = "tcp://" + addr
			}
			if tc.kind == "" { // 50 MB under -race on a loaded machine can take seconds
				cfg.Requests = 3
				cfg.Duration, cfg.Timeout = time.Minute, 30*time.Second
			}
			res := runOK(t, cfg)
			s := res.Summary
			if tc.kind == "" {
				if s.Requests != 3 || s.Errors != 0 {
					t.Fatalf("requests %d errors %v, want 3 and none", s.Requests, s.ErrorKinds)
				}
				return
			}
			// (A duplicated echo byte follows a message that was right.)
			if s.ErrorKinds[tc.kind] == 0 || s.ErrorKinds[tc.kind] != s.Errors {
				t.Fatalf("requests %d errors %v, want only %s", s.Requests, s.ErrorKinds, tc.kind)
			}
		})
	}
}

// replyEach answers every read with resp.
func replyEach(resp []byte) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	}
}

// replyOnce answers the first read with resp and then only reads.
func replyOnce(resp []byte) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 4096)
		if _, err := c.Read(buf); err != nil {
			return
		}
		_, _ = c.Write(resp)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}
}

// replyAndClose answers the first read with resp and closes.
func replyAndClose(resp []byte) func(net.Conn) {
	return func(c net.Conn) {
		if _, err := c.Read(make([]byte, 4096)); err == nil {
			_, _ = c.Write(resp)
		}
	}
}

// echoEdit echoes the first 64-byte message through edit, then echoes
// faithfully.
func echoEdit(edit func([]byte) []byte) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 64)
		var first atomic.Bool
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			out := buf[:n]
			if n == 64 && first.CompareAndSwap(false, true) {
				out = edit(append([]byte(nil), out...))
			}
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

// TestWindowFullCountsEveryDueSlot: one connection, pipeline 1, 1000/s; a
// response that takes 2 s leaves 2000 slots due behind the full window. They
// used to count as one.
func TestWindowFullCountsEveryDueSlot(t *testing.T) {
	s := &shared{cfg: Config{Pipeline: 1, Rate: 1000, Conns: 1}, open: true, scheds: Spread(1000, 1)}
	s.req = []byte("x")
	c := newConn(s, 0)
	if k := c.take(0, phaseMeasure); k != 1 {
		t.Fatalf("first take sent %d", k)
	}
	for ms := int64(1); ms <= 2000; ms++ { // found full at every due slot, as the epoll engine does
		c.take(ms*int64(time.Millisecond), phaseMeasure)
	}
	if c.st.windowFull != 2000 {
		t.Fatalf("window_full = %d, want 2000 (slots 1..2000)", c.st.windowFull)
	}
	c.pop(2000 * int64(time.Millisecond))
	c.take(2000*int64(time.Millisecond)+1, phaseMeasure) // the goroutine engine finds it full only now
	if c.st.windowFull != 2000 {
		t.Fatalf("window_full = %d after catching up, want still 2000", c.st.windowFull)
	}
	// The catch-up send went 1 ns after the answer that made room: the
	// generator's own lag is nothing, the 2 s were the server's.
	if c.lag != nil && c.ownLag.Max() > 1 {
		t.Fatalf("own lag max %d µs, want ≤ 1", c.ownLag.Max())
	}
	j := judgeSchedule(scheduleFacts{rate: 1000, ownLagP99us: c.ownLag.ValueAtPercentile(99), sent: c.st.slotsSent + 2000, windowFull: c.st.windowFull})
	if !j.backlog || j.saturated {
		t.Fatalf("want a server backlog, not saturated: %+v", j)
	}
}

// TestOwnLagWithRoomInTheWindow: a send that comes due while its window
// has room and goes out late is the generator's own lag, all of it.
func TestOwnLagWithRoomInTheWindow(t *testing.T) {
	s := &shared{cfg: Config{Pipeline: 2, Rate: 1000, Conns: 1}, open: true, scheds: Spread(1000, 1)}
	s.req = []byte("x")
	c := newConn(s, 0)
	ms := int64(time.Millisecond)
	c.take(0, phaseMeasure)                       // slot 0, one of two outstanding
	c.pop(ms / 2)                                 // answered; the window was never full
	if k := c.take(30*ms, phaseMeasure); k != 2 { // slots 1 and 2 (due at 1 and 2 ms) go out 30 ms in
		t.Fatalf("sent %d, want 2", k)
	}
	if got := c.ownLag.Max(); got < 28_000 || got > 29_100 {
		t.Fatalf("own lag max %d µs, want ≈ 29,000 (due at 1 ms, sent at 30 ms)", got)
	}
	j := judgeSchedule(scheduleFacts{rate: 1000, lagP99us: c.ownLag.ValueAtPercentile(99), ownLagP99us: c.ownLag.ValueAtPercentile(99), sent: 3})
	if !j.saturated {
		t.Fatalf("want saturated: %+v", j)
	}
}

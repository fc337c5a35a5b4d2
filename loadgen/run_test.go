package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncbench/asyncbench/loadgen/summary"
)

const okResp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"

// serve accepts on 127.0.0.1:0 and runs handle for every connection until
// the test ends.
func serve(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// httpServer answers each request (GET, or POST with Content-Length) with
// respond(n, body), n counting requests on the whole server from 0. It
// allocates nothing per request when respond does not.
func httpServer(t testing.TB, respond func(n int, body []byte) []byte) string {
	return serve(t, httpHandler(respond))
}

// httpHandler is httpServer's connection handler.
func httpHandler(respond func(n int, body []byte) []byte) func(net.Conn) {
	var mu sync.Mutex
	count := 0
	return func(c net.Conn) {
		buf := make([]byte, 64<<10)
		have := 0
		for {
			n, err := c.Read(buf[have:])
			if err != nil {
				return
			}
			have += n
			off := 0
			for {
				end := bytes.Index(buf[off:have], []byte("\r\n\r\n"))
				if end < 0 {
					break
				}
				head := buf[off : off+end]
				bodyLen := 0
				if i := bytes.Index(head, []byte("Content-Length: ")); i >= 0 {
					for _, ch := range head[i+16:] {
						if ch < '0' || ch > '9' {
							break
						}
						bodyLen = bodyLen*10 + int(ch-'0')
					}
				}
				start := off + end + 4
				if have-start < bodyLen {
					break
				}
				mu.Lock()
				k := count
				count++
				mu.Unlock()
				if _, err := c.Write(respond(k, buf[start:start+bodyLen])); err != nil {
					return
				}
				off = start + bodyLen
			}
			have = copy(buf, buf[off:have])
		}
	}
}

func echoServer(t testing.TB, corrupt int) string {
	return serve(t, echoHandler(corrupt))
}

// echoHandler is echoServer's connection handler.
func echoHandler(corrupt int) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 32<<10)
		pos := 0
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if corrupt >= pos && corrupt < pos+n {
				buf[corrupt-pos] ^= 0xff
			}
			pos += n
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

// forEngines runs a test on every engine.
func forEngines(t *testing.T, test func(*testing.T, summary.Engine)) {
	engines := []summary.Engine{summary.EngineGoroutines}
	if epollAvailable {
		engines = append(engines, summary.EngineEpoll)
	}
	for _, e := range engines {
		t.Run(string(e), func(t *testing.T) { test(t, e) })
	}
}

func runOK(t *testing.T, cfg Config) *Result {
	t.Helper()
	res, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestClosedLoopFixedDelay(t *testing.T) { forEngines(t, testClosedLoopFixedDelay) }

func testClosedLoopFixedDelay(t *testing.T, engine summary.Engine) {
	const delay = 20 * time.Millisecond
	addr := httpServer(t, func(int, []byte) []byte {
		time.Sleep(delay)
		return []byte(okResp)
	})
	res := runOK(t, Config{Engine: engine, Target: "http://" + addr + "/plaintext", Conns: 4, Duration: time.Second, Warmup: 100 * time.Millisecond})
	s := res.Summary
	p50 := time.Duration(s.Latency.P50) * time.Microsecond
	// At least the server's delay; the upper bound only catches a gross
	// error, since a loaded 2-core machine can add a lot.
	if p50 < delay || p50 > delay+500*time.Millisecond {
		t.Fatalf("p50 = %v, want within [%v, %v]", p50, delay, delay+500*time.Millisecond)
	}
	// 4 connections × 1s / ≥20ms each: at most 200 requests.
	if s.Requests < 20 || s.Requests > 200 {
		t.Fatalf("requests = %d, want in [20, 200]", s.Requests)
	}
	if s.Errors != 0 || s.Uncorrected != nil || s.SendLag != nil || s.Saturated {
		t.Fatalf("unexpected summary %+v", s)
	}
	if uint64(res.Latency.TotalCount()) != s.Requests {
		t.Fatalf("histogram count %d != requests %d", res.Latency.TotalCount(), s.Requests)
	}
	// Bytes count in the same phase as the responses they complete; only a
	// response begun in the warm-up (at most one per connection) is short.
	if resp := uint64(len(okResp)); s.BytesRead > s.Requests*resp || s.BytesRead+4*resp < s.Requests*resp {
		t.Fatalf("bytes read %d for %d responses of %d bytes", s.BytesRead, s.Requests, resp)
	}
}

// TestCoordinatedOmission drives 200 req/s over one connection (pipeline 1)
// for 3s against a server that stops answering for 1s in the middle.
//
// Arithmetic: the 200 requests intended during the pause go out only after
// it, so the one intended k/200 s into the pause completes about (1 − k/200) s
// after its intended time. Corrected latencies therefore spread evenly over
// (0, 1s]: about 200 × (1 − 0.5) = 100 are ≥ 500ms, and the max is ≈ 1s.
// Timed from the actual send, only the request in flight when the pause
// began waits ≈ 1s; the backlog then goes out back to back and each sees
// one round trip, so about one uncorrected latency is ≥ 500ms (a loaded
// machine may add a few).
func TestCoordinatedOmission(t *testing.T) { forEngines(t, testCoordinatedOmission) }

func testCoordinatedOmission(t *testing.T, engine summary.Engine) {
	const (
		rate  = 200.0
		pause = time.Second
	)
	var once sync.Once
	var first time.Time
	addr := httpServer(t, func(int, []byte) []byte {
		now := time.Now()
		once.Do(func() { first = now })
		if at := first.Add(time.Second); now.After(at) && now.Before(at.Add(pause)) {
			time.Sleep(time.Until(at.Add(pause)))
		}
		return []byte(okResp)
	})
	res := runOK(t, Config{Engine: engine, Target: "http://" + addr + "/", Conns: 1, Rate: rate, Duration: 3 * time.Second})
	s := res.Summary
	over := func(h *hdr.Histogram, v int64) int64 {
		var n int64
		for _, b := range h.Distribution() {
			if b.From >= v {
				n += b.Count
			}
		}
		return n
	}
	const half = int64(500 * time.Millisecond / time.Microsecond)
	t.Logf("requests %d, corrected ≥500ms %d max %dus, uncorrected ≥500ms %d p99 %dus, lag %+v, %s",
		s.Requests, over(res.Latency, half), s.Latency.Max, over(res.Uncorrected, half), s.Uncorrected.P99, *s.SendLag, s.ServerBacklogReason)
	if n := over(res.Latency, half); n < 60 || n > 140 {
		t.Errorf("corrected latencies ≥ 500ms = %d, want ≈ 100 (60..140)", n)
	}
	if mx := time.Duration(s.Latency.Max) * time.Microsecond; mx < 900*time.Millisecond || mx > 3*time.Second {
		t.Errorf("corrected max = %v, want ≈ 1s", mx)
	}
	if n := over(res.Uncorrected, half); n < 1 || n > 5 {
		t.Errorf("uncorrected latencies ≥ 500ms = %d, want about 1", n)
	}
	if p99 := time.Duration(s.Uncorrected.P99) * time.Microsecond; p99 > 400*time.Millisecond {
		t.Errorf("uncorrected p99 = %v, want small", p99)
	}
	// ~600 requests intended in 3s; the backlog is caught up within the run.
	if s.Requests < 450 || s.Requests > 620 {
		t.Errorf("requests = %d, want ≈ 600", s.Requests)
	}
	// The pause kept the window full and the sends late: the server's
	// doing, already charged to it by the corrected latency. A server
	// backlog, not a generator that fell behind.
	if s.Saturated || !s.ServerBacklog || !strings.Contains(s.ServerBacklogReason, "window full") {
		t.Errorf("saturated %v (%q), backlog %v (%q): want a server backlog with window full", s.Saturated, s.SaturatedReason, s.ServerBacklog, s.ServerBacklogReason)
	}
	if s.OwnSendLag == nil || s.OwnSendLag.P99 > 100_000 {
		t.Errorf("own send lag = %+v, want p99 well under the 1 s pause", s.OwnSendLag)
	}
	if s.SendLag == nil || s.SendLag.Max < 900_000 {
		t.Errorf("send lag = %+v, want max ≈ 1s", s.SendLag)
	}
}

func TestOpenLoopKeepsRate(t *testing.T) { forEngines(t, testOpenLoopKeepsRate) }

// testOpenLoopKeepsRate runs 400 requests at 400/s, without warm-up: the
// window opens where the schedule starts. No request goes out before its
// intended time and each of the 4 connections sends its 100th at 0.99 s,
// so the window lasts at least that, however the machine runs (0.9 s
// leaves room for the instant between the schedule's start and the
// window's). How far a loaded machine falls behind is not checked here (the
// run is marked saturated then); the 30 s duration only catches a hang.
func testOpenLoopKeepsRate(t *testing.T, engine summary.Engine) {
	addr := httpServer(t, func(int, []byte) []byte { return []byte(okResp) })
	res := runOK(t, Config{Engine: engine, Target: "http://" + addr + "/", Conns: 4, Rate: 400, Requests: 400, Duration: 30 * time.Second})
	s := res.Summary
	if s.Requests != 400 || s.StopReason != summary.StopRequests {
		t.Fatalf("requests = %d, stop %q; want 400, stopped by the request limit", s.Requests, s.StopReason)
	}
	if s.DurationSeconds < 0.9 {
		t.Fatalf("400 requests at 400/s measured in %.3fs: faster than the schedule allows", s.DurationSeconds)
	}
	if s.Errors != 0 || s.SendLag == nil || s.Uncorrected == nil || s.Rate != 400 {
		t.Fatalf("summary %+v", s)
	}
}

func TestEchoDetectsCorruptByte(t *testing.T) { forEngines(t, testEchoDetectsCorruptByte) }

func testEchoDetectsCorruptByte(t *testing.T, engine summary.Engine) {
	addr := echoServer(t, 64*10+3) // a byte of the 11th message
	res := runOK(t, Config{Engine: engine, Target: "tcp://" + addr, Conns: 1, Requests: 50, Payload: 64})
	s := res.Summary
	if got := s.ErrorKinds["mismatch"]; got != 1 {
		t.Fatalf("mismatch = %d, want 1 (%+v)", got, s)
	}
	if s.Requests != 50 || s.Errors != 1 {
		t.Fatalf("requests = %d errors = %d, want 50 and 1", s.Requests, s.Errors)
	}
}

func TestEchoPipelined(t *testing.T) { forEngines(t, testEchoPipelined) }

func testEchoPipelined(t *testing.T, engine summary.Engine) {
	addr := echoServer(t, -1)
	res := runOK(t, Config{Engine: engine, Target: "tcp://" + addr, Conns: 3, Pipeline: 16, Requests: 3000, Payload: 100})
	s := res.Summary
	if s.Requests != 3000 || s.Errors != 0 {
		t.Fatalf("requests = %d errors = %v", s.Requests, s.ErrorKinds)
	}
	if s.BytesRead < 3000*100 {
		t.Fatalf("bytes read %d < %d", s.BytesRead, 3000*100)
	}
}

func TestHTTPStatusAndLengthErrors(t *testing.T) { forEngines(t, testHTTPStatusAndLengthErrors) }

func testHTTPStatusAndLengthErrors(t *testing.T, engine summary.Engine) {
	notFound := []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nNot Found")
	addr := httpServer(t, func(n int, _ []byte) []byte {
		if n%4 == 3 {
			return notFound
		}
		return []byte(okResp)
	})
	res := runOK(t, Config{Engine: engine, Target: "http://" + addr + "/", Conns: 1, Requests: 30, Duration: 5 * time.Second})
	// One connection, one request at a time: the 30th good response is
	// request 38, and requests 3, 7, …, 35 before it failed.
	if s := res.Summary; s.Requests != 30 || s.ErrorKinds["status"] != 9 {
		t.Fatalf("requests %d, status errors %d, want 30 and 9", s.Requests, s.ErrorKinds["status"])
	}

	short := httpServer(t, func(n int, body []byte) []byte {
		if n%2 == 1 {
			body = body[1:] // one byte short
		} else if n%4 == 2 {
			body = append([]byte(nil), body...)
			body[5] ^= 1 // same length, one bit off
		}
		return append([]byte("HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"), body...)
	})
	res = runOK(t, Config{Engine: engine, Target: "http://" + short + "/echo", Conns: 1, Body: 100, Requests: 20, Duration: 5 * time.Second})
	// Only every fourth echo is right: the 20th is request 76, and the 57
	// requests before it that are not multiples of 4 mismatched.
	if s := res.Summary; s.Requests != 20 || s.ErrorKinds["mismatch"] != 57 {
		t.Fatalf("requests %d, mismatch %d, want 20 and 57", s.Requests, s.ErrorKinds["mismatch"])
	}
}

func TestGarbageIsProtocolError(t *testing.T) { forEngines(t, testGarbageIsProtocolError) }

func testGarbageIsProtocolError(t *testing.T, engine summary.Engine) {
	addr := httpServer(t, func(int, []byte) []byte { return []byte("SSH-2.0-nope\r\n\r\n") })
	res := runOK(t, Config{Engine: engine, Target: "http://" + addr + "/", Conns: 2, Duration: 300 * time.Millisecond})
	if s := res.Summary; s.Requests != 0 || s.ErrorKinds["protocol"] == 0 {
		t.Fatalf("requests %d, protocol errors %d", s.Requests, s.ErrorKinds["protocol"])
	}
}

func TestTimeout(t *testing.T) { forEngines(t, testTimeout) }

func testTimeout(t *testing.T, engine summary.Engine) {
	// The server reads and never answers, until the generator closes.
	addr := serve(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	res := runOK(t, Config{Engine: engine, Target: "http://" + addr + "/", Conns: 1, Duration: 700 * time.Millisecond, Timeout: 200 * time.Millisecond})
	if s := res.Summary; s.ErrorKinds["timeout"] < 1 || s.Requests != 0 {
		t.Fatalf("timeouts %d requests %d", s.ErrorKinds["timeout"], s.Requests)
	}
}

func TestUnreachableFailsFast(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens here now
	start := time.Now()
	_, err = Run(context.Background(), Config{Target: "http://" + addr + "/", Conns: 10, Duration: time.Minute}, nil)
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("err = %v, want one naming %s", err, addr)
	}
	// Failing at all shows the dial failed first; the bound only tells it
	// from waiting out the minute, however loaded the machine.
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestInterruptStillSummarises(t *testing.T) {
	addr := httpServer(t, func(int, []byte) []byte { return []byte(okResp) })
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	res, err := Run(ctx, Config{Target: "http://" + addr + "/", Conns: 2, Duration: time.Minute, Warmup: 100 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Summary; s.StopReason != summary.StopInterrupted || s.Requests == 0 || s.DurationSeconds > 5 {
		t.Fatalf("summary %+v", s)
	}
}

// TestPerRequestAllocs runs the same load twice, 20 000 requests apart:
// the difference in heap allocations is what the requests cost.
func TestPerRequestAllocs(t *testing.T) {
	const mix = "/plaintext:3,/cpu?us=1:1,/delay?us=1:1"
	for _, tc := range []struct {
		name, scheme string
		engine       summary.Engine
		mix          string
		pipeline     int
	}{
		{"http", "http", summary.EngineGoroutines, "", 0}, {"echo", "tcp", summary.EngineGoroutines, "", 0},
		{"http epoll", "http", summary.EngineEpoll, "", 0}, {"echo epoll", "tcp", summary.EngineEpoll, "", 0},
		{"http mix", "http", summary.EngineGoroutines, mix, 0}, {"http mix epoll", "http", summary.EngineEpoll, mix, 0},
		{"http mix pipelined", "http", summary.EngineGoroutines, mix, 8}, {"http mix pipelined epoll", "http", summary.EngineEpoll, mix, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.engine == summary.EngineEpoll && !epollAvailable {
				t.Skip("no epoll")
			}
			resp := []byte(okResp)
			var addr string
			if tc.scheme == "http" {
				addr = httpServer(t, func(int, []byte) []byte { return resp })
			} else {
				addr = echoServer(t, -1)
			}
			mallocs := func(n uint64) uint64 {
				var a, b runtime.MemStats
				runtime.ReadMemStats(&a)
				res := runOK(t, Config{Target: tc.scheme + "://" + addr + "/", Conns: 2, Requests: n, Engine: tc.engine, Mix: tc.mix, Pipeline: tc.pipeline})
				if tc.mix != "" && len(res.Summary.Endpoints) != 3 {
					t.Fatalf("endpoints %+v", res.Summary.Endpoints)
				}
				runtime.ReadMemStats(&b)
				return b.Mallocs - a.Mallocs
			}
			mallocs(100) // warm up the server's connections and the runtime
			small, big := mallocs(1000), mallocs(21000)
			if extra := int64(big) - int64(small); extra > 400 {
				t.Fatalf("20000 more requests cost %d more allocations (small %d, big %d)", extra, small, big)
			}
		})
	}
}

// TestServerExitEndsRun samples a stand-in server process that exits
// (unreaped, as a zombie) a second into a 10s run.
func TestServerExitEndsRun(t *testing.T) {
	cmd := exec.Command("sleep", "1")
	if err := cmd.Start(); err != nil {
		t.Skip("cannot start sleep:", err)
	}
	defer func() { _ = cmd.Wait() }()
	addr := httpServer(t, func(int, []byte) []byte { return []byte(okResp) })
	res := runOK(t, Config{Target: "http://" + addr + "/", Conns: 2, Duration: 10 * time.Second, ServerPID: cmd.Process.Pid})
	s := res.Summary
	if s.StopReason != summary.StopServerExited || s.Server == nil || !s.Server.Exited {
		t.Fatalf("stop %q server %+v", s.StopReason, s.Server)
	}
	// The stop reason says why the run ended; the duration only has to be
	// short of the 10 s asked for.
	if s.DurationSeconds >= 9 || s.Requests == 0 || s.Server.Samples < 2 || s.Server.RSSIdleKiB <= 0 {
		t.Fatalf("summary %+v server %+v", s, *s.Server)
	}
}

// TestRunFileLimit checks that more connections than the open-file limit
// allows fail at once, naming the limit, rather than part way through.
func TestRunFileLimit(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip(err)
	}
	low := lim
	low.Cur = 256
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skip(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := Config{Target: "tcp://" + ln.Addr().String(), Conns: 300, Duration: time.Second, DialRate: 1e6}
	_, err = Run(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "open-file limit is 256") {
		t.Fatalf("err = %v, want the open-file limit named", err)
	}
	// At once: the kernel queues every completed handshake on the listener
	// before connect returns, so a dialled connection would be waiting.
	if n := queued(t, ln); n != 0 {
		t.Fatalf("%d connections dialled before the limit was named, want none", n)
	}
}

// queued accepts, without blocking, every connection waiting on ln and
// returns how many there were.
func queued(t *testing.T, ln net.Listener) int {
	t.Helper()
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var acceptErr error
	if err := rc.Control(func(fd uintptr) {
		for {
			nfd, _, err := syscall.Accept4(int(fd), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
			if err != nil {
				if err != syscall.EAGAIN {
					acceptErr = err
				}
				return
			}
			syscall.Close(nfd)
			n++
		}
	}); err != nil {
		t.Fatal(err)
	}
	if acceptErr != nil {
		t.Fatal(acceptErr)
	}
	return n
}

// TestOpenLoopRamp ramps 100 → 500 req/s over 1 s: about 300 requests
// (fewer only in a run marked saturated), rate the mean, start and end
// recorded.
func TestOpenLoopRamp(t *testing.T) { forEngines(t, testOpenLoopRamp) }

func testOpenLoopRamp(t *testing.T, engine summary.Engine) {
	addr := httpServer(t, func(int, []byte) []byte { return []byte(okResp) })
	res := runOK(t, Config{Engine: engine, Target: "http://" + addr + "/", Conns: 4, Rate: 100, RateEnd: 500, Duration: time.Second, Warmup: 200 * time.Millisecond})
	s := res.Summary
	// No request goes out before its intended time: at most the 300 the
	// schedule holds, give or take the edges. Fewer only when the run says
	// the generator fell behind, as a loaded machine can make it.
	if s.Requests > 360 || (s.Requests < 240 && !s.Saturated) {
		t.Fatalf("requests = %d (saturated %v), want ≈ 300", s.Requests, s.Saturated)
	}
	if s.Rate != 300 || s.RateStart != 100 || s.RateEnd != 500 || s.Errors != 0 {
		t.Fatalf("rate %v start %v end %v errors %v", s.Rate, s.RateStart, s.RateEnd, s.ErrorKinds)
	}
}

// TestMarkSocket: the server's mark socket gets "open" as the window
// opens and "close" as it closes, each waited for; the close answer is
// kept. A socket that is not there costs the answer, not the run.
func TestMarkSocket(t *testing.T) {
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "m.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var got []string
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			mu.Lock()
			got = append(got, sc.Text())
			mu.Unlock()
			reply := "{}"
			if sc.Text() == "close" {
				reply = `{"gc_cycles":3}`
			}
			fmt.Fprintln(c, reply)
		}
	}()
	addr := httpServer(t, func(int, []byte) []byte { return []byte(okResp) })
	cfg := Config{Target: "http://" + addr + "/", Conns: 2, Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond, MarkSocket: ln.Addr().String()}
	s := runOK(t, cfg).Summary
	mu.Lock()
	marks := strings.Join(got, ",")
	mu.Unlock()
	if marks != "open,close" || string(s.ServerWindow) != `{"gc_cycles":3}` || s.ServerWindowError != "" {
		t.Fatalf("marks %q, window %s, error %q", marks, s.ServerWindow, s.ServerWindowError)
	}
	cfg.MarkSocket = filepath.Join(t.TempDir(), "none.sock")
	s = runOK(t, cfg).Summary
	if s.ServerWindow != nil || !strings.Contains(s.ServerWindowError, "none.sock") || s.Requests == 0 {
		t.Fatalf("no socket: window %s, error %q, %d requests", s.ServerWindow, s.ServerWindowError, s.Requests)
	}
}

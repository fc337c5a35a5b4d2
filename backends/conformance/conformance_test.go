package conformance

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/backends/registry"
)

// protos are every protocol; a backend must refuse those its catalog entry
// does not list.
var protos = []backends.Proto{backends.ProtoEcho, backends.ProtoHTTP}

// start runs backend name on proto at 127.0.0.1:0 until the test ends and
// returns its address. Stopping it must take less than closeTimeout.
func start(t *testing.T, name string, proto backends.Proto) string {
	t.Helper()
	srv := newServer(t, name, proto)
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { closeWithin(t, srv) })
	track(t, addr.String(), srv)
	return addr.String()
}

// newServer returns backend name serving proto: from the registry, or for
// a catalog entry with Program, that program (see catalogProgram).
func newServer(t *testing.T, name string, proto backends.Proto) backends.Server {
	t.Helper()
	info, err := backends.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if info.External() {
		return catalogProgram(t, info, proto)
	}
	srv, err := registry.New(name, proto)
	if err != nil {
		t.Fatalf("New(%s, %s): %v", name, proto, err)
	}
	return srv
}

// cpuMeter reads the CPU time a server has used; a difference of two
// readings may fall short of the truth by up to slack.
type cpuMeter struct {
	read  func() (time.Duration, error)
	slack time.Duration
}

// cpuMeters maps the address of every server the suite runs to its
// cpuMeter. A server known only by its address (TestExternal) has none.
var cpuMeters sync.Map // string → cpuMeter

// track records how the CPU time of the server at addr is read: this
// process's for an in-process backend, the program's process group's
// for a program.
func track(t *testing.T, addr string, srv backends.Server) {
	m := cpuMeter{read: processCPU}
	if p, ok := srv.(*program); ok {
		m = cpuMeter{read: p.cpuTime, slack: procCPUSlack}
	}
	cpuMeters.Store(addr, m)
	t.Cleanup(func() { cpuMeters.Delete(addr) })
}

// closeTimeout bounds Close so that one that hangs fails the test; it is
// not a speed limit (a loaded 2-core machine can stall a Close for seconds).
const closeTimeout = 30 * time.Second

func closeWithin(t *testing.T, srv backends.Server) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(closeTimeout):
		t.Errorf("Close did not return within %v", closeTimeout)
	}
}

func TestConformance(t *testing.T) {
	for _, b := range backends.Catalog {
		name := b.Name
		t.Run(name, func(t *testing.T) {
			for _, proto := range protos {
				t.Run(string(proto), func(t *testing.T) {
					if !b.Serves(proto) {
						testUnsupported(t, name, proto)
						return
					}
					addr := start(t, name, proto)
					switch proto {
					case backends.ProtoEcho:
						testEcho(t, addr)
					case backends.ProtoHTTP:
						testHTTP(t, addr)
					}
					t.Run("close_with_open_conns", func(t *testing.T) { testCloseWithConns(t, name, proto) })
				})
			}
		})
	}
}

func testUnsupported(t *testing.T, name string, proto backends.Proto) {
	if info, _ := backends.Lookup(name); info.External() {
		testProgramUnsupported(t, info, proto)
		return
	}
	srv, err := registry.New(name, proto)
	if err == nil {
		srv.Close()
		t.Fatalf("New(%s, %s) succeeded; want an error wrapping ErrUnsupported", name, proto)
	}
	if !errors.Is(err, backends.ErrUnsupported) {
		t.Fatalf("New(%s, %s): %v does not wrap ErrUnsupported", name, proto, err)
	}
	if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), string(proto)) {
		t.Fatalf("error %q names neither backend nor protocol", err)
	}
}

// testProgramUnsupported checks a program refuses a protocol it does not
// serve on its command line: exit status 2, the protocol named on stderr.
func testProgramUnsupported(t *testing.T, info backends.Info, proto backends.Proto) {
	path, skip, err := programPath(info.Program)
	switch {
	case skip != "":
		t.Skip(skip)
	case err != nil:
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-proto", string(proto), "-addr", "127.0.0.1:0")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("%s -proto %s: %v; want exit status 2", info.Program, proto, err)
	}
	if !strings.Contains(stderr.String(), string(proto)) {
		t.Fatalf("%s -proto %s: stderr %q does not name the protocol", info.Program, proto, stderr.String())
	}
}

// testCloseWithConns checks Close returns promptly while connections are
// idle, mid-request and mid-stream, and that those connections end. For a
// program, Close is SIGTERM and the process must exit in time.
func testCloseWithConns(t *testing.T, name string, proto backends.Proto) {
	srv := newServer(t, name, proto)
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	idle := dial(t, addr.String())
	partial := dial(t, addr.String())
	partial.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\nabc")
	used := dial(t, addr.String())
	if proto == backends.ProtoHTTP {
		used.send(reqPlaintext)
		checkResponse(t, used.read(), wantPlaintext)
	} else {
		used.send("ping")
		if got := readN(t, used, 4); got != "ping" {
			t.Fatalf("echo got %q", got)
		}
	}
	// stalled does not read while the server owes it answers: the server
	// is blocked writing to it (and gnet serves it off its loops).
	stalled := dial(t, addr.String())
	stalled.c.SetWriteDeadline(time.Now().Add(time.Second))
	unit := []byte(strings.Repeat(paddedGet, 64))
	if proto == backends.ProtoEcho {
		unit = make([]byte, 64<<10)
	}
	for range 1024 { // up to 16 MiB of GETs, 64 MiB of echo, or one second
		if _, err := stalled.c.Write(unit); err != nil {
			break // the server stopped taking bytes
		}
	}
	stalled.c.SetDeadline(time.Now().Add(ioTimeout))
	time.Sleep(50 * time.Millisecond) // let the server see the partial request
	closeWithin(t, srv)
	for i, c := range []*client{idle, partial, used, stalled} {
		// Echo returns what the partial request sent; then the end.
		if _, err := io.Copy(io.Discard, c.br); isTimeout(err) {
			t.Errorf("conn %d still open after Close", i)
		}
	}
	if c, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		c.Close()
		t.Errorf("dial after Close succeeded")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func readN(t *testing.T, c *client, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(c.br, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return string(b)
}

// --- echo ---

func testEcho(t *testing.T, addr string) {
	t.Run("one_MiB_concurrent", func(t *testing.T) {
		c := dial(t, addr)
		data := randomBytes(1<<20, 1)
		errc := make(chan error, 1)
		go func() {
			for p := data; len(p) > 0; {
				k := min(len(p), 64<<10)
				if _, err := c.c.Write(p[:k]); err != nil {
					errc <- err
					return
				}
				p = p[k:]
			}
			errc <- nil
		}()
		got := make([]byte, len(data))
		if _, err := io.ReadFull(c.br, got); err != nil {
			t.Fatalf("read back: %v", err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("write: %v", err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("echoed bytes differ from sent, first at %d", firstDiff(got, data))
		}
	})
	t.Run("many_small_writes", func(t *testing.T) {
		c := dial(t, addr)
		rng := rand.New(rand.NewPCG(2, 2))
		var sent bytes.Buffer
		got := make(chan []byte, 1)
		const total = 2000
		var wrote []int
		for i := 0; i < total; i++ {
			wrote = append(wrote, 1+rng.IntN(16))
		}
		want := randomBytes(sum(wrote), 3)
		go func() {
			b := make([]byte, len(want))
			_, err := io.ReadFull(c.br, b)
			if err != nil {
				b = nil
			}
			got <- b
		}()
		off := 0
		for _, n := range wrote {
			if _, err := c.c.Write(want[off : off+n]); err != nil {
				t.Fatalf("write: %v", err)
			}
			sent.Write(want[off : off+n])
			off += n
		}
		b := <-got
		if !bytes.Equal(b, sent.Bytes()) {
			t.Fatalf("echoed %d bytes, want %d equal bytes (first diff at %d)", len(b), sent.Len(), firstDiff(b, sent.Bytes()))
		}
	})
	t.Run("close_on_eof", func(t *testing.T) {
		c := dial(t, addr)
		c.send("last words")
		if err := c.c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(c.br)
		if err != nil {
			t.Fatalf("read to EOF: %v", err)
		}
		if string(b) != "last words" {
			t.Fatalf("got %q, want %q", b, "last words")
		}
	})
	t.Run("empty_then_eof", func(t *testing.T) {
		c := dial(t, addr)
		if err := c.c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		c.expectEOF()
	})
	t.Run("many_conns", func(t *testing.T) {
		errs := make(chan error, 32)
		var wg sync.WaitGroup
		for i := range 32 {
			wg.Go(func() {
				msg := fmt.Sprintf("conn %d says hello", i)
				errs <- echoOnce(addr, msg)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("half_close_32MiB", func(t *testing.T) { testEchoHalfClose(t, addr, 32<<20) })
	t.Run("back_pressure", func(t *testing.T) { testEchoBackPressure(t, addr) })
}

// echoOnce sends msg on a fresh connection and checks it comes back. It
// runs on goroutines other than the test's, so it reports by its error.
func echoOnce(addr, msg string) error {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	b := make([]byte, len(msg))
	if _, err := io.ReadFull(c, b); err != nil || string(b) != msg {
		return fmt.Errorf("%q: got %q, %v", msg, b, err)
	}
	return nil
}

func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// --- http ---

func testHTTP(t *testing.T, addr string) {
	for _, tc := range append(httpCases(), workCases()...) {
		t.Run(tc.name, func(t *testing.T) { runExchange(t, addr, tc) })
	}
	testWork(t, addr)
	for _, tc := range badRequestCases {
		t.Run("400_"+tc.name, func(t *testing.T) {
			c, r := exchange(t, addr, tc.req)
			if !strings.HasPrefix(r.status, "HTTP/1.1 400 ") {
				t.Fatalf("status %q, want 400", r.status)
			}
			if got := r.get("Connection"); !slices.Equal(got, []string{"close"}) {
				t.Fatalf("Connection %q, want close", got)
			}
			c.expectEOF()
		})
	}
	t.Run("keep_alive", func(t *testing.T) {
		c := dial(t, addr)
		for i := range 5 {
			body := "round " + strconv.Itoa(i)
			c.send(reqEcho(body))
			checkResponse(t, c.read(), wantEcho(body))
			c.send(reqNotFound)
			checkResponse(t, c.read(), wantNotFound)
		}
		c.expectOpen()
	})
	t.Run("head", func(t *testing.T) {
		// HEAD: the same status and headers as GET, no body.
		c := dial(t, addr)
		c.send("HEAD /plaintext HTTP/1.1\r\nHost: test\r\n\r\n" + reqPlaintext + "HEAD /nope HTTP/1.1\r\nHost: test\r\n\r\n")
		for i, w := range []struct {
			head bool
			want string
		}{{true, headOnly(wantPlaintext)}, {false, wantPlaintext}, {true, headOnly(wantNotFound)}} {
			r, err := readResponseTo(c.br, w.head)
			if err != nil {
				t.Fatalf("response %d: %v", i, err)
			}
			checkResponse(t, r, w.want)
		}
		c.expectOpen()
	})
	t.Run("date_format", func(t *testing.T) {
		_, r := exchange(t, addr, reqPlaintext)
		checkDate(t, r)
		if len(r.get("Date")[0]) != len("Mon, 02 Jan 2006 15:04:05 GMT") {
			t.Fatalf("Date %q is not 29 bytes", r.get("Date")[0])
		}
	})
	for _, n := range []int{16, 64} {
		t.Run("pipeline_"+strconv.Itoa(n), func(t *testing.T) { testPipeline(t, addr, n) })
	}
	t.Run("split_every_byte", func(t *testing.T) { testSplit(t, addr) })
	t.Run("one_byte_at_a_time", func(t *testing.T) { testByteAtATime(t, addr) })
	t.Run("concurrent_conns", func(t *testing.T) {
		errs := make(chan error, 32)
		var wg sync.WaitGroup
		for i := range 32 {
			wg.Go(func() { errs <- echoRequests(addr, i, 10) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("half_close_pipelined", func(t *testing.T) {
		testHTTPHalfClose(t, addr, 20_000, reqPlaintext, backends.PlaintextBody)
	})
	t.Run("half_close_pipelined_echo", func(t *testing.T) {
		body := strings.Repeat("e", 16<<10)
		testHTTPHalfClose(t, addr, 4096, reqEcho(body), body)
	})
	t.Run("back_pressure", func(t *testing.T) { testHTTPBackPressure(t, addr) })
}

// echoRequests sends n /echo requests one after another on a fresh
// connection and checks each answer. It runs on goroutines other than the
// test's, so it reports by its error.
func echoRequests(addr string, conn, n int) error {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioTimeout))
	br := bufio.NewReader(c)
	for j := range n {
		body := fmt.Sprintf("conn %d req %d", conn, j)
		if _, err := io.WriteString(c, reqEcho(body)); err != nil {
			return fmt.Errorf("conn %d req %d: %w", conn, j, err)
		}
		r, err := readResponse(br)
		if err != nil {
			return fmt.Errorf("conn %d req %d: %w", conn, j, err)
		}
		if r.normal() != wantEcho(body) {
			return fmt.Errorf("conn %d req %d: got %q", conn, j, r.normal())
		}
	}
	return nil
}

// runExchange sends tc.req on a fresh connection and checks the answers.
func runExchange(t *testing.T, addr string, tc exchangeCase) {
	t.Helper()
	c := dial(t, addr)
	if len(tc.req) > 256<<10 {
		// Large requests are written while the answer is read, as a client
		// would; the server may answer and close before reading them all.
		go io.WriteString(c.c, tc.req)
	} else {
		c.send(tc.req)
	}
	if tc.raw != "" {
		r := c.read()
		if fixedForm(r) != tc.raw {
			t.Fatalf("response differs\n got: %q\nwant: %q", r.raw, tc.raw)
		}
		return // close-delimited: read to EOF already
	}
	for i, w := range tc.want {
		r := c.read()
		if got := r.normal(); got != w {
			t.Fatalf("response %d differs\n got: %q\nwant: %q", i, clip(got), clip(w))
		}
		checkDate(t, r)
	}
	if tc.close {
		c.expectEOF()
	} else {
		c.expectOpen()
	}
}

func clip(s string) string {
	if len(s) > 400 {
		return s[:400] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

// testPipeline sends n mixed requests in one write and checks the n answers
// arrive in order.
func testPipeline(t *testing.T, addr string, n int) {
	c := dial(t, addr)
	var reqs strings.Builder
	wants := make([]string, n)
	for i := range n {
		switch i % 3 {
		case 0:
			reqs.WriteString(reqPlaintext)
			wants[i] = wantPlaintext
		case 1:
			body := "pipelined #" + strconv.Itoa(i)
			reqs.WriteString(reqEcho(body))
			wants[i] = wantEcho(body)
		case 2:
			reqs.WriteString("GET /missing/" + strconv.Itoa(i) + " HTTP/1.1\r\nHost: test\r\n\r\n")
			wants[i] = wantNotFound
		}
	}
	c.send(reqs.String())
	for i, w := range wants {
		r := c.read()
		if got := r.normal(); got != w {
			t.Fatalf("response %d of %d differs\n got: %q\nwant: %q", i, n, got, w)
		}
	}
	c.expectOpen()
}

// splitCases are requests sent in two writes split at every byte.
var splitCases = []struct {
	name  string
	req   string
	want  string
	close bool
}{
	{"plaintext", reqPlaintext, wantPlaintext, false},
	{"echo", reqEcho("split body"), wantEcho("split body"), false},
	{"chunked", reqChunkedEcho("chunks!", 3), wantEcho("chunks!", "Connection: close"), true},
}

// splitPause gives the server time to read the first part on its own.
// Nothing is asserted on it: on a loaded machine the server may read both
// parts at once, which only makes that split a whole request. The gnet
// parser's splits are checked deterministically in its own package.
const splitPause = 5 * time.Millisecond

func testSplit(t *testing.T, addr string) {
	for _, sc := range splitCases {
		t.Run(sc.name, func(t *testing.T) {
			var c *client
			for i := 1; i < len(sc.req); i++ {
				if c == nil || sc.close {
					c = dial(t, addr)
				}
				c.send(sc.req[:i])
				time.Sleep(splitPause)
				c.send(sc.req[i:])
				r, err := readResponse(c.br)
				if err != nil {
					t.Fatalf("split at %d: %v", i, err)
				}
				if got := r.normal(); got != sc.want {
					t.Fatalf("split at %d\n got: %q\nwant: %q", i, got, sc.want)
				}
				if sc.close {
					c.expectEOF()
					c.c.Close()
				}
			}
		})
	}
}

func testByteAtATime(t *testing.T, addr string) {
	c := dial(t, addr)
	req := "POST /echo?x=1 HTTP/1.1\r\nHost: test\r\nContent-Length: 9\r\nX-Extra: yes\r\n\r\nbytewise!" + reqPlaintext
	for i := range len(req) {
		c.send(req[i : i+1])
		time.Sleep(200 * time.Microsecond)
	}
	checkResponse(t, c.read(), wantEcho("bytewise!"))
	checkResponse(t, c.read(), wantPlaintext)
	c.expectOpen()
}

// TestSameResponses checks every HTTP backend answers the contract's
// requests with the same bytes, apart from the Date value and header order.
func TestSameResponses(t *testing.T) {
	var names []string
	addrs := map[string]string{}
	for _, b := range backends.Catalog {
		if b.External() {
			if _, skip, _ := programPath(b.Program); skip != "" {
				t.Logf("%s left out: %s", b.Name, skip)
				continue
			}
		}
		if b.Serves(backends.ProtoHTTP) {
			names = append(names, b.Name)
			addrs[b.Name] = start(t, b.Name, backends.ProtoHTTP)
		}
	}
	if len(names) < 2 {
		t.Skip("fewer than two HTTP backends")
	}
	reqs := map[string]string{
		"head":                        "HEAD /plaintext HTTP/1.1\r\nHost: test\r\n\r\n",
		"content_length_over_63_bits": "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"obs_fold":                    "GET /plaintext HTTP/1.1\r\nHost: test\r\nX-Folded: a\r\n b\r\n\r\n",
		"http2_request_line":          "GET /plaintext HTTP/2.0\r\nHost: test\r\n\r\n",
		"http2_preface":               "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"asterisk_form":               "OPTIONS * HTTP/1.1\r\nHost: test\r\n\r\n",
		"space_before_colon":          "GET /plaintext HTTP/1.1\r\nHost: test\r\nX-Bad : v\r\n\r\n",
		"plaintext":                   reqPlaintext,
		"echo":                        reqEcho("same bytes everywhere"),
		"not_found":                   reqNotFound,
		"too_large":                   "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: " + strconv.Itoa(backends.MaxBodyBytes+1) + "\r\n\r\n",
		"header_too_large":            withHeaderBytes(9 << 10),
		"connection_close":            "GET /plaintext HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
		"bad_request_line":            "GARBAGE\r\n\r\n",
		"bad_header_line":             "GET /plaintext HTTP/1.1\r\nHost: test\r\nno colon here\r\n\r\n",
	}
	for name, q := range badWorkQueries {
		reqs["delay_400_"+name] = "GET /delay" + q + " HTTP/1.1\r\nHost: test\r\n\r\n"
		reqs["cpu_400_"+name] = "GET /cpu" + q + " HTTP/1.1\r\nHost: test\r\n\r\n"
	}
	reqs["delay_zero"] = "GET /delay?us=0 HTTP/1.1\r\nHost: test\r\n\r\n"
	reqs["cpu_zero"] = "GET /cpu?us=0 HTTP/1.1\r\nHost: test\r\n\r\n"
	reqs["delay_connection_close"] = "GET /delay?us=1 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
	// RFC 9112 §5.1: whitespace before the colon is a 400.
	reqs["space_before_colon"] = "GET /plaintext HTTP/1.1\r\nHost: test\r\nX-Bad : v\r\n\r\n"
	reqs["space_before_colon_host"] = "GET /plaintext HTTP/1.1\r\nHost : test\r\n\r\n"
	statusOnly := map[string]bool{"space_before_colon": true, "space_before_colon_host": true}
	for _, key := range slices.Sorted(func(yield func(string) bool) {
		for k := range reqs {
			if !yield(k) {
				return
			}
		}
	}) {
		t.Run(key, func(t *testing.T) {
			got := map[string]string{}
			for _, name := range names {
				c := dial(t, addrs[name])
				c.send(reqs[key])
				r, err := readResponseTo(c.br, strings.HasPrefix(reqs[key], "HEAD "))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				got[name] = r.normal()
				if isFixed(r) {
					got[name] = fixedForm(r)
				}
				if statusOnly[key] {
					// net/http words these 400s its own way.
					got[name] = r.status[:len("HTTP/1.1 400")] + " Connection: " + strings.Join(r.get("Connection"), ",")
				}
			}
			for _, name := range names[1:] {
				if got[name] != got[names[0]] {
					t.Errorf("%s and %s differ\n%s: %q\n%s: %q", names[0], name, names[0], got[names[0]], name, got[name])
				}
			}
		})
	}
}

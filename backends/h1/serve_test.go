package h1

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/backends"
)

const testDate = "Sun, 06 Nov 1994 08:49:37 GMT"

// resp builds an expected response with the test date.
func resp(status, ctype, body, conn string) string {
	s := "HTTP/1.1 " + status + "\r\nContent-Type: " + ctype + "\r\nContent-Length: " +
		fmt.Sprint(len(body)) + "\r\nDate: " + testDate + "\r\n"
	if conn != "" {
		s += "Connection: " + conn + "\r\n"
	}
	return s + "\r\n" + body
}

var (
	okPlain  = resp("200 OK", "text/plain", "Hello, World!", "")
	notFound = resp("404 Not Found", "text/plain", "Not Found", "")
	tooLarge = resp("413 Request Entity Too Large", "text/plain", "Request Entity Too Large", "close")
	badWork  = resp("400 Bad Request", "text/plain", backends.BadWorkBody, "")
)

// drive feeds chunks to a fresh session as a backend would: unconsumed
// bytes stay buffered and are offered again with the next chunk; slow
// requests are answered at once, without waiting.
func drive(chunks ...[]byte) (out []byte, closed bool) {
	var s Session
	var pending []byte
	for _, ch := range chunks {
		pending = append(pending, ch...)
		n, o, c := serveNoWait(&s, pending, out)
		out = o
		if n > len(pending) || n < 0 {
			panic(fmt.Sprintf("consumed %d of %d", n, len(pending)))
		}
		pending = pending[n:]
		if c {
			return out, true
		}
	}
	return out, false
}

// serveNoWait is Session.Serve with every slow request finished at once,
// with the test date.
func serveNoWait(s *Session, buf, out []byte) (int, []byte, bool) {
	n := 0
	for {
		k, o, c, w := s.Serve(buf[n:], out, []byte(testDate))
		n, out = n+k, o
		if c {
			return len(buf), out, true
		}
		if w.Kind == None {
			return n, out, false
		}
		if out, c = s.Finish(out, []byte(testDate)); c {
			return len(buf), out, true
		}
	}
}

func TestServe(t *testing.T) {
	get := "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
	big := strings.Repeat("b", 100_000)
	tests := []struct {
		name   string
		in     string
		want   string
		closed bool
	}{
		{"plaintext", get, okPlain, false},
		{"pipelined", get + get + get, okPlain + okPlain + okPlain, false},
		{"not found keeps the query out", "GET /plaintext/x?y HTTP/1.1\r\nHost: x\r\n\r\n", notFound, false},
		{"query ignored", "GET /plaintext?x=/echo HTTP/1.1\r\nHost: x\r\n\r\n", okPlain, false},
		{"echo", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", resp("200 OK", "application/octet-stream", "hello", ""), false},
		{"echo empty", "POST /echo HTTP/1.1\r\nHost: x\r\n\r\n", resp("200 OK", "application/octet-stream", "", ""), false},
		{"echo large", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + big + get, resp("200 OK", "application/octet-stream", big, "") + okPlain, false},
		{"body on another path is skipped", "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nGET" + get, notFound + okPlain, false},
		{"head has no body", "HEAD /plaintext HTTP/1.1\r\nHost: x\r\n\r\n" + get, okPlain[:len(okPlain)-len(backends.PlaintextBody)] + okPlain, false},
		{"http/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", backends.BadRequestResponse, true},
		{"http/2", "GET /plaintext HTTP/2.0\r\nHost: x\r\n\r\n", backends.VersionNotSupportedResponse, true},
		{"partial request waits", get + "GET /plain", okPlain, false},
		{"connection close", "GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + get, resp("200 OK", "text/plain", "Hello, World!", "close"), true},
		{"http/1.0 closes", "GET /plaintext HTTP/1.0\r\n\r\n" + get, resp("200 OK", "text/plain", "Hello, World!", "close"), true},
		{"http/1.0 keep-alive", "GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + get, resp("200 OK", "text/plain", "Hello, World!", "keep-alive") + okPlain, false},
		{"chunked echo closes", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x\r\nde\r\n0\r\nT: 1\r\n\r\n" + get,
			resp("200 OK", "application/octet-stream", "abcde", "close"), true},
		{"te and cl: te wins, then close", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get,
			resp("200 OK", "application/octet-stream", "", "close"), true},
		{"bad request after good", get + "GET / HTTP/1.1\r\n\r\n", okPlain + backends.BadRequestResponse, true},
		{"bad chunk", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", backends.BadRequestResponse, true},
		{"unknown coding", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", backends.NotImplementedResponse, true},
		{"declared body too large", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n", tooLarge, true},
		{"chunked body too large", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n", tooLarge, true},
		{"header too large", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("h", 9000), backends.HeaderTooLargeResponse, true},
		{"delay", "GET /delay?us=5 HTTP/1.1\r\nHost: x\r\n\r\n" + get, okPlain + okPlain, false},
		{"cpu", "GET /cpu?x=1&us=0 HTTP/1.1\r\nHost: x\r\n\r\n" + get, okPlain + okPlain, false},
		{"delay with a body", "POST /delay?us=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" + get, okPlain + okPlain, false},
		{"delay chunked closes", "POST /delay?us=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n" + get, resp("200 OK", "text/plain", "Hello, World!", "close"), true},
		{"delay connection close", "GET /delay?us=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + get, resp("200 OK", "text/plain", "Hello, World!", "close"), true},
		{"head delay", "HEAD /delay?us=1 HTTP/1.1\r\nHost: x\r\n\r\n" + get, okPlain[:len(okPlain)-len(backends.PlaintextBody)] + okPlain, false},
		{"delay absolute form", "GET http://x?us=1 HTTP/1.1\r\nHost: x\r\n\r\n", notFound, false},
		{"delay without us", "GET /delay HTTP/1.1\r\nHost: x\r\n\r\n" + get, badWork + okPlain, false},
		{"cpu with a bad us", "GET /cpu?us=-1 HTTP/1.1\r\nHost: x\r\n\r\n" + get, badWork + okPlain, false},
		{"delay us too large", "GET /delay?us=10000001 HTTP/1.1\r\nHost: x\r\n\r\n", badWork, false},
		{"delay us repeated", "GET /delay?us=1&us=1 HTTP/1.1\r\nHost: x\r\n\r\n", badWork, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, closed := drive([]byte(tt.in))
			if string(out) != tt.want || closed != tt.closed {
				t.Fatalf("whole: closed=%v out\n%q\nwant closed=%v\n%q", closed, out, tt.closed, tt.want)
			}
			if len(tt.in) > 20_000 {
				return
			}
			// Split at every byte.
			for k := range len(tt.in) {
				out, closed := drive([]byte(tt.in[:k]), []byte(tt.in[k:]))
				if string(out) != tt.want || closed != tt.closed {
					t.Fatalf("split at %d: closed=%v out\n%q", k, closed, out)
				}
			}
			// One byte at a time.
			chunks := make([][]byte, len(tt.in))
			for i := range chunks {
				chunks[i] = []byte{tt.in[i]}
			}
			if out, closed := drive(chunks...); string(out) != tt.want || closed != tt.closed {
				t.Fatalf("bytewise: closed=%v out\n%q", closed, out)
			}
		})
	}
}

// TestServeBodyLimit pins the 413 boundary for Content-Length bodies.
func TestServeBodyLimit(t *testing.T) {
	body := strings.Repeat("z", backends.MaxBodyBytes)
	in := fmt.Sprintf("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	out, closed := drive([]byte(in[:1000]), []byte(in[1000:500_000]), []byte(in[500_000:]))
	if want := resp("200 OK", "application/octet-stream", body, ""); closed || string(out) != want {
		t.Fatalf("1 MiB body: closed=%v, %d bytes out, want %d", closed, len(out), len(want))
	}
}

func FuzzParseRequest(f *testing.F) {
	seeds := []string{
		"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;e\r\nabc\r\n0\r\nT: v\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz",
		"GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\n\n",
		"GET http://h/echo?q HTTP/1.1\r\nHost: h\r\n\r\n",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint16(i*7))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		req, n, err := parseRequest(in)
		if n < 0 || n > len(in) {
			t.Fatalf("consumed %d of %d", n, len(in))
		}
		k := int(split) % (len(in) + 1)
		preq, pn, perr := parseRequest(in[:k])
		switch {
		case perr == errNeedMore:
			// A prefix may always ask for more.
		case perr != err || pn != n:
			t.Fatalf("prefix %d: (n=%d, %v), whole: (n=%d, %v)", k, pn, perr, n, err)
		case err == nil && (!bytes.Equal(preq.path, req.path) || preq.contentLength != req.contentLength ||
			preq.chunked != req.chunked || preq.connClose != req.connClose || preq.minor != req.minor):
			t.Fatalf("prefix %d parsed differently", k)
		}
		if err == errNeedMore && perr != errNeedMore {
			t.Fatalf("prefix %d gave %v where the whole input needs more", k, perr)
		}

		// The whole connection: splitting the input must not change a byte
		// of the output.
		wout, wclosed := drive(in)
		sout, sclosed := drive(in[:k], in[k:])
		if !bytes.Equal(wout, sout) || wclosed != sclosed {
			t.Fatalf("split at %d changed the output:\nwhole %q (closed %v)\nsplit %q (closed %v)", k, wout, wclosed, sout, sclosed)
		}
	})
}

// pipelined16 is 16 plaintext GETs as wrk sends them.
var pipelined16 = bytes.Repeat([]byte("GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"), 16)

func BenchmarkParsePipelined16(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(pipelined16)))
	for b.Loop() {
		buf := pipelined16
		for len(buf) > 0 {
			_, n, err := parseRequest(buf)
			if err != nil {
				b.Fatal(err)
			}
			buf = buf[n:]
		}
	}
}

// BenchmarkServePipelined16 is the work of one read event holding 16
// pipelined plaintext requests: parse, route, build all 16 responses.
func BenchmarkServePipelined16(b *testing.B) {
	var s Session
	out := make([]byte, 0, 4096)
	date := backends.AppendDate(nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(pipelined16)))
	for b.Loop() {
		n, o, closed, w := s.Serve(pipelined16, out[:0], date)
		if n != len(pipelined16) || closed || w.Kind != None || len(o) != 16*len(okPlain) {
			b.Fatalf("n=%d closed=%v out=%d", n, closed, len(o))
		}
		out = o
	}
}

// TestServeStopsAtSlowRequest checks the Serve/Finish hand-over: Serve
// answers what precedes a slow request, consumes that request and returns
// its Work; Finish answers it; Serve goes on with the rest.
func TestServeStopsAtSlowRequest(t *testing.T) {
	get := "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
	slow := "GET /delay?us=5000 HTTP/1.1\r\nHost: x\r\n\r\n"
	in := []byte(get + slow + get + "GET /cpu?us=7 HTTP/1.1\r\nHost: x\r\n\r\n")
	date := []byte(testDate)
	var s Session
	n, out, closed, w := s.Serve(in, nil, date)
	if n != len(get)+len(slow) || closed || w != (Work{Kind: Delay, D: 5 * time.Millisecond}) || string(out) != okPlain || !s.Owed() {
		t.Fatalf("first Serve: n=%d closed=%v work=%+v owed=%v out=%q", n, closed, w, s.Owed(), out)
	}
	if out, closed = s.Finish(out, date); closed || string(out) != okPlain+okPlain || s.Owed() {
		t.Fatalf("Finish: closed=%v out=%q", closed, out)
	}
	k, out, closed, w := s.Serve(in[n:], out, date)
	if n+k != len(in) || closed || w != (Work{Kind: CPU, D: 7 * time.Microsecond}) || string(out) != okPlain+okPlain+okPlain {
		t.Fatalf("second Serve: n=%d closed=%v work=%+v out=%q", k, closed, w, out)
	}
	out, _ = s.Finish(out, date)
	if string(out) != strings.Repeat(okPlain, 4) {
		t.Fatalf("out=%q", out)
	}
}

// TestServeInline checks ServeInline does each Work in order and answers
// every request.
func TestServeInline(t *testing.T) {
	in := []byte("GET /cpu?us=3 HTTP/1.1\r\nHost: x\r\n\r\nGET /delay?us=4 HTTP/1.1\r\nHost: x\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
	var s Session
	var done []Work
	n, out, closed := s.ServeInline(in, nil, func(w Work) { done = append(done, w) })
	want := []Work{{CPU, 3 * time.Microsecond}, {Delay, 4 * time.Microsecond}}
	if n != len(in) || closed || !slices.Equal(done, want) || bytes.Count(out, []byte("200 OK")) != 3 {
		t.Fatalf("n=%d closed=%v done=%v out=%q", n, closed, done, out)
	}
}

// TestServeAllocs keeps the pipelined hot path free of allocations.
func TestServeAllocs(t *testing.T) {
	var s Session
	out := make([]byte, 0, 4096)
	date := backends.AppendDate(nil)
	slow := []byte("GET /delay?us=0 HTTP/1.1\r\nHost: x\r\n\r\n")
	if n := testing.AllocsPerRun(100, func() {
		s.Serve(pipelined16, out[:0], date)
		s.Serve(slow, out[:0], date)
		s.Finish(out[:0], date)
	}); n != 0 {
		t.Fatalf("Serve allocates %v times per run", n)
	}
}

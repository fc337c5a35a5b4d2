package h1

import (
	"bytes"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/backends"
)

func TestParseRequest(t *testing.T) {
	big := strings.Repeat("a", 7<<10)
	tests := []struct {
		name    string
		in      string
		err     error
		n       int // expected consumed length; -1 means len(in)
		path    string
		minor   byte
		cl      int64
		chunked bool
		close   bool
		keep    bool
		head    bool
		query   string
	}{
		{name: "plaintext", in: "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", n: -1, path: "/plaintext", minor: 1, cl: -1},
		{name: "query kept apart", in: "GET /plaintext?a=b&c HTTP/1.1\r\nHost: x\r\n\r\n", n: -1, path: "/plaintext", minor: 1, cl: -1, query: "a=b&c"},
		{name: "empty query", in: "GET /delay? HTTP/1.1\r\nHost: x\r\n\r\n", n: -1, path: "/delay", minor: 1, cl: -1},
		{name: "absolute form, query without path", in: "GET http://h?us=1 HTTP/1.1\r\nHost: h\r\n\r\n", n: -1, path: "/", minor: 1, cl: -1, query: "us=1"},
		{name: "body follows", in: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", n: 51, path: "/echo", minor: 1, cl: 3},
		{name: "header names any case", in: "POST /echo HTTP/1.1\r\nhOsT: x\r\ncOnTeNt-LeNgTh:   7 \r\nCONNECTION: Close\r\n\r\n", n: -1, path: "/echo", minor: 1, cl: 7, close: true},
		{name: "connection list", in: "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade ,\tkeep-alive\r\n\r\n", n: -1, path: "/", minor: 1, cl: -1, keep: true},
		{name: "same content-length twice", in: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", err: errBadRequest},
		{name: "http/1.0 without host", in: "GET /plaintext HTTP/1.0\r\n\r\n", n: -1, path: "/plaintext", minor: 0, cl: -1},
		{name: "absolute form", in: "GET http://example.com/plaintext?x HTTP/1.1\r\nHost: example.com\r\n\r\n", n: -1, path: "/plaintext", minor: 1, cl: -1, query: "x"},
		{name: "asterisk form", in: "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", err: errBadRequest},
		{name: "empty host value", in: "GET / HTTP/1.1\r\nHost:\r\n\r\n", n: -1, path: "/", minor: 1, cl: -1},
		{name: "obs-text value", in: "GET / HTTP/1.1\r\nHost: x\r\nX: \xff\xfe\r\n\r\n", n: -1, path: "/", minor: 1, cl: -1},
		{name: "chunked", in: "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n", n: -1, path: "/echo", minor: 1, cl: -1, chunked: true},
		{name: "chunked wins over content-length", in: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", n: -1, path: "/echo", minor: 1, cl: -1, chunked: true},
		{name: "huge content-length", in: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775806\r\n\r\n", n: -1, path: "/echo", minor: 1, cl: tooLong},
		{name: "content-length over 63 bits", in: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", err: errBadRequest},
		{name: "bare lf", in: "GET / HTTP/1.1\nHost: x\n\n", n: -1, path: "/", minor: 1, cl: -1},
		{name: "bare lf in headers", in: "GET / HTTP/1.1\r\nHost: x\n\r\n", n: -1, path: "/", minor: 1, cl: -1},
		{name: "obs-fold", in: "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", n: -1, path: "/", minor: 1, cl: -1},
		{name: "leading blank lines", in: "\r\n\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", n: -1, path: "/", minor: 1, cl: -1},
		{name: "head", in: "HEAD /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", n: -1, path: "/plaintext", minor: 1, cl: -1, head: true},
		{name: "7 KiB of headers", in: "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n", n: -1, path: "/", minor: 1, cl: -1},

		{name: "empty", in: "", err: errNeedMore},
		{name: "partial line", in: "GET /plaintext HTT", err: errNeedMore},
		{name: "no blank line yet", in: "GET / HTTP/1.1\r\nHost: x\r\n", err: errNeedMore},
		{name: "half of final crlf", in: "GET / HTTP/1.1\r\nHost: x\r\n\r", err: errNeedMore},

		{name: "bare cr", in: "GET / HTTP/1.1\r\nHost: x\ry: z\r\n\r\n", err: errBadRequest},
		{name: "no method", in: " / HTTP/1.1\r\nHost: x\r\n\r\n", err: errBadRequest},
		{name: "two spaces", in: "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", err: errBadRequest},
		{name: "missing version", in: "GET /\r\nHost: x\r\n\r\n", err: errBadRequest},
		{name: "http/2", in: "GET / HTTP/2.0\r\nHost: x\r\n\r\n", err: errVersion},
		{name: "http/2 preface", in: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", err: errBadRequest},
		{name: "version without dot", in: "GET / HTTP/1-1\r\nHost: x\r\n\r\n", err: errBadRequest},
		{name: "lower-case version", in: "GET / http/1.1\r\nHost: x\r\n\r\n", err: errBadRequest},
		{name: "trailing space", in: "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", err: errBadRequest},
		{name: "relative target", in: "GET plaintext HTTP/1.1\r\nHost: x\r\n\r\n", err: errBadRequest},
		{name: "control in target", in: "GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", err: errBadRequest},
		{name: "http/1.1 without host", in: "GET / HTTP/1.1\r\n\r\n", err: errBadRequest},
		{name: "two hosts", in: "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", err: errBadRequest},
		{name: "space before colon", in: "GET / HTTP/1.1\r\nHost : x\r\n\r\n", err: errBadRequest},
		{name: "no colon", in: "GET / HTTP/1.1\r\nHost x\r\n\r\n", err: errBadRequest},
		{name: "empty name", in: "GET / HTTP/1.1\r\n: x\r\nHost: x\r\n\r\n", err: errBadRequest},
		{name: "obs-fold of a field the server acts on", in: "GET / HTTP/1.1\r\nHost: x\r\nConnection: a\r\n close\r\n\r\n", err: errBadRequest},
		{name: "obs-fold before any field", in: "GET / HTTP/1.1\r\n b\r\nHost: x\r\n\r\n", err: errBadRequest},
		{name: "nul in value", in: "GET / HTTP/1.1\r\nHost: x\x00\r\n\r\n", err: errBadRequest},
		{name: "content-length not a number", in: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1a\r\n\r\n", err: errBadRequest},
		{name: "content-length negative", in: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", err: errBadRequest},
		{name: "content-length empty", in: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", err: errBadRequest},
		{name: "content-length list", in: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\n", err: errBadRequest},
		{name: "content-length conflict", in: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", err: errBadRequest},
		{name: "gzip coding", in: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", err: errCoding},
		{name: "identity coding", in: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n", err: errCoding},
		{name: "two te headers", in: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", err: errCoding},
		{name: "bad line is caught before the head ends", in: "GET / HTTP/1.1\r\nbad line\r\nHost: x", err: errBadRequest},

		{name: "headers over 8 KiB", in: "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n", err: errHeaderTooLarge},
		{name: "unterminated 8 KiB", in: "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 8<<10), err: errHeaderTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, n, err := parseRequest([]byte(tt.in))
			if err != tt.err {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err != nil {
				if n != 0 {
					t.Fatalf("n = %d on error", n)
				}
				return
			}
			want := tt.n
			if want < 0 {
				want = len(tt.in)
			}
			if n != want {
				t.Errorf("n = %d, want %d", n, want)
			}
			if string(req.path) != tt.path || req.minor != tt.minor || req.contentLength != tt.cl ||
				req.chunked != tt.chunked || req.connClose != tt.close || req.keepAlive != tt.keep || req.head != tt.head {
				t.Errorf("got path %q minor %d cl %d chunked %v close %v keep %v",
					req.path, req.minor, req.contentLength, req.chunked, req.connClose, req.keepAlive)
			}
			if string(req.query) != tt.query {
				t.Errorf("query %q, want %q", req.query, tt.query)
			}
		})
	}
}

// TestParseRequestHeaderLimit pins the 431 boundary: a head of exactly
// MaxHeaderBytes is served, one byte more is not.
func TestParseRequestHeaderLimit(t *testing.T) {
	head := func(size int) []byte {
		const pre, post = "GET / HTTP/1.1\r\nHost: x\r\nX: ", "\r\n\r\n"
		return []byte(pre + strings.Repeat("v", size-len(pre)-len(post)) + post)
	}
	if _, n, err := parseRequest(head(backends.MaxHeaderBytes)); err != nil || n != backends.MaxHeaderBytes {
		t.Fatalf("head of %d bytes: n=%d err=%v", backends.MaxHeaderBytes, n, err)
	}
	if _, _, err := parseRequest(head(backends.MaxHeaderBytes + 1)); err != errHeaderTooLarge {
		t.Fatalf("head of %d bytes: err=%v, want %v", backends.MaxHeaderBytes+1, err, errHeaderTooLarge)
	}
}

// TestParseRequestSplit checks that every prefix of a valid request asks
// for more and never fails.
func TestParseRequestSplit(t *testing.T) {
	in := []byte("POST /echo?x=1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
	whole, wn, err := parseRequest(in)
	if err != nil {
		t.Fatal(err)
	}
	for k := range in {
		req, n, err := parseRequest(in[:k])
		if k < wn {
			if err != errNeedMore {
				t.Fatalf("prefix %d: err %v, want need more", k, err)
			}
			continue
		}
		if err != nil || n != wn || !bytes.Equal(req.path, whole.path) || req.contentLength != whole.contentLength {
			t.Fatalf("prefix %d: got n=%d err=%v", k, n, err)
		}
	}
}

func TestChunkDecoder(t *testing.T) {
	tests := []struct {
		name string
		in   string
		body string
		n    int // consumed; -1 means len(in)
		err  error
	}{
		{name: "two chunks", in: "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", body: "hello world", n: -1},
		{name: "hex and extensions", in: "A;name=val\r\n0123456789\r\n0 ; last\r\n\r\n", body: "0123456789", n: -1},
		{name: "upper hex", in: "a\r\n0123456789\r\n1F\r\n" + strings.Repeat("x", 31) + "\r\n0\r\n\r\n", body: "0123456789" + strings.Repeat("x", 31), n: -1},
		{name: "trailers skipped", in: "3\r\nabc\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\n", body: "abc", n: -1},
		{name: "stops at body end", in: "1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n", body: "a", n: 11},
		{name: "need more in size", in: "5", err: errNeedMore, n: 0},
		{name: "need more in data", in: "5\r\nhel", body: "hel", err: errNeedMore, n: 6},
		{name: "need more before crlf", in: "5\r\nhello\r", body: "hello", err: errNeedMore, n: 8},
		{name: "need more in trailer", in: "0\r\nX: 1", err: errNeedMore, n: 3},
		{name: "no size", in: "\r\nabc", err: errBadRequest, n: 0},
		{name: "bad size", in: "g\r\n", err: errBadRequest, n: 0},
		{name: "negative size", in: "-1\r\n", err: errBadRequest, n: 0},
		{name: "bare lf after size", in: "1\na\r\n0\r\n\r\n", err: errBadRequest, n: 0},
		{name: "data longer than size", in: "1\r\nab\r\n0\r\n\r\n", body: "a", err: errBadRequest, n: 4},
		{name: "bad trailer", in: "0\r\nno colon\r\n\r\n", err: errBadRequest, n: 13},
		{name: "over limit in one chunk", in: "100001\r\n", err: errBodyTooLarge, n: 0},
		{name: "huge size", in: "ffffffffffffffffffffffff\r\n", err: errBodyTooLarge, n: 0},
		{name: "over limit in total", in: "80000\r\n" + strings.Repeat("x", 0x80000) + "\r\n80001\r\n", body: strings.Repeat("x", 0x80000), err: errBodyTooLarge, n: 7 + 0x80000 + 2},
		{name: "exactly the limit", in: "100000\r\n" + strings.Repeat("y", 1<<20) + "\r\n0\r\n\r\n", body: strings.Repeat("y", 1<<20), n: -1},
		{name: "size line too long", in: "1;" + strings.Repeat("e", maxChunkLine+1), err: errBadRequest, n: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d chunkDecoder
			var body []byte
			n, err := d.decode([]byte(tt.in), func(p []byte) { body = append(body, p...) })
			want := tt.n
			if want < 0 {
				want = len(tt.in)
			}
			if err != tt.err || n != want || string(body) != tt.body {
				t.Fatalf("got n=%d err=%v body %d bytes; want n=%d err=%v body %d bytes", n, err, len(body), want, tt.err, len(tt.body))
			}
		})
	}
}

// TestChunkDecoderBytewise feeds a chunked body one byte at a time, keeping
// unconsumed bytes as a connection buffer would.
func TestChunkDecoderBytewise(t *testing.T) {
	in := "4;x=y\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\n"
	var d chunkDecoder
	var body, pending []byte
	for i := range len(in) {
		pending = append(pending, in[i])
		n, err := d.decode(pending, func(p []byte) { body = append(body, p...) })
		pending = pending[n:]
		if i < len(in)-1 && err != errNeedMore {
			t.Fatalf("byte %d: err %v", i, err)
		}
		if i == len(in)-1 && (err != nil || len(pending) != 0) {
			t.Fatalf("end: err %v, %d bytes left", err, len(pending))
		}
	}
	if want := "Wikipedia in\r\n\r\nchunks."; string(body) != want {
		t.Fatalf("body %q, want %q", body, want)
	}
}

func BenchmarkParsePlaintext(b *testing.B) {
	in := []byte("GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, _, err := parseRequest(in); err != nil {
			b.Fatal(err)
		}
	}
}

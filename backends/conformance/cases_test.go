package conformance

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/asyncbench/asyncbench/backends"
)

// Requests and the responses the contract demands for them.
var (
	reqPlaintext  = "GET /plaintext HTTP/1.1\r\nHost: test\r\n\r\n"
	wantPlaintext = want("HTTP/1.1 200 OK", backends.PlaintextBody,
		"Content-Type: text/plain", "Content-Length: 13")
	wantPlaintextClose = want("HTTP/1.1 200 OK", backends.PlaintextBody,
		"Content-Type: text/plain", "Content-Length: 13", "Connection: close")
	reqNotFound  = "GET /nope HTTP/1.1\r\nHost: test\r\n\r\n"
	wantNotFound = want("HTTP/1.1 404 Not Found", backends.NotFoundBody,
		"Content-Type: text/plain", "Content-Length: 9")
	wantTooLarge = want("HTTP/1.1 413 Request Entity Too Large", backends.TooLargeBody,
		"Content-Type: text/plain", "Content-Length: 24", "Connection: close")
)

// reqEcho is a POST /echo with body and Content-Length.
func reqEcho(body string) string {
	return "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// wantEcho is the answer to a /echo request with body; extra headers (such
// as Connection: close) are added to the fixed ones.
func wantEcho(body string, extra ...string) string {
	h := append([]string{"Content-Type: application/octet-stream", "Content-Length: " + strconv.Itoa(len(body))}, extra...)
	return want("HTTP/1.1 200 OK", body, h...)
}

// chunked encodes body as a chunked request body with chunks of at most n
// bytes, terminator included.
func chunked(body string, n int) string {
	var b strings.Builder
	for len(body) > 0 {
		k := min(n, len(body))
		fmt.Fprintf(&b, "%x\r\n%s\r\n", k, body[:k])
		body = body[k:]
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

// reqChunkedEcho is a POST /echo with a chunked body.
func reqChunkedEcho(body string, n int) string {
	return "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body, n)
}

// withHeaderBytes returns a GET /plaintext whose request line and headers,
// blank line included, are exactly size bytes.
func withHeaderBytes(size int) string {
	const head = "GET /plaintext HTTP/1.1\r\nHost: test\r\nX-Pad: "
	const tail = "\r\n\r\n"
	return head + strings.Repeat("p", size-len(head)-len(tail)) + tail
}

// exchangeCase is one request (or pipeline of requests) on a fresh
// connection, with the responses the contract demands.
type exchangeCase struct {
	name  string
	req   string
	want  []string // normal forms, in order
	raw   string   // exact bytes instead of want, for Date-less fixed answers
	close bool     // the server closes after the responses
}

// httpCases are the single-exchange contract lines every HTTP backend must
// meet; each is a subtest and each is compared across backends.
func httpCases() []exchangeCase {
	smuggled := "GET /smuggled HTTP/1.1\r\nHost: test\r\n\r\n"
	clte := "0\r\n\r\n" + smuggled
	return []exchangeCase{
		{name: "plaintext", req: reqPlaintext, want: []string{wantPlaintext}},
		{name: "plaintext_query", req: "GET /plaintext?a=1&b=2 HTTP/1.1\r\nHost: test\r\n\r\n", want: []string{wantPlaintext}},
		{name: "not_found", req: reqNotFound, want: []string{wantNotFound}},
		{name: "not_found_root", req: "GET / HTTP/1.1\r\nHost: test\r\n\r\n", want: []string{wantNotFound}},
		{name: "echo_body", req: reqEcho("hello, echo"), want: []string{wantEcho("hello, echo")}},
		{name: "echo_get_empty", req: "GET /echo HTTP/1.1\r\nHost: test\r\n\r\n", want: []string{wantEcho("")}},
		{name: "echo_binary", req: reqEcho("\x00\x01\r\n\r\n\xff"), want: []string{wantEcho("\x00\x01\r\n\r\n\xff")}},
		{name: "echo_max_body", req: reqEcho(strings.Repeat("m", backends.MaxBodyBytes)), want: []string{wantEcho(strings.Repeat("m", backends.MaxBodyBytes))}},
		{name: "echo_chunked", req: reqChunkedEcho("hello chunked world", 5), want: []string{wantEcho("hello chunked world", "Connection: close")}, close: true},
		{name: "echo_chunked_empty", req: reqChunkedEcho("", 1), want: []string{wantEcho("", "Connection: close")}, close: true},
		{
			name: "echo_chunked_extension_trailer",
			req:  "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n",
			want: []string{wantEcho("abc", "Connection: close")}, close: true,
		},
		{
			// RFC 9112 §6.3: Transfer-Encoding wins, and the connection
			// closes, so the bytes after the chunked body are never served.
			name: "content_length_and_chunked",
			req:  "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: " + strconv.Itoa(len(clte)) + "\r\nTransfer-Encoding: chunked\r\n\r\n" + clte,
			want: []string{wantEcho("", "Connection: close")}, close: true,
		},
		{
			name: "chunked_then_pipelined",
			req:  reqChunkedEcho("first", 2) + reqPlaintext,
			want: []string{wantEcho("first", "Connection: close")}, close: true,
		},
		{name: "connection_close", req: "GET /plaintext HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", want: []string{wantPlaintextClose}, close: true},
		{name: "connection_close_echo", req: "POST /echo HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi", want: []string{wantEcho("hi", "Connection: close")}, close: true},
		{name: "connection_close_not_found", req: "GET /x HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", want: []string{want("HTTP/1.1 404 Not Found", backends.NotFoundBody, "Content-Type: text/plain", "Content-Length: 9", "Connection: close")}, close: true},
		{name: "too_large_declared", req: "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: " + strconv.Itoa(backends.MaxBodyBytes+1) + "\r\n\r\n", want: []string{wantTooLarge}, close: true},
		{name: "too_large_declared_huge", req: "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1099511627776\r\n\r\nxyz", want: []string{wantTooLarge}, close: true},
		{name: "too_large_chunked", req: reqChunkedEcho(strings.Repeat("c", backends.MaxBodyBytes+1), 64<<10), want: []string{wantTooLarge}, close: true},
		{name: "headers_7KiB", req: withHeaderBytes(7 << 10), want: []string{wantPlaintext}},
		{name: "headers_8KiB", req: withHeaderBytes(backends.MaxHeaderBytes), want: []string{wantPlaintext}},
		{name: "headers_9KiB", req: withHeaderBytes(9 << 10), raw: backends.HeaderTooLargeResponse, close: true},
		{name: "headers_64KiB", req: withHeaderBytes(64 << 10), raw: backends.HeaderTooLargeResponse, close: true},
		{name: "bad_request_line", req: "GARBAGE\r\n\r\n", raw: backends.BadRequestResponse, close: true},
		{name: "bad_header_line", req: "GET /plaintext HTTP/1.1\r\nHost: test\r\nno colon here\r\n\r\n", raw: backends.BadRequestResponse, close: true},
		{name: "unknown_transfer_encoding", req: "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip\r\n\r\nabc", raw: backends.NotImplementedResponse, close: true},
		{name: "identity_transfer_encoding", req: "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc", raw: backends.NotImplementedResponse, close: true},
		{name: "transfer_encoding_list", req: "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", raw: backends.NotImplementedResponse, close: true},
		// Edge cases the backends once answered differently; the contract
		// (backends/README.md, "Edge cases") fixes one answer for each.
		{name: "content_length_over_63_bits", req: "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 99999999999999999999\r\n\r\n", raw: backends.BadRequestResponse, close: true},
		{name: "obs_fold", req: "GET /plaintext HTTP/1.1\r\nHost: test\r\nX-Folded: a\r\n b\r\n\r\n", want: []string{wantPlaintext}},
		{name: "http2_request_line", req: "GET /plaintext HTTP/2.0\r\nHost: test\r\n\r\n", raw: backends.VersionNotSupportedResponse, close: true},
		{name: "http2_preface", req: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", raw: backends.BadRequestResponse, close: true},
		{name: "asterisk_form", req: "OPTIONS * HTTP/1.1\r\nHost: test\r\n\r\n", raw: backends.BadRequestResponse, close: true},
		{name: "bad_chunk_size", req: "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", raw: backends.BadRequestResponse, close: true},
	}
}

// badRequestCases are malformed requests that must get a 400 and a close;
// net/http words the reason differently for some, so only the status code
// and the close are checked.
var badRequestCases = []struct{ name, req string }{
	{"missing_host", "GET /plaintext HTTP/1.1\r\n\r\n"},
	{"bad_content_length", "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: abc\r\n\r\n"},
	{"negative_content_length", "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: -1\r\n\r\n"},
	{"conflicting_content_length", "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"},
	{"space_before_colon", "GET /plaintext HTTP/1.1\r\nHost: test\r\nX-Bad : v\r\n\r\n"},
	{"space_before_colon_host", "GET /plaintext HTTP/1.1\r\nHost : test\r\n\r\n"},
	{"bad_request_line_garbage", "GET\r\n\r\n"},
}

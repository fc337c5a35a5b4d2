package h1

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// FuzzParseRequestDiff feeds the same bytes to parseRequest and to
// net/http's http.ReadRequest (plus the checks net/http's server adds:
// Host, HTTP major version). They must agree on accept or reject and, when
// both accept, on the method's HEAD-ness, the path, the Content-Length and
// chunked framing, except for the differences the contract documents
// (backends/README.md, "Edge cases"), which knownDifference names.
func FuzzParseRequestDiff(f *testing.F) {
	for _, s := range []string{
		"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /plaintext?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
		"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\n\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		req, _, err := parseRequest(in)
		if err == errNeedMore || err == errHeaderTooLarge {
			return // incomplete, or over the limit net/http applies elsewhere
		}
		hr, herr := readRequestAsServer(in)
		if knownDifference(in, hr) {
			return
		}
		switch {
		case err != nil && herr == nil:
			t.Fatalf("gnet refuses (%v), net/http accepts %q", err, in)
		case err == nil && herr != nil:
			t.Fatalf("gnet accepts, net/http refuses (%v) %q", herr, in)
		case err != nil:
			return
		}
		if req.head != (hr.Method == http.MethodHead) {
			t.Fatalf("HEAD: gnet %v, net/http method %q", req.head, hr.Method)
		}
		if p, _, _ := strings.Cut(hr.RequestURI, "?"); strings.HasPrefix(p, "/") && p != string(req.path) {
			t.Fatalf("path: gnet %q, net/http %q", req.path, p)
		}
		chunked := len(hr.TransferEncoding) == 1 && hr.TransferEncoding[0] == "chunked"
		if req.chunked != chunked {
			t.Fatalf("chunked: gnet %v, net/http %q", req.chunked, hr.TransferEncoding)
		}
		want := hr.ContentLength
		if want > tooLong {
			want = tooLong
		}
		if hr.ContentLength == 0 && hr.Header.Get("Content-Length") == "" {
			want = -1 // net/http says 0 for no body; gnet says absent
		}
		if !chunked && req.contentLength != want {
			t.Fatalf("Content-Length: gnet %d, net/http %d", req.contentLength, hr.ContentLength)
		}
	})
}

// readRequestAsServer is http.ReadRequest plus the refusals net/http's
// server adds before a handler runs.
func readRequestAsServer(in []byte) (*http.Request, error) {
	hr, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(in)))
	if err != nil {
		return nil, err
	}
	// ReadRequest moves Host out of the header map; count the lines.
	hosts := countField(in, "host")
	switch {
	case hr.ProtoMajor != 1:
		return nil, errVersion
	case hr.ProtoMinor >= 1 && hosts == 0, hosts > 1:
		return nil, errBadRequest
	case hr.RequestURI == "*":
		return nil, errBadRequest // the stdlib backend's handler refuses it
	}
	// The server checks every field name and value (httpguts).
	for k, vs := range hr.Header {
		for _, c := range []byte(k) {
			if !isTokenChar[c] {
				return nil, errBadRequest
			}
		}
		for _, v := range vs {
			for _, c := range []byte(v) {
				if c < ' ' && c != '\t' || c == 0x7f {
					return nil, errBadRequest
				}
			}
		}
	}
	return hr, nil
}

// knownDifference reports whether in falls under a difference the contract
// documents between gnet and net/http.
func knownDifference(in []byte, hr *http.Request) bool {
	head := bytes.Join(headLines(in), []byte("\n"))
	switch {
	case len(in) > 0 && (in[0] == '\r' || in[0] == '\n'):
		return true // leading empty lines: gnet skips them, net/http refuses
	case hr != nil && countField(in, "content-length") > 1:
		return true // equal Content-Length lines: net/http merges them, gnet refuses
	case countField(in, "transfer-encoding") > 0 && bytes.Contains(firstLine(in), []byte("HTTP/1.0")):
		return true // HTTP/1.0 is outside the contract: net/http ignores its Transfer-Encoding, gnet answers 501
	case bytes.Contains(head, []byte("\n ")) || bytes.Contains(head, []byte("\n\t")) || len(head) > 0 && (head[0] == ' ' || head[0] == '\t'):
		return true // obs-fold: gnet refuses it on the fields it acts on
	case hr != nil && !strings.HasPrefix(hr.RequestURI, "/") && !strings.Contains(hr.RequestURI, "://"):
		return true // a target neither origin- nor absolute-form ("A:"): net/http takes it as an opaque URI, gnet refuses
	}
	return false
}

// headLines returns the field lines of the head at the start of in: the
// lines after the first, up to the first empty one (CRLF or bare LF).
func headLines(in []byte) [][]byte {
	lines := bytes.Split(in, []byte("\n"))[1:]
	for i, l := range lines {
		if len(bytes.TrimSuffix(l, []byte("\r"))) == 0 {
			return lines[:i]
		}
	}
	return lines
}

// countField counts the field lines called name (lower case) in the head
// at the start of in.
func countField(in []byte, name string) int {
	n := 0
	for _, line := range headLines(in) {
		k, _, ok := bytes.Cut(line, []byte(":"))
		if ok && strings.EqualFold(string(k), name) {
			n++
		}
	}
	return n
}

// firstLine is the first line of in.
func firstLine(in []byte) []byte {
	line, _, _ := bytes.Cut(in, []byte("\n"))
	return line
}

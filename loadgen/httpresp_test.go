package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

const plainResp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nDate: Wed, 25 Nov 2026 20:00:00 GMT\r\n\r\nHello, World!"

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Response
		wantN   int
		wantErr bool
	}{
		{"plaintext", plainResp, Response{Status: 200, BodyOff: len(plainResp) - 13, BodyLen: 13}, len(plainResp), false},
		{"pipelined: only first", plainResp + plainResp, Response{Status: 200, BodyOff: len(plainResp) - 13, BodyLen: 13}, len(plainResp), false},
		{"no reason phrase", "HTTP/1.1 204\r\n\r\n", Response{Status: 204, BodyOff: 16}, 16, false},
		{"case-insensitive names", "HTTP/1.1 404 Not Found\r\ncontent-LENGTH:   3 \r\nCONNECTION: keep-alive, Close\r\n\r\nabc",
			Response{Status: 404, BodyOff: 79, BodyLen: 3, Close: true}, 82, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;x=y\r\n, world\r\n0\r\n\r\n",
			Response{Status: 200, BodyOff: 47, BodyLen: 12, Chunked: true}, 78, false},
		{"chunked with trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\n0\r\nX-T: 1\r\n\r\n",
			Response{Status: 200, BodyOff: 47, BodyLen: 1, Chunked: true}, 66, false},
		{"until close", "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n400",
			Response{Status: 400, BodyOff: 47, BodyLen: -1, Close: true}, 47, false},
		{"http/1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", Response{Status: 200, BodyOff: 38, Close: true}, 38, false},
		{"same length twice", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", Response{Status: 200, BodyOff: 57, BodyLen: 1}, 58, false},

		{"partial status", "HTTP/1.1 20", Response{}, 0, false},
		{"partial header", "HTTP/1.1 200 OK\r\nContent-Len", Response{Status: 200}, 0, false},
		{"partial body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", Response{Status: 200, BodyOff: 38, BodyLen: 5}, 0, false},
		{"partial chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", Response{Status: 200, BodyOff: 47, Chunked: true}, 0, false},
		{"empty", "", Response{}, 0, false},

		{"not http", "SSH-2.0-OpenSSH\r\n", Response{}, 0, true},
		{"bad status digits", "HTTP/1.1 2x0 OK\r\n\r\n", Response{}, 0, true},
		{"status 099", "HTTP/1.1 099 X\r\n\r\n", Response{}, 0, true},
		{"informational", "HTTP/1.1 100 Continue\r\n\r\n" + plainResp, Response{Status: 100, BodyOff: 25}, 25, false},
		{"switching protocols", "HTTP/1.1 101 Switching Protocols\r\n\r\n", Response{}, 0, true},
		{"garbage without line end", "\x16\x03\x01\x02", Response{}, 0, true},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", Response{}, 0, true},
		{"bare LF in headers", "HTTP/1.1 200 OK\r\nA: b\n\r\n", Response{}, 0, true},
		{"no colon", "HTTP/1.1 200 OK\r\nContent-Length 1\r\n\r\nx", Response{}, 0, true},
		{"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx", Response{}, 0, true},
		{"obs-fold", "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", Response{}, 0, true},
		{"negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", Response{}, 0, true},
		{"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", Response{}, 0, true},
		{"huge length", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", Response{}, 0, true},
		{"gzip encoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", Response{}, 0, true},
		{"length and chunked", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Response{}, 0, true},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", Response{}, 0, true},
		{"chunk without CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nAB\r\n", Response{}, 0, true},
		{"header too large", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", maxResponseHeader), Response{}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, n, err := ParseResponse([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				var pe ProtocolError
				if !errors.As(err, &pe) {
					t.Fatalf("error %T is not a ProtocolError", err)
				}
				return
			}
			if n != tc.wantN {
				t.Fatalf("n = %d, want %d", n, tc.wantN)
			}
			if r != tc.want {
				t.Fatalf("response = %+v, want %+v", r, tc.want)
			}
		})
	}
}

// TestParseResponseSplit feeds a pipelined stream one prefix at a time: every
// prefix is either incomplete or the whole first response.
func TestParseResponseSplit(t *testing.T) {
	in := []byte(plainResp + "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	for cut := 0; cut <= len(in); cut++ {
		_, n, err := ParseResponse(in[:cut])
		if err != nil {
			t.Fatalf("prefix %d: %v", cut, err)
		}
		if want := 0; cut < len(plainResp) && n != want {
			t.Fatalf("prefix %d: n = %d, want 0", cut, n)
		}
		if cut >= len(plainResp) && n != len(plainResp) {
			t.Fatalf("prefix %d: n = %d, want %d", cut, n, len(plainResp))
		}
	}
	rest := in[len(plainResp):]
	for cut := 0; cut < len(rest); cut++ {
		if _, n, err := ParseResponse(rest[:cut]); err != nil || n != 0 {
			t.Fatalf("chunked prefix %d: n=%d err=%v", cut, n, err)
		}
	}
	if r, n, err := ParseResponse(rest); err != nil || n != len(rest) || r.BodyLen != 3 {
		t.Fatalf("chunked: %+v n=%d err=%v", r, n, err)
	}
}

func TestParseResponseAllocs(t *testing.T) {
	in := []byte(plainResp)
	bad := []byte("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")
	allocs := testing.AllocsPerRun(100, func() {
		_, _, _ = ParseResponse(in)
		_, _, _ = ParseResponse(bad)
	})
	if allocs != 0 {
		t.Fatalf("allocs = %v, want 0", allocs)
	}
}

func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(plainResp))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n400"))
	f.Add([]byte("HTTP/1.0 204\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := ParseResponse(b)
		if err != nil {
			if n != 0 {
				t.Fatalf("error with n = %d", n)
			}
			return
		}
		if n < 0 || n > len(b) {
			t.Fatalf("n = %d out of [0, %d]", n, len(b))
		}
		if n == 0 {
			return
		}
		if r.Status < 100 || r.Status > 999 || r.BodyOff > n || r.BodyOff < 16 {
			t.Fatalf("bad response %+v n=%d", r, n)
		}
		if !r.Chunked && r.BodyLen >= 0 && r.BodyOff+r.BodyLen != n {
			t.Fatalf("body %d+%d != n %d", r.BodyOff, r.BodyLen, n)
		}
		// A complete response parses the same with anything appended.
		r2, n2, err2 := ParseResponse(append(b[:n:n], "HTTP/1.1 200 OK\r\n"...))
		if err2 != nil || n2 != n || r2 != r {
			t.Fatalf("appending changed the result: %+v %d %v", r2, n2, err2)
		}
	})
}

// FuzzParseResponseDiff feeds the same bytes to ParseResponse and to
// net/http's ReadResponse. Where both accept a complete response they must
// agree on the status, the body length and whether the connection closes.
//
// ParseResponse refuses on purpose some responses net/http accepts: bare LF
// line ends, obs-fold continuation lines, status codes below 100, 101
// Switching Protocols, Transfer-Encoding other than chunked, and both
// Content-Length and Transfer-Encoding (RFC 9112 §6.3), Transfer-Encoding
// in an HTTP/1.0 response (§6.1: faulty framing). It accepts the
// close-delimited framing (BodyLen -1) only to report it; the connection
// refuses it (errUntilClose), so those bodies are not compared.
func FuzzParseResponseDiff(f *testing.F) {
	for _, seed := range []string{
		plainResp,
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
		"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
	} {
		f.Add([]byte(seed))
	}
	get, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := ParseResponse(b)
		if err != nil || n == 0 {
			return
		}
		resp, herr := http.ReadResponse(bufio.NewReader(bytes.NewReader(b[:n:n])), get)
		if herr != nil {
			return // net/http is stricter here (header field names, for one)
		}
		body, berr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if berr != nil {
			return
		}
		if resp.StatusCode != r.Status {
			t.Fatalf("status %d, net/http %d", r.Status, resp.StatusCode)
		}
		if r.BodyLen >= 0 && len(body) != r.BodyLen {
			t.Fatalf("body length %d, net/http %d (%+v)", r.BodyLen, len(body), r)
		}
		if r.Status >= 200 && r.Close != resp.Close {
			t.Fatalf("close %v, net/http %v", r.Close, resp.Close)
		}
	})
}

func BenchmarkParseResponse(b *testing.B) {
	in := []byte(plainResp)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, n, err := ParseResponse(in); n != len(in) || err != nil {
			b.Fatal(n, err)
		}
	}
}

package fasthttp

import (
	"testing"

	"github.com/asyncbench/asyncbench/backends"
)

func TestTransferEncoding(t *testing.T) {
	tests := []struct {
		raw    string
		want   string
		found  bool
		chunkd bool
	}{
		{"Host: x\r\n", "", false, true},
		{"Host: x\r\nTransfer-Encoding: chunked\r\n", "chunked", true, true},
		{"transfer-encoding:   CHUNKED \r\nHost: x\r\n", "CHUNKED", true, true},
		{"Host: x\r\nTransfer-Encoding: identity\r\n", "identity", true, false},
		{"X-Transfer-Encoding: gzip\r\n", "", false, true},
		{"Transfer-Encoding:gzip", "gzip", true, false},
	}
	for _, tt := range tests {
		got, found := transferEncoding([]byte(tt.raw))
		if string(got) != tt.want || found != tt.found {
			t.Errorf("transferEncoding(%q) = %q, %v; want %q, %v", tt.raw, got, found, tt.want, tt.found)
		}
		if c := chunkedOrNone([]byte(tt.raw)); c != tt.chunkd {
			t.Errorf("chunkedOrNone(%q) = %v, want %v", tt.raw, c, tt.chunkd)
		}
	}
}

func TestRawResponseSwap(t *testing.T) {
	r := newRawResponse(400, backends.BadRequestResponse)
	if r.code != 400 || string(r.reason) != "Bad Request" || string(r.contentType) != "text/plain; charset=utf-8" {
		t.Fatalf("parsed %d %q %q", r.code, r.reason, r.contentType)
	}
	head := "HTTP/1.1 400 Bad Request\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	earlier := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	tests := []struct{ name, in, want string }{
		{"alone", head, backends.BadRequestResponse},
		{"after pipelined answers", earlier + head, earlier + backends.BadRequestResponse},
		{"unexpected head kept", earlier + "HTTP/1.1 400 Bad Request\r\n\r\n", earlier + "HTTP/1.1 400 Bad Request\r\n\r\n"},
		{"short", "HTTP/1.1", "HTTP/1.1"},
	}
	for _, tt := range tests {
		if got := string(r.swap([]byte(tt.in))); got != tt.want {
			t.Errorf("%s: swap = %q, want %q", tt.name, got, tt.want)
		}
	}
}

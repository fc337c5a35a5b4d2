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

func TestParseFixed(t *testing.T) {
	f := parseFixed(backends.BadRequestResponse)
	if f.code != 400 || string(f.reason) != "Bad Request" || string(f.contentType) != "text/plain; charset=utf-8" || string(f.body) != "400 Bad Request" {
		t.Fatalf("parsed %d %q %q %q", f.code, f.reason, f.contentType, f.body)
	}
	f = parseFixed(backends.VersionNotSupportedResponse)
	if f.code != 505 || string(f.reason) != "HTTP Version Not Supported: unsupported protocol version" {
		t.Fatalf("parsed %d %q", f.code, f.reason)
	}
}

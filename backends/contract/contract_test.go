package contract_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/backends/contract"
	"github.com/asyncbench/asyncbench/backends/registry"
)

// TestCheckBackends: every backend of the Go server passes the check on
// every protocol it serves.
func TestCheckBackends(t *testing.T) {
	for _, b := range backends.Catalog {
		if b.External() {
			continue // a separate program; backends/conformance starts it
		}
		for _, p := range b.Protos {
			t.Run(b.Name+"/"+string(p), func(t *testing.T) {
				srv, err := registry.New(b.Name, p)
				if err != nil {
					t.Fatal(err)
				}
				addr, err := srv.Listen("127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer srv.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := contract.Check(ctx, addr.String(), p); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// wrong is a tiny HTTP server that answers every request the same wrong
// way, or right but for one detail.
type wrong struct {
	extra      string // header line added to every response
	body       string // body of /plaintext
	status404  bool   // answer unknown paths with 404 (else 200)
	noPipeline bool   // answer only the first request of a read
	ignoreConn bool   // ignore Connection: close
}

func (w wrong) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go w.conn(c)
		}
	}()
	return ln.Addr().String()
}

func (w wrong) conn(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		status, ctype, out := "200 OK", backends.ContentTypePlain, w.body
		switch {
		case req.URL.Path == "/echo":
			ctype, out = backends.ContentTypeEcho, string(body)
		case req.URL.Path != "/plaintext" && w.status404:
			status, out = "404 Not Found", backends.NotFoundBody
		}
		closing := req.Close && !w.ignoreConn
		resp := "HTTP/1.1 " + status + "\r\nContent-Type: " + ctype + "\r\nContent-Length: " + strconv.Itoa(len(out)) +
			"\r\nDate: " + time.Now().UTC().Format(http.TimeFormat) + "\r\n" + w.extra
		if closing {
			resp += "Connection: close\r\n"
		}
		if _, err := io.WriteString(c, resp+"\r\n"+out); err != nil || closing {
			return
		}
		if w.noPipeline && br.Buffered() > 0 {
			return
		}
	}
}

func TestCheckRefuses(t *testing.T) {
	right := wrong{body: backends.PlaintextBody, status404: true}
	tests := []struct {
		name  string
		srv   wrong
		check string // named in the error
		shows string // also in the error
	}{
		{"right", right, "", ""},
		{"server header", wrong{extra: "Server: tiny\r\n", body: backends.PlaintextBody, status404: true}, "check plaintext", "Server: tiny"},
		{"wrong body", wrong{body: "Hello, World", status404: true}, "check plaintext", "Hello, World"},
		{"no 404", wrong{body: backends.PlaintextBody}, "check not_found", "HTTP/1.1 200 OK"},
		{"no pipelining", wrong{body: backends.PlaintextBody, status404: true, noPipeline: true}, "check pipelined", "response 2 of 4"},
		{"keeps open", wrong{body: backends.PlaintextBody, status404: true, ignoreConn: true}, "check connection_close", "Connection: close"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tt.srv.serve(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := contract.Check(ctx, addr, backends.ProtoHTTP)
			if tt.check == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var f *contract.Failure
			if !errors.As(err, &f) || !strings.Contains(err.Error(), tt.check) || !strings.Contains(err.Error(), tt.shows) {
				t.Fatalf("err = %v, want a failure of %q showing %q", err, tt.check, tt.shows)
			}
		})
	}
}

// TestCheckEchoRefuses: an echo server that drops a byte, or keeps the
// connection open after the client's end, fails the echo check.
func TestCheckEchoRefuses(t *testing.T) {
	for _, tt := range []struct {
		name  string
		serve func(c net.Conn)
		shows string
	}{
		{"drops a byte", func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, 4096)
			first := true
			for {
				n, err := c.Read(buf)
				if n > 0 {
					out := buf[:n]
					if first {
						out, first = out[1:], false
					}
					c.Write(out)
				}
				if err != nil {
					return
				}
			}
		}, "first difference at byte 0"},
		{"right", func(c net.Conn) {
			defer c.Close()
			io.Copy(c, c)
		}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go tt.serve(c)
				}
			}()
			err = contract.Check(context.Background(), ln.Addr().String(), backends.ProtoEcho)
			if tt.shows == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "check echo_round_trip") || !strings.Contains(err.Error(), tt.shows) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

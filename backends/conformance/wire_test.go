package conformance

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/backends"
)

// ioTimeout bounds every socket operation so a broken backend fails a test
// instead of hanging it. It is a hang guard, not a speed limit: wide enough
// for a loaded 2-core machine running the race detector.
const ioTimeout = 30 * time.Second

// header is one response header line, as sent.
type header struct{ name, value string }

// response is one HTTP response read off the wire.
type response struct {
	status  string // status line without CRLF
	headers []header
	body    []byte
	raw     []byte // every byte of the response, as read
}

// get returns the values of the headers named name (exact case).
func (r *response) get(name string) []string {
	var vs []string
	for _, h := range r.headers {
		if h.name == name {
			vs = append(vs, h.value)
		}
	}
	return vs
}

// normal renders r with its headers sorted and the Date value replaced by
// "<date>", so two responses that differ only in Date and header order
// render the same.
func (r *response) normal() string {
	lines := make([]string, 0, len(r.headers))
	for _, h := range r.headers {
		v := h.value
		if h.name == "Date" {
			v = "<date>"
		}
		lines = append(lines, h.name+": "+v)
	}
	slices.Sort(lines)
	return r.status + "\r\n" + strings.Join(lines, "\r\n") + "\r\n\r\n" + string(r.body)
}

// readResponse reads one response strictly: CRLF line ends, a body framed
// by Content-Length or, without one, by the connection closing.
func readResponse(br *bufio.Reader) (*response, error) { return readResponseTo(br, false) }

// readResponseTo reads one response to a HEAD request (head true: no body
// whatever the headers say) or to any other request.
func readResponseTo(br *bufio.Reader, head bool) (*response, error) {
	r := &response{}
	line, err := readLine(br, r)
	if err != nil {
		return nil, fmt.Errorf("status line: %w", err)
	}
	r.status = line
	if !strings.HasPrefix(line, "HTTP/1.1 ") {
		return nil, fmt.Errorf("status line %q", line)
	}
	length := -1
	for {
		line, err := readLine(br, r)
		if err != nil {
			return nil, fmt.Errorf("header: %w (so far %q)", err, r.raw)
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ": ")
		if !ok {
			return nil, fmt.Errorf("header line %q", line)
		}
		r.headers = append(r.headers, header{name, value})
		switch strings.ToLower(name) {
		case "content-length":
			if length >= 0 {
				return nil, fmt.Errorf("two Content-Length headers")
			}
			if length, err = strconv.Atoi(value); err != nil || length < 0 {
				return nil, fmt.Errorf("Content-Length %q", value)
			}
		case "transfer-encoding":
			return nil, fmt.Errorf("response has Transfer-Encoding: %s", value)
		}
	}
	if head {
		return r, nil
	}
	if length >= 0 {
		r.body = make([]byte, length)
		if _, err := io.ReadFull(br, r.body); err != nil {
			return nil, fmt.Errorf("body of %d bytes: %w", length, err)
		}
	} else if r.body, err = io.ReadAll(br); err != nil {
		return nil, fmt.Errorf("close-delimited body: %w", err)
	}
	r.raw = append(r.raw, r.body...)
	return r, nil
}

func readLine(br *bufio.Reader, r *response) (string, error) {
	s, err := br.ReadString('\n')
	r.raw = append(r.raw, s...)
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(s, "\r\n") {
		return "", fmt.Errorf("line %q does not end in CRLF", s)
	}
	return s[:len(s)-2], nil
}

// client is one raw connection to a backend under test.
type client struct {
	t  *testing.T
	c  *net.TCPConn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(ioTimeout))
	return &client{t: t, c: c.(*net.TCPConn), br: bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) read() *response {
	c.t.Helper()
	r, err := readResponse(c.br)
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	return r
}

// expectEOF checks the server closed the connection after its last
// response: the next read is a clean EOF, not data, a reset or a timeout.
func (c *client) expectEOF() {
	c.t.Helper()
	b, err := c.br.ReadByte()
	if err == nil {
		rest, _ := c.br.Peek(c.br.Buffered())
		c.t.Fatalf("want close, got more bytes: %q", append([]byte{b}, rest...))
	}
	if !errors.Is(err, io.EOF) {
		c.t.Fatalf("want EOF, got %v", err)
	}
}

// expectOpen checks the connection is still usable: another request gets
// its answer.
func (c *client) expectOpen() {
	c.t.Helper()
	c.send(reqPlaintext)
	checkResponse(c.t, c.read(), wantPlaintext)
}

// exchange sends req on a fresh connection and reads one response.
func exchange(t *testing.T, addr, req string) (*client, *response) {
	t.Helper()
	c := dial(t, addr)
	c.send(req)
	return c, c.read()
}

// checkResponse compares r with want, ignoring the Date value and header
// order, and checks the Date value is an IMF-fixdate near now.
func checkResponse(t *testing.T, r *response, want string) {
	t.Helper()
	if got := r.normal(); got != want {
		t.Fatalf("response differs\n got: %q\nwant: %q", got, want)
	}
	checkDate(t, r)
}

// checkDate checks r carries one Date header, an IMF-fixdate within a few
// seconds of now.
func checkDate(t *testing.T, r *response) {
	t.Helper()
	dates := r.get("Date")
	if len(dates) != 1 {
		t.Fatalf("want one Date header, got %q", dates)
	}
	d, err := time.Parse(http.TimeFormat, dates[0])
	if err != nil {
		t.Fatalf("Date %q is not an IMF-fixdate: %v", dates[0], err)
	}
	if skew := time.Since(d); skew < -5*time.Second || skew > 5*time.Second {
		t.Fatalf("Date %q is %v away from now", dates[0], skew)
	}
}

// want renders an expected response the way response.normal does; the
// Date header is always present and listed as "Date: <date>".
func want(status string, body string, headers ...string) string {
	lines := append([]string{"Date: <date>"}, headers...)
	slices.Sort(lines)
	return status + "\r\n" + strings.Join(lines, "\r\n") + "\r\n\r\n" + body
}

// headOnly is want (a normal form) without its body: the answer to HEAD.
func headOnly(want string) string {
	head, _, _ := strings.Cut(want, "\r\n\r\n")
	return head + "\r\n\r\n"
}

// fixedForm is r's bytes as read with any Date and Content-Length lines
// removed from the head: how the contract compares its fixed, Date-less
// answers, which fasthttp writes with both lines (backends/http.go).
func fixedForm(r *response) string {
	head, body, _ := strings.Cut(string(r.raw), "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	kept := lines[:0]
	for _, l := range lines {
		if !strings.HasPrefix(l, "Date: ") && !strings.HasPrefix(l, "Content-Length: ") {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "\r\n") + "\r\n\r\n" + body
}

// isFixed reports whether r is one of the fixed answers compared by
// fixedForm: a 400, 431, 501 or 505. The 400 to a bad us= on /delay or
// /cpu is an ordinary answer with Date and Content-Length.
func isFixed(r *response) bool {
	if string(r.body) == backends.BadWorkBody {
		return false
	}
	for _, code := range []string{"400", "431", "501", "505"} {
		if strings.HasPrefix(r.status, "HTTP/1.1 "+code+" ") {
			return true
		}
	}
	return false
}

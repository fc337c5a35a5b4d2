// Package contract checks a running server against the backend contract
// over a few byte-level exchanges: enough to refuse a server that would
// measure something else (another body, extra headers, no keep-alive, no
// pipelining), quick enough to run before every benchmark of a server
// that is not one of ours. The full contract is backends/conformance's
// test suite; this is its smoke test, usable from outside tests.
//
// HTTP: GET /plaintext answered with exactly the fixed status, headers and
// body (a valid IMF-fixdate Date, no Server header), an unknown path with
// the fixed 404, POST /echo with its body, four pipelined requests in
// order, a request split across two writes, and Connection: close
// answered with it and followed by the close. Echo: random bytes returned
// in order, and the connection closed once the client shuts its side.
package contract

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/asyncbench/asyncbench/backends"
)

// Failure is a check the server did not pass: what was expected and what
// came back, both clipped.
type Failure struct {
	Check string // the check's name, e.g. "plaintext"
	Want  string
	Got   string
}

func (f *Failure) Error() string {
	return fmt.Sprintf("check %s: expected %q, got %q", f.Check, clip(f.Want), clip(f.Got))
}

// clipLen bounds the expected and received text in a Failure's message.
const clipLen = 200

func clip(s string) string {
	if len(s) <= clipLen {
		return s
	}
	return s[:clipLen] + fmt.Sprintf("…(%d bytes)", len(s))
}

// Check runs the contract's checks for proto against the server at addr
// (HOST:PORT) and returns the first failure: a *Failure for a wrong
// answer, or an error naming the check for a connection that failed. ctx
// bounds the whole check.
func Check(ctx context.Context, addr string, proto backends.Proto) error {
	var checks []check
	switch proto {
	case backends.ProtoHTTP:
		checks = httpChecks()
	case backends.ProtoEcho:
		checks = echoChecks()
	default:
		return fmt.Errorf("contract: unknown protocol %q", proto)
	}
	for _, c := range checks {
		if err := c.run(ctx, addr); err != nil {
			var f *Failure
			if errors.As(err, &f) {
				if f.Check == "" {
					f.Check = c.name
				}
				return f
			}
			return fmt.Errorf("check %s: %w", c.name, err)
		}
	}
	return nil
}

// check is one exchange on a fresh connection.
type check struct {
	name string
	run  func(ctx context.Context, addr string) error
}

// dial connects to addr with ctx's deadline (at most ioTimeout) on every
// read and write.
func dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(ioTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := c.SetDeadline(deadline); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// ioTimeout bounds each check's exchange.
const ioTimeout = 5 * time.Second

// Requests and the normal forms (see normal) of their answers.
var (
	reqPlaintext      = "GET /plaintext HTTP/1.1\r\nHost: contract\r\n\r\n"
	reqPlaintextClose = "GET /plaintext HTTP/1.1\r\nHost: contract\r\nConnection: close\r\n\r\n"
	reqNotFound       = "GET /contract-not-here HTTP/1.1\r\nHost: contract\r\n\r\n"

	wantPlaintext = normalForm("HTTP/1.1 200 OK", backends.PlaintextBody,
		"Content-Type: "+backends.ContentTypePlain, "Content-Length: "+strconv.Itoa(len(backends.PlaintextBody)))
	wantPlaintextClose = normalForm("HTTP/1.1 200 OK", backends.PlaintextBody,
		"Content-Type: "+backends.ContentTypePlain, "Content-Length: "+strconv.Itoa(len(backends.PlaintextBody)), "Connection: close")
	wantNotFound = normalForm("HTTP/1.1 404 Not Found", backends.NotFoundBody,
		"Content-Type: "+backends.ContentTypePlain, "Content-Length: "+strconv.Itoa(len(backends.NotFoundBody)))
)

func reqEcho(body string) string {
	return "POST /echo HTTP/1.1\r\nHost: contract\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

func wantEcho(body string) string {
	return normalForm("HTTP/1.1 200 OK", body, "Content-Type: "+backends.ContentTypeEcho, "Content-Length: "+strconv.Itoa(len(body)))
}

// httpChecks are the HTTP checks, in the order Check runs them.
func httpChecks() []check {
	echoBody := string(randomBytes(300, 1))
	return []check{
		{"plaintext", exchange(reqPlaintext, wantPlaintext)},
		{"not_found", exchange(reqNotFound, wantNotFound)},
		{"echo", exchange(reqEcho(echoBody), wantEcho(echoBody))},
		{"pipelined", exchange(reqPlaintext+reqNotFound+reqEcho("four")+reqPlaintext,
			wantPlaintext, wantNotFound, wantEcho("four"), wantPlaintext)},
		{"split", splitExchange(reqEcho(echoBody), len("POST /ec"), wantEcho(echoBody))},
		{"connection_close", closeExchange(reqPlaintextClose, wantPlaintextClose)},
	}
}

// exchange sends req in one write and expects the answers want, in order,
// on a connection that stays open.
func exchange(req string, want ...string) func(context.Context, string) error {
	return func(ctx context.Context, addr string) error {
		c, err := dial(ctx, addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := io.WriteString(c, req); err != nil {
			return err
		}
		return expect(bufio.NewReader(c), want)
	}
}

// splitExchange sends req in two writes, at byte at, a moment apart.
func splitExchange(req string, at int, want ...string) func(context.Context, string) error {
	return func(ctx context.Context, addr string) error {
		c, err := dial(ctx, addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := io.WriteString(c, req[:at]); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond) // the first part arrives alone
		if _, err := io.WriteString(c, req[at:]); err != nil {
			return err
		}
		return expect(bufio.NewReader(c), want)
	}
}

// closeExchange expects the answer want and then the server's close.
func closeExchange(req, want string) func(context.Context, string) error {
	return func(ctx context.Context, addr string) error {
		c, err := dial(ctx, addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := io.WriteString(c, req); err != nil {
			return err
		}
		br := bufio.NewReader(c)
		if err := expect(br, []string{want}); err != nil {
			return err
		}
		rest, err := io.ReadAll(br)
		if err != nil && !isReset(err) {
			return &Failure{Want: "the connection closed after the response", Got: err.Error()}
		}
		if len(rest) > 0 {
			return &Failure{Want: "the connection closed after the response", Got: string(rest)}
		}
		return nil
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && strings.Contains(ne.Err.Error(), "reset")
}

// expect reads one response per entry of want and compares their normal
// forms; the first difference is a Failure (Check names the check).
func expect(br *bufio.Reader, want []string) error {
	for i, w := range want {
		r, err := readResponse(br)
		if err != nil {
			return &Failure{Want: w, Got: fmt.Sprintf("response %d of %d: %v", i+1, len(want), err)}
		}
		got, date := r.normal()
		if got != w {
			return &Failure{Want: w, Got: got}
		}
		if err := checkDate(date); err != nil {
			return &Failure{Want: "one Date header, an IMF-fixdate near now", Got: err.Error()}
		}
	}
	return nil
}

// checkDate checks the Date values of a response: exactly one, an
// IMF-fixdate within a minute of now.
func checkDate(dates []string) error {
	if len(dates) != 1 {
		return fmt.Errorf("%d Date headers %q", len(dates), dates)
	}
	d, err := time.Parse(http.TimeFormat, dates[0])
	if err != nil || len(dates[0]) != len(http.TimeFormat) {
		return fmt.Errorf("Date %q is not an IMF-fixdate", dates[0])
	}
	if skew := time.Since(d); skew < -time.Minute || skew > time.Minute {
		return fmt.Errorf("Date %q is %v away from now", dates[0], skew.Round(time.Second))
	}
	return nil
}

// response is one HTTP response as read.
type response struct {
	status  string
	headers []string // "Name: value" as received
	body    []byte
}

// maxBody bounds a response body the checks read.
const maxBody = 1 << 20

// readResponse reads a response whose body is delimited by Content-Length.
func readResponse(br *bufio.Reader) (*response, error) {
	status, err := readLine(br)
	if err != nil {
		return nil, err
	}
	r := &response{status: status}
	n := -1
	for {
		line, err := readLine(br)
		if err != nil {
			return nil, err
		}
		if line == "" {
			break
		}
		r.headers = append(r.headers, line)
		name, value, _ := strings.Cut(line, ":")
		if strings.EqualFold(name, "Content-Length") {
			if n, err = strconv.Atoi(strings.TrimSpace(value)); err != nil || n < 0 || n > maxBody {
				return nil, fmt.Errorf("Content-Length %q", value)
			}
		}
	}
	if n < 0 {
		return nil, fmt.Errorf("%q: no Content-Length", r.status)
	}
	r.body = make([]byte, n)
	if _, err := io.ReadFull(br, r.body); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	return r, nil
}

// readLine reads a CRLF-terminated line without its CRLF.
func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			if line == "" {
				return "", errors.New("connection closed")
			}
			return "", fmt.Errorf("connection closed in %q", line)
		}
		return "", err
	}
	l, ok := strings.CutSuffix(line, "\r\n")
	if !ok {
		return "", fmt.Errorf("line %q does not end in CRLF", line)
	}
	return l, nil
}

// normal is the response with its headers sorted and every Date value
// replaced by "<date>" (returned apart): two responses that differ only in
// Date and header order have the same normal form.
func (r *response) normal() (form string, dates []string) {
	lines := make([]string, len(r.headers))
	for i, h := range r.headers {
		if v, ok := strings.CutPrefix(h, "Date: "); ok {
			dates = append(dates, v)
			h = "Date: <date>"
		}
		lines[i] = h
	}
	slices.Sort(lines)
	return r.status + "\r\n" + strings.Join(lines, "\r\n") + "\r\n\r\n" + string(r.body), dates
}

// normalForm is the normal form of the response with status, body and
// headers plus a Date.
func normalForm(status, body string, headers ...string) string {
	lines := append([]string{"Date: <date>"}, headers...)
	slices.Sort(lines)
	return status + "\r\n" + strings.Join(lines, "\r\n") + "\r\n\r\n" + body
}

// echoChecks are the checks of the echo protocol.
func echoChecks() []check {
	return []check{{"echo_round_trip", echoRoundTrip}}
}

// echoRoundTrip writes random bytes in pieces of several sizes, reads
// them back, shuts its write side and expects the server to close.
func echoRoundTrip(ctx context.Context, addr string) error {
	c, err := dial(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	msg := randomBytes(64<<10, 2)
	errc := make(chan error, 1)
	go func() {
		rest := msg
		for _, n := range []int{1, 7, 100, 4096, 1 << 14} {
			n = min(n, len(rest))
			if _, err := c.Write(rest[:n]); err != nil {
				errc <- err
				return
			}
			rest = rest[n:]
		}
		if _, err := c.Write(rest); err != nil {
			errc <- err
			return
		}
		errc <- c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if werr := <-errc; werr != nil && err == nil {
		err = werr
	}
	if !bytes.Equal(got, msg) {
		i := 0
		for i < len(got) && i < len(msg) && got[i] == msg[i] {
			i++
		}
		return &Failure{
			Want: fmt.Sprintf("the %d bytes sent, in order, then the close", len(msg)),
			Got:  fmt.Sprintf("%d bytes, first difference at byte %d (read error: %v)", len(got), i, err)}
	}
	if err != nil {
		return &Failure{Want: "the close after the bytes", Got: err.Error()}
	}
	return nil
}

// randomBytes returns n bytes drawn from a PCG with seed.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

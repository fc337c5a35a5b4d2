// Package fasthttp serves the HTTP contract with valyala/fasthttp: requests
// run on goroutines from fasthttp's worker pool. It does not serve echo.
package fasthttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/asyncbench/asyncbench/backends"
)

// New returns a server for proto; only backends.ProtoHTTP is served.
func New(proto backends.Proto) (backends.Server, error) {
	if proto != backends.ProtoHTTP {
		return nil, fmt.Errorf("fasthttp: %s: %w (fasthttp serves HTTP only)", proto, backends.ErrUnsupported)
	}
	return &Server{}, nil
}

// Server serves the HTTP contract with a fasthttp.Server.
type Server struct {
	srv   *fasthttp.Server
	ln    *listener
	serve chan error
}

var _ backends.Server = (*Server)(nil)

// Listen binds addr and starts serving in the background.
func (s *Server) Listen(addr string) (net.Addr, error) {
	ln, err := backends.ListenTCP(context.Background(), addr)
	if err != nil {
		return nil, fmt.Errorf("fasthttp: %w", err)
	}
	s.ln = &listener{Listener: ln, conns: make(map[*conn]struct{})}
	s.srv = &fasthttp.Server{
		Handler:        handle,
		ErrorHandler:   handleError,
		HeaderReceived: headerReceived,
		// The request line and headers must fit the read buffer, so its
		// size is the header limit; a longer head fails with ErrSmallBuffer.
		ReadBufferSize:                backends.MaxHeaderBytes,
		MaxRequestBodySize:            backends.MaxBodyBytes,
		DisablePreParseMultipartForm:  true,
		DisableHeaderNamesNormalizing: true,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		// Errors are then fasthttp's sentinels, which handleError tells
		// apart, and do not quote the request.
		SecureErrorLogMessage: true,
		Logger:                discard{},
	}
	s.serve = make(chan error, 1)
	go func() { s.serve <- s.srv.Serve(s.ln) }()
	return ln.Addr(), nil
}

// Close stops accepting, closes every connection and waits for serving to
// stop.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	err := s.ln.closeAll()
	if serr := <-s.serve; err == nil && !errors.Is(serr, net.ErrClosed) {
		err = serr
	}
	// Shutdown returns once every connection goroutine has finished.
	if serr := s.srv.Shutdown(); err == nil && !errors.Is(serr, net.ErrClosed) {
		err = serr
	}
	return err
}

var (
	strPlain     = []byte(backends.ContentTypePlain)
	strEcho      = []byte(backends.ContentTypeEcho)
	strPlaintext = []byte(backends.PlaintextBody)
	strNotFound  = []byte(backends.NotFoundBody)
	strTooLarge  = []byte(backends.TooLargeBody)
	strBadWork   = []byte(backends.BadWorkBody)
	msgTooLarge  = []byte(http.StatusText(http.StatusRequestEntityTooLarge))

	fixedBadRequest     = parseFixed(backends.BadRequestResponse)
	fixedHeaderTooLarge = parseFixed(backends.HeaderTooLargeResponse)
	fixedVersion        = parseFixed(backends.VersionNotSupportedResponse)
	fixedNotImplemented = parseFixed(backends.NotImplementedResponse)
)

// fixed is one of the contract's Date-less answers, split into what
// fasthttp is told to write.
type fixed struct {
	code        int
	reason      []byte
	contentType []byte
	body        []byte
}

// parseFixed splits a fixed response: "HTTP/1.1 code reason",
// Content-Type, Connection: close, body.
func parseFixed(resp string) fixed {
	status, rest, _ := strings.Cut(resp, "\r\n")
	head, body, _ := strings.Cut(rest, "\r\n\r\n")
	codeText, reason, _ := strings.Cut(strings.TrimPrefix(status, "HTTP/1.1 "), " ")
	code, _ := strconv.Atoi(codeText)
	ct, _, _ := strings.Cut(strings.TrimPrefix(head, "Content-Type: "), "\r\n")
	return fixed{code: code, reason: []byte(reason), contentType: []byte(ct), body: []byte(body)}
}

// write answers with f and closes. fasthttp adds its Date line and frames
// the body with a Content-Length line, the two differences from net/http's
// bytes the contract allows.
func (f *fixed) write(ctx *fasthttp.RequestCtx) {
	ctx.Response.Reset()
	ctx.SetStatusCode(f.code)
	ctx.Response.Header.SetStatusMessage(f.reason)
	ctx.Response.Header.SetContentTypeBytes(f.contentType)
	ctx.Response.SetBodyRaw(f.body)
	ctx.SetConnectionClose()
}

// headerReceived runs once the head is read, before the body. A request
// that carries Transfer-Encoding is marked Connection: close, so the answer
// says so and nothing after its body is read as a request.
func headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if _, ok := transferEncoding(h.RawHeaders()); ok {
		h.SetConnectionClose()
	}
	return fasthttp.RequestConfig{}
}

// handle routes on the path alone; fasthttp adds the Date header. Every
// request first pays backends.Handicap; /delay parks the worker goroutine
// in time.Sleep and /cpu computes on it with backends.BurnCPU.
func handle(ctx *fasthttp.RequestCtx) {
	req := &ctx.Request.Header
	switch {
	case !bytes.HasPrefix(req.Protocol(), []byte("HTTP/1.")):
		fixedVersion.write(ctx)
		return
	case req.ConnectionClose() && !chunkedOrNone(req.RawHeaders()):
		// fasthttp takes "identity" silently.
		fixedNotImplemented.write(ctx)
		return
	case req.IsHTTP11() && len(req.Host()) == 0, string(req.RequestURI()) == "*":
		fixedBadRequest.write(ctx)
		return
	}
	backends.PayHandicap()
	h := &ctx.Response.Header
	switch string(ctx.Path()) {
	case "/plaintext":
		h.SetContentTypeBytes(strPlain)
		ctx.Response.SetBodyRaw(strPlaintext)
	case backends.DelayPath, backends.CPUPath:
		d, ok := backends.ParseMicros(ctx.URI().QueryString())
		h.SetContentTypeBytes(strPlain)
		if !ok {
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			ctx.Response.SetBodyRaw(strBadWork)
			return
		}
		if string(ctx.Path()) == backends.DelayPath {
			if d > 0 {
				time.Sleep(d)
			}
		} else {
			backends.BurnCPU(d)
		}
		ctx.Response.SetBodyRaw(strPlaintext)
	case "/echo":
		h.SetContentTypeBytes(strEcho)
		ctx.Response.SetBodyRaw(ctx.Request.Body())
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		h.SetContentTypeBytes(strPlain)
		ctx.Response.SetBodyRaw(strNotFound)
	}
}

// handleError answers requests fasthttp could not read.
func handleError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.As(err, &small):
		fixedHeaderTooLarge.write(ctx)
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		ctx.Response.Reset()
		ctx.SetStatusCode(fasthttp.StatusRequestEntityTooLarge)
		ctx.Response.Header.SetStatusMessage(msgTooLarge)
		ctx.Response.Header.SetContentTypeBytes(strPlain)
		ctx.Response.SetBodyRaw(strTooLarge)
		ctx.SetConnectionClose()
	case errors.Is(err, fasthttp.ErrUnsupportedTransferEncoding):
		fixedNotImplemented.write(ctx)
	default:
		fixedBadRequest.write(ctx)
	}
}

// transferEncoding returns the value of the first Transfer-Encoding line
// in raw request headers.
func transferEncoding(raw []byte) ([]byte, bool) {
	const name = "transfer-encoding:"
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if len(line) > len(name) && line[0]|0x20 == 't' && bytes.EqualFold(line[:len(name)], []byte(name)) {
			return bytes.TrimSpace(line[len(name):]), true
		}
	}
	return nil, false
}

// chunkedOrNone reports whether raw request headers carry no
// Transfer-Encoding or exactly "chunked". fasthttp drops "identity"
// silently; the contract refuses every coding but chunked.
func chunkedOrNone(raw []byte) bool {
	te, ok := transferEncoding(raw)
	return !ok || bytes.EqualFold(te, []byte("chunked"))
}

// discard drops fasthttp's log lines: serving prints nothing per request.
type discard struct{}

func (discard) Printf(string, ...any) {}

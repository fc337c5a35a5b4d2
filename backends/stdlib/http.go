package stdlib

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/asyncbench/asyncbench/backends"
)

// bufioSlop is what net/http adds to Server.MaxHeaderBytes when it limits
// the bytes read for a request line and headers.
const bufioSlop = 4096

// HTTPServer serves the HTTP contract with net/http, one goroutine per
// connection and no timeouts.
type HTTPServer struct {
	srv   *http.Server
	serve chan error
	conns sync.WaitGroup
}

var _ backends.Server = (*HTTPServer)(nil)

// Listen binds addr and starts serving in the background.
func (s *HTTPServer) Listen(addr string) (net.Addr, error) {
	ln, err := backends.ListenTCP(context.Background(), addr)
	if err != nil {
		return nil, fmt.Errorf("stdlib http: %w", err)
	}
	s.srv = &http.Server{
		Handler:                      handler{},
		MaxHeaderBytes:               backends.MaxHeaderBytes - bufioSlop,
		DisableGeneralOptionsHandler: true,
		ConnState:                    s.connState,
		ErrorLog:                     log.New(io.Discard, "", 0),
	}
	s.serve = make(chan error, 1)
	go func() { s.serve <- s.srv.Serve(ln) }()
	return ln.Addr(), nil
}

// connState counts live connections so Close can wait for them. StateNew
// runs on the Serve goroutine, so no Add races with the Wait in Close.
func (s *HTTPServer) connState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		s.conns.Add(1)
	case http.StateClosed, http.StateHijacked:
		s.conns.Done()
	}
}

// Close stops accepting, closes every connection and waits for serving to
// stop.
func (s *HTTPServer) Close() error {
	if s.srv == nil {
		return nil
	}
	err := s.srv.Close()
	if serr := <-s.serve; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	s.conns.Wait()
	return err
}

// Header values shared by every response; net/http only reads them.
var (
	hdrPlain   = []string{backends.ContentTypePlain}
	hdrEcho    = []string{backends.ContentTypeEcho}
	hdrClose   = []string{"close"}
	hdrLenBody = []string{strconv.Itoa(len(backends.PlaintextBody))}
	hdrLen404  = []string{strconv.Itoa(len(backends.NotFoundBody))}
	hdrLen413  = []string{strconv.Itoa(len(backends.TooLargeBody))}
	hdrLen400  = []string{strconv.Itoa(len(backends.BadWorkBody))}
)

// handler routes on the path alone. net/http adds the Date header. Every
// request first pays backends.Handicap; /delay parks the connection's
// goroutine in time.Sleep and /cpu computes on it with backends.BurnCPU.
type handler struct{}

func (handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.RequestURI == "*":
		// The asterisk-form (OPTIONS *, and the HTTP/2 preface PRI *
		// HTTP/2.0, which net/http hands to the handler) is refused, as
		// fasthttp does. net/http answers other HTTP/2.0 request lines
		// with backends.VersionNotSupportedResponse itself.
		writeRaw(w, backends.BadRequestResponse)
		return
	case len(r.Header["Content-Length"]) > 1:
		// net/http accepts repeated equal values; the contract refuses
		// every repeat, as fasthttp does.
		writeRaw(w, backends.BadRequestResponse)
		return
	}
	backends.PayHandicap()
	h := w.Header()
	if len(r.TransferEncoding) > 0 {
		// Nothing after a Transfer-Encoding body is trusted as a request.
		h["Connection"] = hdrClose
	}
	switch r.URL.Path {
	case "/plaintext":
		plaintext(w)
	case backends.DelayPath, backends.CPUPath:
		d, ok := backends.ParseMicros([]byte(r.URL.RawQuery))
		if !ok {
			h["Content-Type"] = hdrPlain
			h["Content-Length"] = hdrLen400
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, backends.BadWorkBody)
			return
		}
		if r.URL.Path == backends.DelayPath {
			if d > 0 {
				time.Sleep(d)
			}
		} else {
			backends.BurnCPU(d)
		}
		plaintext(w)
	case "/echo":
		serveEcho(w, r)
	default:
		h["Content-Type"] = hdrPlain
		h["Content-Length"] = hdrLen404
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, backends.NotFoundBody)
	}
}

func plaintext(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = hdrPlain
	h["Content-Length"] = hdrLenBody
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, backends.PlaintextBody)
}

var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func serveEcho(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > backends.MaxBodyBytes {
		tooLarge(w)
		return
	}
	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	body, err := readBody((*bp)[:0], r.Body)
	*bp = body[:0]
	switch {
	case errors.Is(err, errTooLarge):
		tooLarge(w)
		return
	case err != nil:
		writeRaw(w, backends.BadRequestResponse)
		return
	}
	h := w.Header()
	h["Content-Type"] = hdrEcho
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

var errTooLarge = errors.New("request body too large")

// readBody appends r to buf until EOF, failing with errTooLarge once more
// than backends.MaxBodyBytes arrive.
func readBody(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > backends.MaxBodyBytes {
			return buf, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func tooLarge(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = hdrPlain
	h["Content-Length"] = hdrLen413
	h["Connection"] = hdrClose
	w.WriteHeader(http.StatusRequestEntityTooLarge)
	io.WriteString(w, backends.TooLargeBody)
}

// writeRaw answers with one of the contract's fixed, Date-less responses,
// written raw as net/http does for a malformed request head, and closes
// the connection.
func writeRaw(w http.ResponseWriter, resp string) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	io.WriteString(c, resp)
	c.Close()
}

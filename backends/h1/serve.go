package h1

import (
	"strconv"
	"time"

	"github.com/asyncbench/asyncbench/backends"
)

// route is what a request maps to.
type route uint8

const (
	routeNotFound route = iota
	routePlaintext
	routeEcho
	routeDelay   // GET /delay?us=N: wait, then answer like /plaintext
	routeCPU     // GET /cpu?us=N: compute, then answer like /plaintext
	routeBadWork // /delay or /cpu with a bad us=: the 400 with BadWorkBody
)

// routeOf maps a path and its raw query to a route and, for the slow
// routes, the time to wait or compute.
func routeOf(path, query []byte) (route, time.Duration) {
	var rt route
	switch string(path) { // no allocation: the conversion is only compared
	case "/plaintext":
		return routePlaintext, 0
	case "/echo":
		return routeEcho, 0
	case backends.DelayPath:
		rt = routeDelay
	case backends.CPUPath:
		rt = routeCPU
	default:
		return routeNotFound, 0
	}
	d, ok := backends.ParseMicros(query)
	if !ok {
		return routeBadWork, 0
	}
	return rt, d
}

// Kind says what a slow request asks of its caller.
type Kind uint8

// The kinds of Work.
const (
	None  Kind = iota // nothing: no slow request is owed
	Delay             // wait for D (GET /delay): a call to a slow service
	CPU               // compute for D of CPU time (GET /cpu)
)

// Work is the slow step of one request: wait or compute for D.
type Work struct {
	Kind Kind
	D    time.Duration
}

// Inline does w on the calling goroutine: time.Sleep for Delay (the
// goroutine parks, its thread does not block) and backends.BurnCPU for
// CPU.
func (w Work) Inline() {
	switch w.Kind {
	case Delay:
		if w.D > 0 {
			time.Sleep(w.D)
		}
	case CPU:
		backends.BurnCPU(w.D)
	}
}

// maxKeptBody is the largest echo body buffer a session keeps between requests.
const maxKeptBody = 64 << 10

// Session is the HTTP/1.1 state of one connection between reads: at most
// one request whose head has been parsed and whose body is still arriving,
// or one slow request (/delay, /cpu) consumed and not yet answered.
// Requests whose head and body are both buffered are answered straight
// from the input and leave no state here. Its zero value is ready. A
// Session does no I/O and is not safe for concurrent use; it may move
// between goroutines when the moves are synchronised.
type Session struct {
	inBody    bool  // a request's body is being received
	route     route // its route
	work      time.Duration
	head      bool         // it is a HEAD request
	closeConn bool         // close once it is answered
	keepAlive bool         // it is HTTP/1.0 with Connection: keep-alive
	chunked   bool         // its body is chunked
	owed      bool         // a slow request was handed out as Work; Finish answers it
	left      int64        // Content-Length bytes still to come
	chunk     chunkDecoder // the chunked body decoder
	body      []byte       // the body so far, kept for /echo only
}

// Serve answers the complete requests at the start of buf, the bytes the
// connection has buffered, appending the responses to out with date as the
// Date value. It returns the number of bytes of buf consumed (the rest must
// be offered again with more data appended) and whether the connection must
// close once out is written.
//
// Serve stops at a slow request (/delay or /cpu with a valid us=): it
// consumes that request, answers nothing for it and returns its Work. The
// caller then waits or computes as its design does (inline, on a pool, on
// its thread), calls Finish to append the answer, and calls Serve again on
// buf[n:], so requests pipelined after a slow one are answered in order.
// Serve must not be called while a Work is owed.
//
// Each request whose head is parsed first pays backends.Handicap. Serve
// does no I/O.
func (s *Session) Serve(buf, out, date []byte) (n int, _ []byte, closeConn bool, w Work) {
	if s.owed {
		panic("h1: Serve called while a slow request is owed")
	}
	for {
		if s.inBody {
			used, done, err := s.readBody(buf[n:])
			n += used
			if err != nil {
				s.reset()
				return len(buf), appendRefusal(out, date, err), true, Work{}
			}
			if !done {
				return n, out, false, Work{}
			}
			if w, ok := s.slow(); ok {
				return n, out, false, w
			}
			var body []byte
			if s.route == routeEcho {
				body = s.body
			}
			out = appendResponse(out, s.route, body, date, s.closeConn, s.keepAlive, s.head)
			closeConn = s.closeConn
			s.reset()
			if closeConn {
				return len(buf), out, true, Work{}
			}
		}
		if n == len(buf) {
			return n, out, false, Work{}
		}
		req, hn, err := parseRequest(buf[n:])
		if err == errNeedMore {
			return n, out, false, Work{}
		}
		if err != nil {
			return len(buf), appendRefusal(out, date, err), true, Work{}
		}
		backends.PayHandicap()
		rt, d := routeOf(req.path, req.query)
		// A parsed request with Transfer-Encoding is chunked; it always closes.
		closeAfter := req.connClose || req.chunked || (req.minor == 0 && !req.keepAlive)
		keepAlive := req.minor == 0 && !closeAfter
		switch cl := req.contentLength; {
		case req.chunked:
			n += hn
			s.start(rt, d, closeAfter, keepAlive, req.head)
			s.chunked = true
			continue
		case cl > backends.MaxBodyBytes:
			return len(buf), appendTooLarge(out, date), true, Work{}
		case cl <= 0:
			n += hn
			if rt == routeDelay || rt == routeCPU {
				return n, out, false, s.startSlow(rt, d, closeAfter, keepAlive, req.head)
			}
			out = appendResponse(out, rt, nil, date, closeAfter, keepAlive, req.head)
		case int64(len(buf)-n-hn) >= cl:
			end := n + hn + int(cl)
			if rt == routeDelay || rt == routeCPU {
				return end, out, false, s.startSlow(rt, d, closeAfter, keepAlive, req.head)
			}
			out = appendResponse(out, rt, buf[n+hn:end], date, closeAfter, keepAlive, req.head)
			n = end
		default:
			n += hn
			s.start(rt, d, closeAfter, keepAlive, req.head)
			s.left = cl
			continue
		}
		if closeAfter {
			return len(buf), out, true, Work{}
		}
	}
}

// startSlow takes a slow request that has no body still to come and
// returns its Work (see slow).
func (s *Session) startSlow(rt route, d time.Duration, closeConn, keepAlive, head bool) Work {
	s.start(rt, d, closeConn, keepAlive, head)
	w, _ := s.slow()
	return w
}

// slow marks the current request, whose body (if any) is complete, as
// owed and returns its Work when its route is a slow one.
func (s *Session) slow() (Work, bool) {
	var k Kind
	switch s.route {
	case routeDelay:
		k = Delay
	case routeCPU:
		k = CPU
	default:
		return Work{}, false
	}
	s.inBody, s.owed = false, true
	return Work{Kind: k, D: s.work}, true
}

// Owed reports whether a slow request was handed out by Serve and not yet
// answered by Finish.
func (s *Session) Owed() bool { return s.owed }

// Finish appends the answer to the slow request Serve handed out (exactly
// /plaintext's answer, with that request's Connection handling) and
// reports whether the connection must close once out is written; if not,
// the caller goes on with Serve on the rest of its input. Finish without an
// owed request appends nothing.
func (s *Session) Finish(out, date []byte) (_ []byte, closeConn bool) {
	if !s.owed {
		return out, false
	}
	out = appendResponse(out, routePlaintext, nil, date, s.closeConn, s.keepAlive, s.head)
	closeConn = s.closeConn
	s.reset()
	return out, closeConn
}

// ServeInline serves buf like Serve, doing every slow request's Work with
// do on the calling goroutine before answering it (and first the one a
// previous Serve left owed). The Date value is taken afresh after each
// Work. It returns what Serve returns, without Work.
func (s *Session) ServeInline(buf, out []byte, do func(Work)) (n int, _ []byte, closeConn bool) {
	var dateBuf [32]byte
	date := backends.AppendDate(dateBuf[:0])
	if s.owed {
		do(Work{Kind: s.kind(), D: s.work})
		date = backends.AppendDate(dateBuf[:0])
		if out, closeConn = s.Finish(out, date); closeConn {
			return len(buf), out, true
		}
	}
	for {
		k, o, c, w := s.Serve(buf[n:], out, date)
		n, out = n+k, o
		if c {
			return len(buf), out, true
		}
		if w.Kind == None {
			return n, out, false
		}
		do(w)
		date = backends.AppendDate(dateBuf[:0])
		if out, closeConn = s.Finish(out, date); closeConn {
			return len(buf), out, true
		}
	}
}

// kind is the Kind of the owed request.
func (s *Session) kind() Kind {
	if s.route == routeCPU {
		return CPU
	}
	return Delay
}

// start enters the body phase of a request.
func (s *Session) start(rt route, d time.Duration, closeConn, keepAlive, head bool) {
	s.inBody, s.route, s.work, s.closeConn, s.keepAlive, s.head = true, rt, d, closeConn, keepAlive, head
}

// reset leaves the body phase, keeping a small body buffer for reuse.
func (s *Session) reset() {
	body := s.body[:0]
	if cap(body) > maxKeptBody {
		body = nil
	}
	*s = Session{body: body}
}

// readBody consumes body bytes of the current request from buf.
func (s *Session) readBody(buf []byte) (n int, done bool, err error) {
	if !s.chunked {
		take := min(int64(len(buf)), s.left)
		if s.route == routeEcho {
			s.body = append(s.body, buf[:take]...)
		}
		s.left -= take
		return int(take), s.left == 0, nil
	}
	var data func([]byte)
	if s.route == routeEcho {
		data = s.appendBody
	}
	n, err = s.chunk.decode(buf, data)
	switch err {
	case nil:
		return n, true, nil
	case errNeedMore:
		return n, false, nil
	}
	return n, false, err
}

// appendBody collects decoded body bytes.
func (s *Session) appendBody(p []byte) { s.body = append(s.body, p...) }

// Response pieces.
const (
	status200        = "HTTP/1.1 200 OK\r\n"
	status404        = "HTTP/1.1 404 Not Found\r\n"
	status400        = "HTTP/1.1 400 Bad Request\r\n"
	status413        = "HTTP/1.1 413 Request Entity Too Large\r\n"
	headPlaintext    = status200 + "Content-Type: " + backends.ContentTypePlain + "\r\nContent-Length: 13\r\nDate: "
	headNotFound     = status404 + "Content-Type: " + backends.ContentTypePlain + "\r\nContent-Length: 9\r\nDate: "
	headEcho         = status200 + "Content-Type: " + backends.ContentTypeEcho + "\r\nContent-Length: "
	headBadWork      = status400 + "Content-Type: " + backends.ContentTypePlain + "\r\nContent-Length: 41\r\nDate: "
	headTooLarge     = status413 + "Content-Type: " + backends.ContentTypePlain + "\r\nContent-Length: 24\r\nDate: "
	connCloseLine    = "Connection: close\r\n"
	connKeepLine     = "Connection: keep-alive\r\n"
	headerDateSuffix = "\r\n"
)

// appendResponse appends the full response for rt. Header order is
// Content-Type, Content-Length, Date, then Connection when present. The
// answer to HEAD has the same headers and no body.
func appendResponse(out []byte, rt route, body, date []byte, closeConn, keepAlive, head bool) []byte {
	switch rt {
	case routePlaintext:
		out = append(out, headPlaintext...)
		body = []byte(backends.PlaintextBody)
	case routeEcho:
		out = append(out, headEcho...)
		out = strconv.AppendInt(out, int64(len(body)), 10)
		out = append(out, "\r\nDate: "...)
	case routeBadWork:
		out = append(out, headBadWork...)
		body = []byte(backends.BadWorkBody)
	default:
		out = append(out, headNotFound...)
		body = []byte(backends.NotFoundBody)
	}
	out = append(out, date...)
	out = append(out, headerDateSuffix...)
	switch {
	case closeConn:
		out = append(out, connCloseLine...)
	case keepAlive:
		out = append(out, connKeepLine...)
	}
	out = append(out, "\r\n"...)
	if head {
		return out
	}
	return append(out, body...)
}

// appendRefusal appends the answer to a request refused with a parse
// error other than errNeedMore; the connection closes after it.
func appendRefusal(out, date []byte, err error) []byte {
	switch err {
	case errBodyTooLarge:
		return appendTooLarge(out, date)
	case errHeaderTooLarge:
		return append(out, backends.HeaderTooLargeResponse...)
	case errVersion:
		return append(out, backends.VersionNotSupportedResponse...)
	case errCoding:
		return append(out, backends.NotImplementedResponse...)
	}
	return append(out, backends.BadRequestResponse...)
}

// appendTooLarge appends the 413 response; the connection closes after it.
func appendTooLarge(out, date []byte) []byte {
	out = append(out, headTooLarge...)
	out = append(out, date...)
	out = append(out, headerDateSuffix+connCloseLine+"\r\n"+backends.TooLargeBody...)
	return out
}

package gnet

import (
	"strconv"

	"github.com/asyncbench/asyncbench/backends"
)

// route is what a request path maps to.
type route uint8

const (
	routeNotFound route = iota
	routePlaintext
	routeEcho
)

// routeOf maps a path (query already removed) to its route.
func routeOf(path []byte) route {
	switch string(path) { // no allocation: the conversion is only compared
	case "/plaintext":
		return routePlaintext
	case "/echo":
		return routeEcho
	}
	return routeNotFound
}

// maxKeptBody is the largest echo body buffer a session keeps between requests.
const maxKeptBody = 64 << 10

// session is the HTTP state of one connection between read events: at most
// one request whose head has been parsed and whose body is still arriving.
// Requests whose head and body are both buffered are answered straight from
// the inbound buffer and leave no state here.
type session struct {
	inBody    bool         // a request's body is being received
	route     route        // its route
	head      bool         // it is a HEAD request
	closeConn bool         // close once it is answered
	keepAlive bool         // it is HTTP/1.0 with Connection: keep-alive
	chunked   bool         // its body is chunked
	left      int64        // Content-Length bytes still to come
	chunk     chunkDecoder // the chunked body decoder
	body      []byte       // the body so far, kept for /echo only
}

// serve answers every complete request at the start of buf, the bytes the
// connection has buffered, appending the responses to out with date as the
// Date value. It returns the number of bytes of buf consumed (the rest must be
// offered again with more data appended) and whether the connection must
// close once out is written. serve does no I/O.
func (s *session) serve(buf, out, date []byte) (n int, _ []byte, closeConn bool) {
	for {
		if s.inBody {
			used, done, err := s.readBody(buf[n:])
			n += used
			switch err {
			case nil:
			case errBodyTooLarge:
				s.reset()
				return len(buf), appendTooLarge(out, date), true
			default:
				s.reset()
				return len(buf), append(out, backends.BadRequestResponse...), true
			}
			if !done {
				return n, out, false
			}
			var body []byte
			if s.route == routeEcho {
				body = s.body
			}
			out = appendResponse(out, s.route, body, date, s.closeConn, s.keepAlive, s.head)
			closeConn = s.closeConn
			s.reset()
			if closeConn {
				return len(buf), out, true
			}
		}
		if n == len(buf) {
			return n, out, false
		}
		req, hn, err := parseRequest(buf[n:])
		switch err {
		case nil:
		case errNeedMore:
			return n, out, false
		case errHeaderTooLarge:
			return len(buf), append(out, backends.HeaderTooLargeResponse...), true
		case errVersion:
			return len(buf), append(out, backends.VersionNotSupportedResponse...), true
		case errCoding:
			return len(buf), append(out, backends.NotImplementedResponse...), true
		default:
			return len(buf), append(out, backends.BadRequestResponse...), true
		}
		rt := routeOf(req.path)
		// A parsed request with Transfer-Encoding is chunked; it always closes.
		closeAfter := req.connClose || req.chunked || (req.minor == 0 && !req.keepAlive)
		keepAlive := req.minor == 0 && !closeAfter
		switch cl := req.contentLength; {
		case req.chunked:
			n += hn
			s.start(rt, closeAfter, keepAlive, req.head)
			s.chunked = true
			continue
		case cl > backends.MaxBodyBytes:
			return len(buf), appendTooLarge(out, date), true
		case cl <= 0:
			n += hn
			out = appendResponse(out, rt, nil, date, closeAfter, keepAlive, req.head)
		case int64(len(buf)-n-hn) >= cl:
			end := n + hn + int(cl)
			out = appendResponse(out, rt, buf[n+hn:end], date, closeAfter, keepAlive, req.head)
			n = end
		default:
			n += hn
			s.start(rt, closeAfter, keepAlive, req.head)
			s.left = cl
			continue
		}
		if closeAfter {
			return len(buf), out, true
		}
	}
}

// start enters the body phase of a request.
func (s *session) start(rt route, closeConn, keepAlive, head bool) {
	s.inBody, s.route, s.closeConn, s.keepAlive, s.head = true, rt, closeConn, keepAlive, head
}

// reset leaves the body phase, keeping a small body buffer for reuse.
func (s *session) reset() {
	body := s.body[:0]
	if cap(body) > maxKeptBody {
		body = nil
	}
	*s = session{body: body}
}

// readBody consumes body bytes of the current request from buf.
func (s *session) readBody(buf []byte) (n int, done bool, err error) {
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
func (s *session) appendBody(p []byte) { s.body = append(s.body, p...) }

// Response pieces.
const (
	status200        = "HTTP/1.1 200 OK\r\n"
	status404        = "HTTP/1.1 404 Not Found\r\n"
	status413        = "HTTP/1.1 413 Request Entity Too Large\r\n"
	headPlaintext    = status200 + "Content-Type: " + backends.ContentTypePlain + "\r\nContent-Length: 13\r\nDate: "
	headNotFound     = status404 + "Content-Type: " + backends.ContentTypePlain + "\r\nContent-Length: 9\r\nDate: "
	headEcho         = status200 + "Content-Type: " + backends.ContentTypeEcho + "\r\nContent-Length: "
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

// appendTooLarge appends the 413 response; the connection closes after it.
func appendTooLarge(out, date []byte) []byte {
	out = append(out, headTooLarge...)
	out = append(out, date...)
	out = append(out, headerDateSuffix+connCloseLine+"\r\n"+backends.TooLargeBody...)
	return out
}

package h1

import (
	"bytes"
	"errors"
	"math"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/internal/ascii"
)

// Parse results other than success. They are sentinels compared with ==.
var (
	errNeedMore       = errors.New("incomplete request")
	errBadRequest     = errors.New("malformed request")
	errVersion        = errors.New("HTTP version not supported")
	errCoding         = errors.New("transfer coding not implemented")
	errHeaderTooLarge = errors.New("request header too large")
	errBodyTooLarge   = errors.New("request body too large")
)

// request is the parsed head of one HTTP/1.x request. Its slices alias the
// parsed buffer and are valid only while that buffer is.
type request struct {
	path          []byte // request-target path without the query
	query         []byte // raw query after '?' (not unescaped), nil when there is none
	head          bool   // the method is HEAD: the answer has no body
	minor         byte   // HTTP/1.minor
	contentLength int64  // -1 when absent or when chunked; MaxBodyBytes+1 stands for anything larger
	chunked       bool   // Transfer-Encoding: chunked, the only coding a parsed request can carry
	connClose     bool   // Connection: close
	keepAlive     bool   // Connection: keep-alive
	hasHost       bool
}

// tooLong stands for any Content-Length or chunk total over the body limit.
const tooLong = backends.MaxBodyBytes + 1

// parseRequest parses the request line and headers at the start of buf in
// place. On success n is the length of the head including the blank line
// that ends it; the body, if any, follows. It returns errNeedMore when buf
// holds no complete head yet, errHeaderTooLarge when the head is or must
// become longer than backends.MaxHeaderBytes, and errBadRequest for anything
// malformed, errVersion for an HTTP major version other than 1, errCoding
// for a Transfer-Encoding other than one "chunked". Every
// complete line is checked as soon as it is present, so a prefix of an
// input never gives a different error than the whole input. Empty lines
// before the request line are skipped (RFC 9112 §2.2); lines may end in a
// bare LF (§2.2 allows it, as net/http does).
func parseRequest(buf []byte) (req request, n int, err error) {
	req.contentLength = -1
	var line []byte
	next := 0
	for len(line) == 0 {
		if line, next, err = headLine(buf, next); err != nil {
			return req, 0, err
		}
	}
	if err := parseRequestLine(line, &req); err != nil {
		return req, 0, err
	}
	var h fields
	for {
		line, next, err = headLine(buf, next)
		if err != nil {
			return req, 0, err
		}
		if len(line) == 0 {
			break
		}
		if err := h.parse(line, &req); err != nil {
			return req, 0, err
		}
	}
	if h.seenTE {
		if !req.chunked {
			return req, 0, errCoding
		}
		// RFC 9112 §6.3: Transfer-Encoding overrides Content-Length; the
		// connection closes after the answer so nothing can be smuggled.
		req.contentLength = -1
	}
	if req.minor >= 1 && !req.hasHost {
		return req, 0, errBadRequest
	}
	return req, next, nil
}

// headLine returns the line of the head starting at buf[from:] without its
// CRLF or bare LF, and the offset just past it.
func headLine(buf []byte, from int) (line []byte, next int, err error) {
	i := bytes.IndexByte(buf[from:], '\n')
	if i < 0 {
		if len(buf) >= backends.MaxHeaderBytes {
			return nil, 0, errHeaderTooLarge
		}
		return nil, 0, errNeedMore
	}
	next = from + i + 1
	if next > backends.MaxHeaderBytes {
		return nil, 0, errHeaderTooLarge
	}
	line = buf[from : from+i]
	if i > 0 && line[i-1] == '\r' {
		line = line[:i-1]
	}
	return line, next, nil
}

// parseRequestLine parses "METHOD SP request-target SP HTTP/1.d". The
// method is checked but not kept: routing is on the path alone.
func parseRequestLine(line []byte, req *request) error {
	i := 0
	for i < len(line) && isTokenChar[line[i]] {
		i++
	}
	if i == 0 || i >= len(line) || line[i] != ' ' {
		return errBadRequest
	}
	req.head = string(line[:i]) == "HEAD"
	rest := line[i+1:]
	j := 0
	for j < len(rest) && rest[j] > ' ' && rest[j] != 0x7f {
		j++
	}
	if j == 0 || j >= len(rest) || rest[j] != ' ' {
		return errBadRequest
	}
	path, query, ok := targetPath(rest[:j])
	if !ok {
		return errBadRequest
	}
	req.path, req.query = path, query
	v := rest[j+1:]
	if len(v) != 8 || string(v[:5]) != "HTTP/" || !isDigit(v[5]) || v[6] != '.' || !isDigit(v[7]) {
		return errBadRequest
	}
	if v[5] != '1' {
		return errVersion
	}
	req.minor = v[7] - '0'
	return nil
}

// targetPath returns the path and the raw query of a request-target:
// origin-form ("/p?q") or absolute-form ("http://host/p?q"). The
// asterisk-form ("*", OPTIONS only, and the HTTP/2 preface's PRI *) is
// refused, as fasthttp does.
func targetPath(t []byte) (path, query []byte, ok bool) {
	if t[0] != '/' {
		k := bytes.Index(t, []byte("://"))
		if k <= 0 {
			return nil, nil, false
		}
		for _, c := range t[:k] {
			if !isSchemeChar(c) {
				return nil, nil, false
			}
		}
		rest := t[k+3:]
		s := bytes.IndexByte(rest, '/')
		q := bytes.IndexByte(rest, '?')
		switch {
		case s < 0 && q < 0:
			return rootPath, nil, true
		case s < 0 || (q >= 0 && q < s):
			return rootPath, rest[q+1:], true
		}
		t = rest[s:]
	}
	if q := bytes.IndexByte(t, '?'); q >= 0 {
		return t[:q], t[q+1:], true
	}
	return t, nil, true
}

// rootPath is the path of an absolute-form target without one.
var rootPath = []byte("/")

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isSchemeChar reports whether c may appear in a URI scheme.
func isSchemeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

// fields is what the header section has shown so far.
type fields struct {
	seenCL, seenTE bool
	acted          bool // the last field is one the server acts on
	any            bool // a field line has been seen
}

// parse parses one field line and records the headers the server acts on.
// A line starting with a space or tab continues the previous field
// (obs-fold, RFC 9112 §5.2): it is accepted and ignored, unless it
// continues a field the server acts on or no field precedes it.
func (h *fields) parse(line []byte, req *request) error {
	if line[0] == ' ' || line[0] == '\t' {
		if !h.any || h.acted {
			return errBadRequest
		}
		for _, c := range line {
			if !isValueChar[c] {
				return errBadRequest
			}
		}
		return nil
	}
	name, value, err := splitField(line)
	if err != nil {
		return err
	}
	h.any, h.acted = true, true
	value = ascii.TrimOWS(value)
	switch {
	case len(name) == 4 && ascii.EqualFold(name, "host"):
		if req.hasHost {
			return errBadRequest
		}
		req.hasHost = true
	case len(name) == 10 && ascii.EqualFold(name, "connection"):
		parseConnection(value, req)
	case len(name) == 14 && ascii.EqualFold(name, "content-length"):
		cl, ok := parseContentLength(value)
		if !ok || h.seenCL {
			return errBadRequest // repeats are refused, equal or not, as fasthttp does
		}
		h.seenCL = true
		req.contentLength = cl
	case len(name) == 17 && ascii.EqualFold(name, "transfer-encoding"):
		if h.seenTE {
			return errCoding // two codings at most can only mean chunked twice
		}
		h.seenTE = true
		req.chunked = ascii.EqualFold(value, "chunked")
	default:
		h.acted = false
	}
	return nil
}

// parseContentLength parses 1*DIGIT; values over the body limit become
// tooLong. A value that does not fit 63 bits is malformed, as net/http and
// fasthttp hold.
func parseContentLength(v []byte) (int64, bool) {
	n, ok := ascii.ParseDecimal(v, math.MaxInt64-1)
	if n == math.MaxInt64 {
		return 0, false
	}
	if n > backends.MaxBodyBytes {
		n = tooLong
	}
	return n, ok
}

// parseConnection reads the comma-separated Connection options.
func parseConnection(v []byte, req *request) {
	for len(v) > 0 {
		var tok []byte
		if k := bytes.IndexByte(v, ','); k >= 0 {
			tok, v = v[:k], v[k+1:]
		} else {
			tok, v = v, nil
		}
		tok = ascii.TrimOWS(tok)
		switch {
		case ascii.EqualFold(tok, "close"):
			req.connClose = true
		case ascii.EqualFold(tok, "keep-alive"):
			req.keepAlive = true
		}
	}
}

// isTokenChar marks the tchar bytes of RFC 9110 §5.6.2.
var isTokenChar = [256]bool{
	'!': true, '#': true, '$': true, '%': true, '&': true, '\'': true, '*': true,
	'+': true, '-': true, '.': true, '^': true, '_': true, '`': true, '|': true, '~': true,
	'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true,
	'A': true, 'B': true, 'C': true, 'D': true, 'E': true, 'F': true, 'G': true, 'H': true, 'I': true,
	'J': true, 'K': true, 'L': true, 'M': true, 'N': true, 'O': true, 'P': true, 'Q': true, 'R': true,
	'S': true, 'T': true, 'U': true, 'V': true, 'W': true, 'X': true, 'Y': true, 'Z': true,
	'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true, 'g': true, 'h': true, 'i': true,
	'j': true, 'k': true, 'l': true, 'm': true, 'n': true, 'o': true, 'p': true, 'q': true, 'r': true,
	's': true, 't': true, 'u': true, 'v': true, 'w': true, 'x': true, 'y': true, 'z': true,
}

// isValueChar marks the bytes allowed in a field value: HTAB, visible
// ASCII, space and obs-text.
var isValueChar = func() (t [256]bool) {
	t['\t'] = true
	for c := 0x20; c < 0x100; c++ {
		t[c] = c != 0x7f
	}
	return t
}()

// chunkPhase is where a chunked body decoder stands.
type chunkPhase uint8

const (
	chunkSize    chunkPhase = iota // expecting a chunk-size line
	chunkData                      // inside chunk data
	chunkDataEnd                   // expecting the CRLF after chunk data
	chunkTrailer                   // inside the trailer section
	chunkDone                      // the body is complete
)

// Limits on the framing lines of a chunked body.
const (
	maxChunkLine    = 4 << 10 // one chunk-size line with its extensions
	maxTrailerBytes = backends.MaxHeaderBytes
)

// chunkDecoder decodes a chunked request body (RFC 9112 §7.1) incrementally.
// Its zero value is ready for a new body.
type chunkDecoder struct {
	phase   chunkPhase
	left    int64 // bytes left in the current chunk
	total   int64 // data bytes so far
	trailer int   // trailer bytes so far
}

// decode consumes chunked framing and data from buf. It calls data for each
// run of body bytes (data may be nil to drop them) and returns how many bytes
// of buf it consumed. err is nil once the body is complete, errNeedMore when
// buf ended first (consumed bytes must still be discarded), errBadRequest or
// errBodyTooLarge. Incomplete lines are left unconsumed.
func (d *chunkDecoder) decode(buf []byte, data func([]byte)) (n int, err error) {
	for {
		switch d.phase {
		case chunkDone:
			return n, nil
		case chunkSize:
			i := bytes.IndexByte(buf[n:], '\n')
			if i < 0 {
				if len(buf)-n > maxChunkLine {
					return n, errBadRequest
				}
				return n, errNeedMore
			}
			if i == 0 || buf[n+i-1] != '\r' || i > maxChunkLine {
				return n, errBadRequest
			}
			size, ok := parseChunkSize(buf[n : n+i-1])
			if !ok {
				return n, errBadRequest
			}
			if d.total+size > backends.MaxBodyBytes {
				return n, errBodyTooLarge
			}
			n += i + 1
			d.total += size
			if size == 0 {
				d.phase = chunkTrailer
			} else {
				d.left, d.phase = size, chunkData
			}
		case chunkData:
			avail := int64(len(buf) - n)
			if avail == 0 {
				return n, errNeedMore
			}
			take := min(avail, d.left)
			if data != nil {
				data(buf[n : n+int(take)])
			}
			n += int(take)
			d.left -= take
			if d.left == 0 {
				d.phase = chunkDataEnd
			}
		case chunkDataEnd:
			if len(buf)-n < 2 {
				if len(buf)-n == 1 && buf[n] != '\r' {
					return n, errBadRequest
				}
				return n, errNeedMore
			}
			if buf[n] != '\r' || buf[n+1] != '\n' {
				return n, errBadRequest
			}
			n += 2
			d.phase = chunkSize
		case chunkTrailer:
			i := bytes.IndexByte(buf[n:], '\n')
			if i < 0 {
				if d.trailer+len(buf)-n > maxTrailerBytes {
					return n, errBadRequest
				}
				return n, errNeedMore
			}
			d.trailer += i + 1
			if d.trailer > maxTrailerBytes || i == 0 || buf[n+i-1] != '\r' {
				return n, errBadRequest
			}
			line := buf[n : n+i-1]
			n += i + 1
			if len(line) == 0 {
				d.phase = chunkDone
				continue
			}
			if _, _, err := splitField(line); err != nil {
				return n, err
			}
		}
	}
}

// parseChunkSize parses "1*HEXDIG [ BWS ; chunk-ext ]"; extensions are ignored.
func parseChunkSize(line []byte) (int64, bool) {
	var size int64
	i := 0
	for ; i < len(line); i++ {
		v := ascii.Unhex[line[i]]
		if v < 0 {
			break
		}
		if size <= backends.MaxBodyBytes {
			size = size<<4 | int64(v)
		}
	}
	if i == 0 {
		return 0, false
	}
	rest := ascii.TrimOWS(line[i:])
	if len(rest) > 0 && rest[0] != ';' {
		return 0, false
	}
	for _, c := range rest {
		if !isValueChar[c] {
			return 0, false
		}
	}
	if size > backends.MaxBodyBytes {
		size = tooLong
	}
	return size, true
}

// splitField splits a field line "name: value" and checks its syntax; value
// keeps its surrounding whitespace.
func splitField(line []byte) (name, value []byte, err error) {
	i := 0
	for i < len(line) && isTokenChar[line[i]] {
		i++
	}
	if i == 0 || i >= len(line) || line[i] != ':' {
		return nil, nil, errBadRequest // also rejects obs-fold and space before the colon
	}
	for _, c := range line[i+1:] {
		if !isValueChar[c] {
			return nil, nil, errBadRequest
		}
	}
	return line[:i], line[i+1:], nil
}

package loadgen

import "github.com/asyncbench/asyncbench/internal/ascii"

// Response is the framing of one parsed HTTP/1.1 response.
type Response struct {
	Status  int  // status code, 100..999
	BodyOff int  // offset of the body in the parsed buffer (Content-Length bodies)
	BodyLen int  // body length; decoded length when Chunked; -1 = until close
	Chunked bool // Transfer-Encoding: chunked
	Close   bool // Connection: close
}

// ProtocolError describes a response that is not valid HTTP/1.1.
type ProtocolError string

func (e ProtocolError) Error() string { return "http response: " + string(e) }

// Protocol errors returned by ParseResponse. They are values, so returning
// one allocates nothing.
var (
	errStatusLine    error = ProtocolError("malformed status line")
	errHeaderLine    error = ProtocolError("malformed header line")
	errContentLength error = ProtocolError("bad Content-Length")
	errTransferEnc   error = ProtocolError("unsupported Transfer-Encoding")
	errChunk         error = ProtocolError("malformed chunk")
	errHeaderSize    error = ProtocolError("header section too large")
	errSwitching     error = ProtocolError("unexpected 101 Switching Protocols")
)

// Limits of ParseResponse.
const (
	maxResponseHeader = 64 << 10
	maxResponseBody   = 1 << 30
)

// ParseResponse parses the HTTP/1.1 response at the start of b. It returns
// the response and the number of bytes it occupies, or n == 0 with a nil
// error when b holds only part of it. When only the body is missing, r
// already carries the status, BodyOff and BodyLen (Content-Length bodies),
// so a caller can discard a large body as it arrives instead of buffering
// it. An interim 1xx response (except 101) is returned on its own, with
// BodyLen 0: the caller skips it and parses the final response after it. A
// response delimited by the connection closing (no length, not chunked)
// returns BodyLen -1 and n covering the header only. Bytes that cannot
// begin a status line fail at once, without waiting for a line end.
// ParseResponse does not allocate.
func ParseResponse(b []byte) (r Response, n int, err error) {
	status, http10, pos, err := parseStatusLine(b)
	if err != nil || pos == 0 {
		return r, 0, err
	}
	r.Status = status
	cl := -1
	if pos, cl, err = parseHeaders(b, pos, &r); err != nil || pos == 0 {
		return r, 0, err
	}
	r.BodyOff = pos
	if r.Status < 200 { // interim response: no body, the final one follows
		r.Close, r.Chunked = false, false
		return r, pos, nil
	}
	if http10 {
		if r.Chunked { // RFC 9112 §6.1: faulty framing
			return r, 0, errTransferEnc
		}
		r.Close = true
	}
	switch {
	case r.Status == 204 || r.Status == 304:
		r.BodyLen = 0
		return r, pos, nil
	case r.Chunked:
		if cl >= 0 {
			return r, 0, errContentLength // RFC 9112 §6.3: refuse both
		}
		return parseChunked(b, r, pos)
	case cl >= 0:
		r.BodyLen = cl
		if len(b)-pos < cl {
			return r, 0, nil
		}
		return r, pos + cl, nil
	default:
		r.BodyLen = -1
		r.Close = true
		return r, pos, nil
	}
}

// parseStatusLine parses "HTTP/1.x SSS[ reason]\r\n" at the start of b and
// returns the offset after it, 0 while it is incomplete.
func parseStatusLine(b []byte) (status int, http10 bool, pos int, err error) {
	if !hasStatusPrefix(b) {
		return 0, false, 0, errStatusLine
	}
	eol := indexCRLF(b, 0)
	if eol == -2 {
		return 0, false, 0, errStatusLine
	}
	if eol < 0 {
		return 0, false, 0, incompleteHeader(b)
	}
	line := b[:eol]
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || !isDigit(line[7]) || line[8] != ' ' ||
		!isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) || (len(line) > 12 && line[12] != ' ') {
		return 0, false, 0, errStatusLine
	}
	status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	switch {
	case status < 100:
		return 0, false, 0, errStatusLine
	case status == 101:
		return 0, false, 0, errSwitching
	}
	return status, line[7] == '0', eol + 2, nil
}

// parseHeaders parses the header fields from pos to the blank line into r
// (Chunked, Close) and returns the offset after the blank line (0 while it
// has not arrived) and the Content-Length (-1 when absent).
func parseHeaders(b []byte, pos int, r *Response) (end, cl int, err error) {
	cl = -1
	for {
		eol := indexCRLF(b, pos)
		if eol == -2 {
			return 0, cl, errHeaderLine
		}
		if eol < 0 {
			return 0, cl, incompleteHeader(b)
		}
		if eol == pos { // blank line: end of header section
			return pos + 2, cl, nil
		}
		line := b[pos:eol]
		pos = eol + 2
		colon := -1
		for i, c := range line {
			if c == ':' {
				colon = i
				break
			}
			if c <= ' ' || c >= 0x7f { // includes obs-fold (leading space)
				return 0, cl, errHeaderLine
			}
		}
		if colon <= 0 {
			return 0, cl, errHeaderLine
		}
		name, value := line[:colon], ascii.TrimOWS(line[colon+1:])
		switch {
		case ascii.EqualFold(name, "content-length"):
			v64, ok := ascii.ParseDecimal(value, maxResponseBody)
			v := int(v64)
			if !ok || v > maxResponseBody || (cl >= 0 && v != cl) {
				return 0, cl, errContentLength
			}
			cl = v
		case ascii.EqualFold(name, "transfer-encoding"):
			if !hasSuffixFold(value, "chunked") {
				return 0, cl, errTransferEnc
			}
			r.Chunked = true
		case ascii.EqualFold(name, "connection"):
			if hasTokenFold(value, "close") {
				r.Close = true
			}
		}
	}
}

// parseChunked walks the chunks starting at pos.
func parseChunked(b []byte, r Response, pos int) (Response, int, error) {
	total := 0
	for {
		eol := indexCRLF(b, pos)
		if eol == -2 {
			return r, 0, errChunk
		}
		if eol < 0 {
			if len(b)-pos > 1024 {
				return r, 0, errChunk
			}
			return r, 0, nil
		}
		size, digits := 0, 0
		i := pos
		for ; i < eol; i++ {
			v := int(ascii.Unhex[b[i]])
			if v < 0 {
				break
			}
			size = size<<4 | v
			digits++
			if digits > 8 {
				return r, 0, errChunk
			}
		}
		if digits == 0 || (i < eol && b[i] != ';' && b[i] != ' ' && b[i] != '\t') {
			return r, 0, errChunk
		}
		pos = eol + 2
		if size == 0 {
			// Trailer section, ended by a blank line.
			for {
				eol = indexCRLF(b, pos)
				if eol == -2 {
					return r, 0, errChunk
				}
				if eol < 0 {
					if len(b)-pos > maxResponseHeader {
						return r, 0, errChunk
					}
					return r, 0, nil
				}
				if eol == pos {
					r.BodyLen = total
					return r, eol + 2, nil
				}
				pos = eol + 2
			}
		}
		total += size
		if total > maxResponseBody {
			return r, 0, errChunk
		}
		if len(b)-pos < size+2 {
			return r, 0, nil
		}
		if b[pos+size] != '\r' || b[pos+size+1] != '\n' {
			return r, 0, errChunk
		}
		pos += size + 2
	}
}

// hasStatusPrefix reports whether b could begin with "HTTP/1.".
func hasStatusPrefix(b []byte) bool {
	const prefix = "HTTP/1."
	n := min(len(b), len(prefix))
	return string(b[:n]) == prefix[:n]
}

// incompleteHeader is nil while the header section may still complete.
func incompleteHeader(b []byte) error {
	if len(b) > maxResponseHeader {
		return errHeaderSize
	}
	return nil
}

// indexCRLF returns the index of the "\r\n" ending the line that starts at
// from, -1 when no '\n' has arrived yet, or -2 for a bare '\n'.
func indexCRLF(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] == '\n' {
			if i > from && b[i-1] == '\r' {
				return i - 1
			}
			return -2
		}
	}
	return -1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func hasSuffixFold(b []byte, s string) bool {
	return len(b) >= len(s) && ascii.EqualFold(b[len(b)-len(s):], s) &&
		(len(b) == len(s) || b[len(b)-len(s)-1] == ',' || b[len(b)-len(s)-1] == ' ')
}

// hasTokenFold reports whether the comma-separated list b holds token s.
func hasTokenFold(b []byte, s string) bool {
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != ',' {
			i++
		}
		if ascii.EqualFold(ascii.TrimOWS(b[:i]), s) {
			return true
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return false
}

package loadgen

import (
	"bytes"
	"errors"
)

// How a connection consumes what it reads: HTTP responses and echo
// messages are matched to the outstanding requests, judged, and recorded
// or counted; a timeout or the server's close ends the connection with the
// kind of error it was.

// maxBuffered is the most a response may occupy in a connection's read
// buffer: a header section of up to maxResponseHeader and a chunked body (or
// a Content-Length body that is checked against -body) of up to MaxBody,
// with room to spare. Content-Length bodies that are not checked are
// discarded as they arrive, so their size is limited only by
// maxResponseBody.
const maxBuffered = 2*maxResponseHeader + 2*MaxBody

// consumeHTTP handles every complete response in rbuf.
func (c *conn) consumeHTTP(now int64, ph runPhase) (ErrKind, error) {
	s := c.s
	if ph == phaseMeasure && s.hlog {
		c.hmu.Lock()
		defer c.hmu.Unlock()
	}
	off := 0
	if c.skip > 0 { // the rest of a body being discarded
		m := min(c.skip, c.rlen)
		c.skip -= m
		off = m
		if c.skip == 0 {
			if kind, err := c.complete(now, ph, c.skipVerdict, c.skipClose); err != nil {
				return kind, err
			}
		}
	}
	for off < c.rlen {
		if c.count == 0 {
			return ErrProtocol, errUnasked
		}
		r, n, err := ParseResponse(c.rbuf[off:c.rlen])
		if err != nil {
			return ErrProtocol, err
		}
		if n == 0 {
			if r.BodyOff > 0 && !r.Chunked && off+r.BodyOff+r.BodyLen > len(c.rbuf) &&
				(s.body == nil || r.BodyLen != len(s.body)) {
				// A body too large to buffer and not to be compared byte
				// for byte: judge it now, discard it as it arrives.
				have := c.rlen - off - r.BodyOff
				c.skip = r.BodyLen - have
				c.skipVerdict, c.skipClose = c.judge(r, nil), r.Close
				c.rlen = 0
				return ErrNone, nil
			}
			break
		}
		off += n
		switch {
		case r.Status < 200: // interim (100 Continue, 103 Early Hints): the final response follows
			continue
		case r.BodyLen < 0:
			return ErrProtocol, errUntilClose
		}
		if kind, err := c.complete(now, ph, c.judge(r, c.rbuf[off-n+r.BodyOff:off]), r.Close); err != nil {
			return kind, err
		}
	}
	if off > 0 {
		c.rlen = copy(c.rbuf, c.rbuf[off:c.rlen])
	}
	if c.rlen == len(c.rbuf) { // one response larger than the buffer
		if len(c.rbuf) >= maxBuffered {
			return ErrProtocol, errTooLarge
		}
		c.rbuf = append(c.rbuf, make([]byte, len(c.rbuf))...)
	}
	return ErrNone, nil
}

// judge returns the verdict on response r with the given body bytes (nil
// when they were not kept): ErrNone for a good one, ErrStatus or
// ErrMismatch.
func (c *conn) judge(r Response, body []byte) ErrKind {
	want := c.s.body
	switch {
	case r.Status < 200 || r.Status > 299:
		return ErrStatus
	case want != nil && (r.BodyLen != len(want) || (!r.Chunked && !bytes.Equal(body, want))):
		return ErrMismatch // a chunked body is checked by length only
	}
	return ErrNone
}

// complete ends the oldest outstanding request with verdict: a good one is
// recorded, a bad one counted. With closing set the server asked to close.
//
// With churn the server must close: after a response with Connection:
// close the connection waits for the server's close (draining). A good
// response without it is a protocol error (errKeptAlive, returned for the
// caller to count against the request, which stays outstanding); a bad
// one counts as its verdict. Either way the generator then closes the
// connection itself.
func (c *conn) complete(now int64, ph runPhase, verdict ErrKind, closing bool) (ErrKind, error) {
	if c.s.churn && !closing && verdict == ErrNone {
		return ErrProtocol, errKeptAlive
	}
	due, sent, ep := c.pop(now)
	if verdict == ErrNone {
		if ph == phaseMeasure {
			c.record(now, due, sent, ep)
		}
	} else if c.s.counts(ph) {
		c.countErr(verdict)
		if c.epSt != nil {
			c.epSt[ep].errors++
		}
	}
	switch {
	case c.s.churn && closing:
		c.draining, c.drainNs = true, now
	case c.s.churn:
		return ErrNone, errKeptAlive
	case closing:
		return ErrNone, errClosedByServer
	}
	return ErrNone, nil
}

// expire ends a connection whose oldest outstanding request has waited the
// full timeout. The request is recorded at the time it waited, so a stalled
// server shows in the maximum and in the interval log, and the error is
// returned: timeout, or mismatch when part of an echo message came back
// (bytes were lost). The request stays at the head of the ring, so the
// error is attributed to its mix entry; the connection is dropped and its
// ring reset.
func (c *conn) expire(now int64, ph runPhase) ErrKind {
	if c.s.echo && c.pos > 0 {
		return ErrMismatch
	}
	due, sent := c.dueNs[c.head], c.sentNs[c.head]
	if c.s.counts(ph) {
		if c.s.hlog {
			c.hmu.Lock()
			defer c.hmu.Unlock()
		}
		c.lat.RecordValue(usec(now - due))
		if c.s.open {
			c.uncorr.RecordValue(usec(now - sent))
		}
		if c.epLat != nil {
			c.epLat[c.ep[c.head]].RecordValue(usec(now - due))
		}
	}
	return ErrTimeout
}

// closedKind is the error kind of the server closing the connection: none
// when a churn request's response is complete (the close ends it), a
// response cut short is a protocol error (an echo message cut short a
// mismatch); otherwise it is a read error.
func (c *conn) closedKind() ErrKind {
	switch {
	case c.draining:
		return ErrNone
	case c.s.echo && c.pos > 0:
		return ErrMismatch
	case !c.s.echo && (c.rlen > 0 || c.skip > 0):
		return ErrProtocol
	}
	return ErrRead
}

var (
	errUnasked        error = ProtocolError("data arrived with no request outstanding")
	errUntilClose     error = ProtocolError("response without Content-Length or chunked encoding (body until close) is refused")
	errTooLarge       error = ProtocolError("chunked or checked response larger than the buffer limit")
	errEchoExtra            = errors.New("echo: more bytes than were sent")
	errClosedByServer       = errors.New("server asked to close")
	errKeptAlive      error = ProtocolError("churn: response without Connection: close (the generator closed the connection)")
	errNotClosed      error = ProtocolError("churn: the server did not close the connection within the timeout after Connection: close")
)

// consumeEcho checks the echoed bytes against what was sent, message by
// message, without keeping them.
func (c *conn) consumeEcho(now int64, ph runPhase) (ErrKind, error) {
	measure := ph == phaseMeasure
	if measure && c.s.hlog {
		c.hmu.Lock()
		defer c.hmu.Unlock()
	}
	size := len(c.expect)
	data := c.rbuf[:c.rlen]
	c.rlen = 0
	for len(data) > 0 {
		if c.count == 0 {
			return ErrMismatch, errEchoExtra
		}
		m := min(size-c.pos, len(data))
		if !bytes.Equal(data[:m], c.expect[c.pos:c.pos+m]) {
			c.bad = true
		}
		c.pos += m
		data = data[m:]
		if c.pos < size {
			break
		}
		due, sent, ep := c.pop(now)
		if measure {
			if c.bad {
				if c.s.counts(ph) {
					c.countErr(ErrMismatch)
				}
			} else {
				c.record(now, due, sent, ep)
			}
		}
		c.pos, c.bad = 0, false
		c.seqIn++
		c.stampExpect()
	}
	return ErrNone, nil
}

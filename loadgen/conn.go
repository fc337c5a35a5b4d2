package loadgen

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: 1 µs to 1 hour, 3 significant digits.
const (
	histMin    = 1
	histMax    = int64(time.Hour / time.Microsecond)
	histDigits = 3
)

// newHist returns an empty dense histogram with the run's geometry.
func newHist() *hdr.Histogram { return hdr.New(histMin, histMax, histDigits) }

// newPacked returns an empty sparse histogram with the run's geometry; one is
// kept per connection so memory stays small with many connections.
func newPacked() *hdr.PackedHistogram { return hdr.NewPacked(histMin, histMax, histDigits) }

// usec converts a non-negative duration in ns to recordable microseconds.
func usec(ns int64) int64 {
	v := ns / 1000
	if v < histMin {
		return histMin
	}
	if v > histMax {
		return histMax
	}
	return v
}

// epCounts are one connection's counters of one mix entry.
type epCounts struct {
	requests uint64 // good responses in the measured window
	errors   uint64 // errors in the measured window
}

// connStats are one connection's counters, owned by its goroutine.
type connStats struct {
	requests     uint64 // good responses in the measured window
	bytesRead    uint64 // socket bytes read in the measured window
	bytesWritten uint64 // socket bytes written in the measured window
	sends        uint64 // open loop: sends whose response was recorded
	slotsSent    uint64 // open loop: schedule slots sent in the measured window
	windowFull   uint64 // open loop: slots that came due while the window was full
	dials        uint64 // connections opened in the measured window (by the engine, after the start)
	errs         errCounts
}

// conn is the request state of one connection that both engines share:
// the ring of outstanding requests, buffers, verification, histograms and
// counters. Each engine wraps it in its own connection type (goConn,
// epollConn) for the socket. Everything but hmu's fields is owned by the
// goroutine driving the connection; hot-path state needs no locks.
type conn struct {
	s  *shared
	id int

	hmu    sync.Mutex           // guards lat while interval logging swaps it
	lat    *hdr.PackedHistogram // corrected latency, µs
	uncorr *hdr.PackedHistogram // open loop: from actual send, µs
	lag    *hdr.PackedHistogram // open loop: actual − intended send, µs
	ownLag *hdr.PackedHistogram // open loop: the generator's part of the send lag, µs (see take)

	wbuf     []byte // Pipeline copies of the request or message
	reqBytes int    // bytes of one request or message
	rbuf     []byte // received bytes not yet consumed, from rbuf[0]
	rlen     int    // bytes held in rbuf

	// Ring of outstanding requests: intended and actual send times, ns
	// since the schedule start.
	dueNs, sentNs []int64
	head, count   int

	sched    Schedule // open loop: this connection's share of the schedule
	nextSlot uint64   // open loop: next schedule slot of this connection
	fullUpTo uint64   // open loop: slots below this were counted as window-full
	freedNs  int64    // open loop: when a response last made room in a full window

	// Echo verification.
	seqOut, seqIn uint64
	pos           int  // bytes of the current message checked
	bad           bool // current message differed
	expect        []byte

	// HTTP body being discarded as it arrives (too large to buffer).
	skip        int     // bytes still to come
	skipVerdict ErrKind // verdict on the response, decided from its header
	skipClose   bool    // the response asked to close

	// Churn: the response came with Connection: close and the connection
	// waits for the server to close it (since drainNs).
	draining bool
	drainNs  int64

	st connStats

	// With a mix: the entry of each outstanding request (a ring beside
	// dueNs), the entry of the next request to send (drawn ahead, so an
	// error before any send is attributed to it), the draws, the bytes of
	// the requests being written, and per entry a histogram and counters.
	ep     []int32
	nextEp int
	pick   *picker
	mbuf   []byte
	epLat  []*hdr.PackedHistogram // corrected latency per entry, µs
	epSt   []epCounts

	backoff time.Duration // last re-dial delay (retry); 0 after a connect
}

func newConn(s *shared, id int) *conn {
	p := s.cfg.Pipeline
	c := &conn{
		s:      s,
		id:     id,
		lat:    newPacked(),
		dueNs:  make([]int64, p),
		sentNs: make([]int64, p),
	}
	if s.open {
		c.uncorr = newPacked()
		c.lag = newPacked()
		c.ownLag = newPacked()
		c.sched = s.scheds[id]
	}
	c.reqBytes = len(s.req)
	c.wbuf = bytes.Repeat(s.req, p)
	if s.mix != nil {
		c.ep = make([]int32, p)
		c.pick = newPicker(s.cum, s.cfg.Seed, id)
		c.nextEp = c.pick.next()
		longest := 0
		for _, r := range s.reqs {
			longest = max(longest, len(r))
		}
		c.mbuf = make([]byte, 0, p*longest)
		c.epLat = make([]*hdr.PackedHistogram, len(s.mix))
		for i := range c.epLat {
			c.epLat[i] = newPacked()
		}
		c.epSt = make([]epCounts, len(s.mix))
	}
	size := 16 << 10
	if s.echo {
		c.expect = append([]byte(nil), s.req...)
	} else if need := 2*(len(s.body)+512) + 1; need > size {
		size = need
	}
	c.rbuf = make([]byte, size)
	return c
}

// Re-dial backoff: 10 ms doubling to 1 s, reset by a successful connect.
const (
	minBackoff = 10 * time.Millisecond
	maxBackoff = time.Second
)

// retry returns how long to wait before re-dialling after an error of kind:
// nothing after an orderly close asked for by the server (ErrNone), else
// the next step of the backoff.
func (c *conn) retry(kind ErrKind) time.Duration {
	if kind == ErrNone {
		c.backoff = 0
	} else {
		c.backoff = min(max(2*c.backoff, minBackoff), maxBackoff)
	}
	return c.backoff
}

// counts reports whether an error seen in phase ph belongs to the measured
// window: during measurement and before a request limit (-n) was reached, so
// responses still in flight after the last counted request add no errors.
func (s *shared) counts(ph runPhase) bool {
	return ph == phaseMeasure && (s.requestLimit == 0 || s.requestsLeft.Load() > 0)
}

// limitReached reports whether the request limit (-n) has been reached: a
// churn run then dials no more.
func (s *shared) limitReached() bool {
	return s.requestLimit > 0 && s.requestsLeft.Load() <= 0
}

// fail counts an error of kind that ends the connection, if it belongs to
// the measured window; ErrNone counts nothing.
func (c *conn) fail(kind ErrKind) {
	if kind != ErrNone && c.s.counts(c.s.phase.Load()) {
		c.countErr(kind)
		if c.epSt != nil {
			c.epSt[c.failedEp()].errors++
		}
	}
}

// countErr counts an error of kind in the measured window, on the
// connection and in the run's running total (read by the live line).
func (c *conn) countErr(kind ErrKind) {
	c.st.errs[kind]++
	c.s.errTotal.Add(1)
}

// failedEp is the mix entry a connection error is attributed to: the
// oldest outstanding request's, or with none outstanding the next one's
// (the request that could not be sent).
func (c *conn) failedEp() int {
	if c.count > 0 {
		return int(c.ep[c.head])
	}
	return c.nextEp
}

// out returns the bytes of the k requests take just pushed: the echo
// messages stamped with their sequence numbers, the mix entries drawn, or
// k copies of the one request.
func (c *conn) out(k int) []byte {
	switch {
	case c.s.echo:
		c.stampOut(k)
	case c.pick != nil:
		b := c.mbuf[:0]
		i := c.head + c.count - k
		for range k {
			if i >= len(c.ep) {
				i -= len(c.ep)
			}
			b = append(b, c.s.reqs[c.ep[i]]...)
			i++
		}
		c.mbuf = b
		return b
	}
	return c.wbuf[:k*c.reqBytes]
}

// reset clears per-connection protocol state for a fresh connection.
func (c *conn) reset() {
	c.rlen, c.head, c.count = 0, 0, 0
	c.pos, c.bad = 0, false
	c.skip = 0
	c.draining = false
	c.seqOut, c.seqIn = 0, 0
	c.stampExpect()
}

// take pushes the requests to send now onto the ring and returns how many:
// in closed loop enough to fill the window, in open loop those whose
// intended time has come while the window has room.
//
// In open loop the send lag (now − intended) has two parts. While every
// request of the window is outstanding, a due send waits for the server:
// that wait is the server's latency, charged to it by timing from the
// intended send. The rest, from the later of the intended time and the
// response that made room (freedNs) to the send, is the generator's own
// delay (its CPU, its timer): ownLag records it, and only it makes a run
// saturated (see judgeSchedule).
func (c *conn) take(now int64, ph runPhase) int {
	p := c.s.cfg.Pipeline
	k := 0
	if !c.s.open {
		for c.count < p {
			c.push(now, now)
			k++
		}
		return k
	}
	for c.count < p {
		d := int64(c.sched.Due(c.nextSlot))
		if d > now {
			break
		}
		c.push(d, now)
		c.nextSlot++
		k++
		if ph == phaseMeasure {
			c.ownLag.RecordValue(usec(now - max(d, c.freedNs)))
		}
	}
	if c.count == p {
		c.countFull(now, ph)
	}
	if ph == phaseMeasure {
		c.st.slotsSent += uint64(k)
	}
	return k
}

// countFull counts the slots of this connection that have come due by now
// while it could not send them (its window full, or with churn the
// connection busy). Every such slot counts once, however many times the
// connection is found busy.
func (c *conn) countFull(now int64, ph runPhase) {
	from := max(c.nextSlot, c.fullUpTo)
	if to := c.sched.DueBy(time.Duration(now)); to > from {
		c.fullUpTo = to
		if ph == phaseMeasure {
			c.st.windowFull += to - from
		}
	}
}

func (c *conn) push(due, sent int64) {
	i := c.head + c.count
	if i >= len(c.dueNs) {
		i -= len(c.dueNs)
	}
	c.dueNs[i], c.sentNs[i] = due, sent
	if c.pick != nil {
		c.ep[i] = int32(c.nextEp)
		c.nextEp = c.pick.next()
	}
	c.count++
}

// pop removes the oldest outstanding request; ep is its mix entry (0
// without a mix).
func (c *conn) pop(now int64) (due, sent int64, ep int) {
	if c.count == len(c.dueNs) {
		c.freedNs = now // the window was full: from now on a due send waits for the generator
	}
	due, sent = c.dueNs[c.head], c.sentNs[c.head]
	if c.ep != nil {
		ep = int(c.ep[c.head])
	}
	c.head++
	if c.head == len(c.dueNs) {
		c.head = 0
	}
	c.count--
	return due, sent, ep
}

// record adds one good response, unless the request limit (-n) has already
// been reached; the response that reaches it ends the run.
func (c *conn) record(now, due, sent int64, ep int) {
	s := c.s
	if s.requestLimit > 0 {
		if left := s.requestsLeft.Add(-1); left < 0 {
			return
		} else if left == 0 {
			s.stop(ErrRequestLimit)
		}
	}
	c.st.requests++
	c.lat.RecordValue(usec(now - due)) // usec keeps it in range: no error
	if c.epSt != nil {
		c.epSt[ep].requests++
		c.epLat[ep].RecordValue(usec(now - due))
	}
	if s.open {
		c.uncorr.RecordValue(usec(now - sent))
		c.lag.RecordValue(usec(sent - due))
		c.st.sends++
	}
}

// stampOut writes sequence numbers into the next k outgoing messages, so a
// lost, repeated or reordered message shows up as a mismatch.
func (c *conn) stampOut(k int) {
	if c.reqBytes < 8 {
		return
	}
	for i := range k {
		binary.LittleEndian.PutUint64(c.wbuf[i*c.reqBytes:], c.seqOut)
		c.seqOut++
	}
}

func (c *conn) stampExpect() {
	if len(c.expect) >= 8 {
		binary.LittleEndian.PutUint64(c.expect, c.seqIn)
	}
}

// httpRequest returns the bytes of one request; with closing it asks the
// server to close the connection after the response.
func httpRequest(t Target, body []byte, closing bool) []byte {
	var b []byte
	if body == nil {
		b = append(b, "GET "...)
	} else {
		b = append(b, "POST "...)
	}
	b = append(b, t.Path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, t.Addr...)
	b = append(b, "\r\n"...)
	if closing {
		b = append(b, "Connection: close\r\n"...)
	}
	if body != nil {
		b = append(b, "Content-Type: application/octet-stream\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// pattern returns n bytes of a fixed, non-repeating-looking pattern.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i*7%26)
	}
	return b
}

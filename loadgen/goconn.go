package loadgen

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// goConn is a connection of the goroutine engine: one goroutine per
// connection on net.Conn, woken by read deadlines for its next scheduled
// send and for timeouts.
type goConn struct {
	*conn

	mu     sync.Mutex // guards nc replacement and closed against the stopper
	nc     net.Conn   // nil while not connected
	closed bool       // the run has stopped: attach no more

	deadline int64 // read deadline in force, ns since start; noDeadline or deadlinePassed
}

// Values of goConn.deadline besides a time.
const (
	noDeadline     int64 = 0  // none set on this connection yet
	deadlinePassed int64 = -1 // it passed; set the next one
)

// startGoroutines starts one goroutine per connection over the dialled
// ncs (nil entries are dialled by their goroutine) and returns the function
// that closes them all once the run has stopped.
func startGoroutines(s *shared, conns []*conn, ncs []net.Conn) (shut func()) {
	gcs := make([]*goConn, len(conns))
	for i, c := range conns {
		gcs[i] = &goConn{conn: c}
		s.wg.Add(1)
		if s.churn {
			go gcs[i].churn()
		} else {
			go gcs[i].loop(ncs[i])
		}
	}
	return func() {
		for _, gc := range gcs {
			gc.shut()
		}
	}
}

// errStopped ends serve when the run stops.
var errStopped = errors.New("stopped")

// loop serves the connection until the run stops, re-dialling after errors
// with a bounded backoff.
func (c *goConn) loop(first net.Conn) {
	defer c.s.wg.Done()
	if first != nil && !c.attach(first) {
		return
	}
	for {
		if c.s.phase.Load() == phaseStop {
			return
		}
		if c.nc == nil {
			nc, err := c.s.dial(c.s.ctx, c.id)
			if err != nil {
				c.fail(ErrConnect)
				if !c.s.sleep(c.retry(ErrConnect)) {
					return
				}
				continue
			}
			c.backoff = 0
			if !c.attach(nc) {
				return
			}
			if c.s.counts(c.s.phase.Load()) {
				c.st.dials++
			}
		}
		kind, err := c.serve()
		if err == errStopped || c.s.phase.Load() == phaseStop {
			return
		}
		c.fail(kind)
		c.detach()
		if d := c.retry(kind); d > 0 && !c.s.sleep(d) {
			return
		}
	}
}

// attach installs a fresh connection; false if the run has stopped.
func (c *goConn) attach(nc net.Conn) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		nc.Close()
		return false
	}
	c.nc = nc
	c.mu.Unlock()
	c.reset()
	c.deadline = noDeadline
	return true
}

// detach closes the current connection; outstanding requests are dropped.
func (c *goConn) detach() {
	c.mu.Lock()
	if c.nc != nil {
		c.nc.Close()
		c.nc = nil
	}
	c.mu.Unlock()
}

// shut closes the connection for good; called by the stopper.
func (c *goConn) shut() {
	c.mu.Lock()
	c.closed = true
	if c.nc != nil {
		c.nc.Close()
	}
	c.mu.Unlock()
}

// armDeadline sets the read deadline: the oldest outstanding request's
// timeout, or the next send when the window has room. A deadline that
// passed without a real timeout is simply moved on, so in closed loop it is
// set about once per timeout rather than once per read.
func (c *goConn) armDeadline(now int64) error {
	timeout := int64(c.s.cfg.Timeout)
	want := now + timeout
	if c.count > 0 {
		want = c.sentNs[c.head] + timeout
	}
	if c.s.open && c.count < c.s.cfg.Pipeline {
		want = min(want, int64(c.sched.Due(c.nextSlot)))
	}
	if c.deadline != noDeadline && c.deadline <= want && c.deadline > now {
		return nil
	}
	if err := c.nc.SetReadDeadline(c.s.start.Add(time.Duration(want))); err != nil {
		return err
	}
	c.deadline = want
	return nil
}

// serve runs requests on c.nc until an error; it returns the error's kind.
func (c *goConn) serve() (ErrKind, error) {
	s := c.s
	timeout := int64(s.cfg.Timeout)
	for {
		ph := s.phase.Load()
		if ph == phaseStop {
			return ErrNone, errStopped
		}
		now := s.now()
		k := c.take(now, ph)
		if k > 0 {
			n, err := c.nc.Write(c.out(k))
			if ph == phaseMeasure {
				c.st.bytesWritten += uint64(n)
			}
			if err != nil {
				return ErrWrite, err
			}
		}
		if err := c.armDeadline(now); err != nil {
			return ErrRead, err
		}
		n, err := c.nc.Read(c.rbuf[c.rlen:])
		if n > 0 {
			now = s.now()
			if ph = s.phase.Load(); ph == phaseMeasure {
				c.st.bytesRead += uint64(n)
			}
			c.rlen += n
			var kind ErrKind
			var perr error
			if s.echo {
				kind, perr = c.consumeEcho(now, ph)
			} else {
				kind, perr = c.consumeHTTP(now, ph)
			}
			if perr != nil {
				return kind, perr
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.deadline = deadlinePassed
				if now := s.now(); c.count > 0 && now-c.sentNs[c.head] >= timeout {
					return c.expire(now, s.phase.Load()), err
				}
				continue
			}
			return c.closedKind(), err
		}
	}
}

// churn runs the connection of a churn run: for each request a new
// connection (in open loop once its slot is due), the request, its
// response and the server's close, then the next.
func (c *goConn) churn() {
	defer c.s.wg.Done()
	s := c.s
	if !s.sleep(time.Duration(s.firstDialNs(c.id))) {
		return
	}
	for {
		if s.phase.Load() == phaseStop || s.limitReached() {
			return
		}
		c.freedNs = s.now() // the slot is free: its last connection is closed
		if s.open {         // wait for the next slot
			if wait := c.sched.Due(c.nextSlot) - time.Duration(s.now()); wait > 0 && !s.sleep(wait) {
				return
			}
		}
		start := s.now()
		nc, err := s.dial(s.ctx, c.id)
		if err != nil {
			if isDone(s.done) { // the run ended during the dial
				return
			}
			c.fail(ErrConnect)
			if !s.sleep(c.retry(ErrConnect)) {
				return
			}
			continue
		}
		c.backoff = 0
		if !c.attach(nc) {
			return
		}
		ph := s.phase.Load()
		if s.counts(ph) {
			c.st.dials++
		}
		kind, err := c.serveOne(start, ph)
		if err == errStopped || s.phase.Load() == phaseStop {
			return
		}
		c.fail(kind)
		c.detach()
		if d := c.retry(kind); d > 0 && !s.sleep(d) {
			return
		}
	}
}

// serveOne sends the one request of a churn connection dialled at start
// (so its latency includes the connect) and reads its response and then
// the server's close. It returns ErrNone after that close.
func (c *goConn) serveOne(start int64, ph runPhase) (ErrKind, error) {
	s := c.s
	timeout := int64(s.cfg.Timeout)
	k := c.take(start, ph)
	if k == 0 { // nothing due: cannot happen, dials wait for due slots
		return ErrNone, nil
	}
	n, err := c.nc.Write(c.out(k))
	if ph == phaseMeasure {
		c.st.bytesWritten += uint64(n)
	}
	if err != nil {
		return ErrWrite, err
	}
	for {
		if s.phase.Load() == phaseStop {
			return ErrNone, errStopped
		}
		limit := c.drainNs + timeout // waiting for the close
		if c.count > 0 {
			limit = c.sentNs[c.head] + timeout
		}
		if err := c.nc.SetReadDeadline(s.start.Add(time.Duration(limit))); err != nil {
			return ErrRead, err
		}
		n, err := c.nc.Read(c.rbuf[c.rlen:])
		if n > 0 {
			now := s.now()
			if ph = s.phase.Load(); ph == phaseMeasure {
				c.st.bytesRead += uint64(n)
			}
			c.rlen += n
			if kind, perr := c.consumeHTTP(now, ph); perr != nil {
				return kind, perr
			}
		}
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				return c.closedKind(), err
			}
			switch now := s.now(); {
			case c.count > 0 && now-c.sentNs[c.head] >= timeout:
				return c.expire(now, s.phase.Load()), err
			case c.draining && now-c.drainNs >= timeout:
				return ErrProtocol, errNotClosed
			}
		}
	}
}

//go:build linux

package loadgen

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The epoll engine: each loop goroutine owns a share of the connections as
// raw non-blocking sockets in its own epoll set and answers every response
// with the next request straight away. That is one read and one write per
// request plus a share of one epoll_wait, without the extra read that meets
// EAGAIN and the goroutine wake-up of Go's netpoller. In open loop a timerfd
// in the same set wakes the loop when the next slot of the schedule is due,
// with nanosecond resolution rather than the runtime timers' millisecond.

const epollAvailable = true

// sockState is where an epoll connection's socket is.
type sockState uint8

const (
	sockClosed     sockState = iota // no socket; a re-dial is due at redialAtNs
	sockConnecting                  // non-blocking connect in progress (EPOLLOUT reports it)
	sockOpen                        // connected: requests flow
)

// epollConn is a connection of the epoll engine: a raw non-blocking socket
// in its loop's epoll set over the shared request state.
type epollConn struct {
	*conn

	fd             int       // socket, -1 in sockClosed
	state          sockState //
	connectStartNs int64     // sockConnecting: connect started, ns since start
	redialAtNs     int64     // sockClosed: re-dial at this time, ns since start
	wpend          []byte    // unwritten rest of the last write; nil when none
	outArmed       bool      // EPOLLOUT interest registered
}

// epollLoop is one event loop; all its state is owned by its goroutine.
type epollLoop struct {
	s      *shared
	epfd   int
	f      *os.File        // epfd, waited on through Go's netpoller
	rc     syscall.RawConn // of f
	conns  []*epollConn
	events []syscall.EpollEvent
	sa     syscall.Sockaddr
	family int
	scanNs int64                 // housekeeping period, ns
	poll   func(fd uintptr) bool // made once: a closure per wait would allocate
	n      int                   // events found by poll

	// Open loop: the loop walks the global schedule and wakes each
	// connection whose slot comes due; a connection that cannot send then
	// catches up when its window frees.
	tfd      int      // timerfd, -1 in closed loop
	sched    Schedule // the whole schedule, one slot per request
	nextSlot uint64   // next slot of the global schedule to walk
	index    int      // this loop's number
	nloops   int
	timerBuf [8]byte // expirations read from the timerfd
}

// timerID marks the timerfd in epoll events; connection ids are ≥ 0.
const timerID = -1

// startEpoll hands the dialled connections to loops event loops.
func startEpoll(s *shared, conns []*conn, ncs []net.Conn, loops int) error {
	ra, err := net.ResolveTCPAddr("tcp", s.target.Addr)
	if err != nil {
		return err
	}
	scanNs := min(int64(50*time.Millisecond), max(int64(time.Millisecond), int64(s.cfg.Timeout/4)))
	ls := make([]*epollLoop, loops)
	for i := range ls {
		if ls[i], err = newEpollLoop(s, i, loops, ra, scanNs); err != nil {
			for _, l := range ls[:i] {
				l.close()
			}
			return err
		}
	}
	for i, rc := range conns {
		l := ls[i%loops]
		c := &epollConn{conn: rc, fd: -1}
		l.conns = append(l.conns, c)
		switch {
		case s.churn: // every request dials its own connection
			c.redialAtNs = s.firstDialNs(i)
		case ncs[i] != nil:
			fd, err := takeFD(ncs[i])
			if err == nil {
				c.fd, c.state = fd, sockOpen
				c.reset()
				err = l.ctl(syscall.EPOLL_CTL_ADD, c, syscall.EPOLLIN)
			}
			if err != nil {
				l.drop(c, ErrNone) // re-dials at once
			}
		default:
			l.dial(c, s.now())
		}
	}
	for _, l := range ls {
		s.wg.Add(1)
		go l.run()
	}
	return nil
}

// newEpollLoop returns loop index of loops with its epoll set (and, in open
// loop, its timerfd) ready; on error it leaves nothing open.
func newEpollLoop(s *shared, index, loops int, ra *net.TCPAddr, scanNs int64) (*epollLoop, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	// A non-blocking epoll descriptor is itself pollable: the loop parks
	// on Go's netpoller until it has events instead of blocking a thread
	// in epoll_wait.
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	l := &epollLoop{s: s, epfd: fd, events: make([]syscall.EpollEvent, 256), scanNs: scanNs, tfd: -1, index: index, nloops: loops}
	l.sa, l.family = sockaddr(ra.IP, ra.Port) // one each: Connect writes into it
	l.poll = func(fd uintptr) bool {
		var e error
		l.n, e = rawEpollWait(int(fd), l.events)
		return l.n > 0 || (e != nil && e != syscall.EINTR && e != syscall.EAGAIN)
	}
	l.f = os.NewFile(uintptr(fd), "epoll")
	if l.rc, err = l.f.SyscallConn(); err != nil {
		l.f.Close()
		return nil, fmt.Errorf("epoll: %w", err)
	}
	if s.open {
		if err := l.startTimer(); err != nil {
			l.close()
			return nil, fmt.Errorf("timerfd: %w", err)
		}
	}
	return l, nil
}

// takeFD detaches a dialled connection's socket from Go's netpoller and
// returns it as a non-blocking descriptor owned by the caller.
func takeFD(nc net.Conn) (int, error) {
	defer nc.Close()
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	cerr := rc.Control(func(s uintptr) {
		fd, err = syscall.Dup(int(s))
	})
	if cerr != nil {
		return -1, cerr
	}
	if err != nil {
		return -1, err
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

func sockaddr(ip net.IP, port int) (syscall.Sockaddr, int) {
	if ip4 := ip.To4(); ip4 != nil {
		sa := &syscall.SockaddrInet4{Port: port}
		copy(sa.Addr[:], ip4)
		return sa, syscall.AF_INET
	}
	sa := &syscall.SockaddrInet6{Port: port}
	copy(sa.Addr[:], ip.To16())
	return sa, syscall.AF_INET6
}

// startTimer adds a timerfd for the open-loop schedule to the epoll set.
func (l *epollLoop) startTimer() error {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return err
	}
	l.tfd = fd
	l.sched = l.s.cfg.schedule()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: timerID}
	return syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev)
}

func (l *epollLoop) close() {
	if l.tfd >= 0 {
		syscall.Close(l.tfd)
		l.tfd = -1
	}
	l.f.Close()
}

// pace wakes every connection of this loop whose slot has come due and
// arms the timer for the next one.
func (l *epollLoop) pace(now int64, ph runPhase) {
	if len(l.conns) == 0 {
		return
	}
	conns := uint64(l.s.cfg.Conns)
	loops := uint64(l.nloops)
	for {
		due := int64(l.sched.Due(l.nextSlot))
		id := l.nextSlot % conns
		if id%loops != uint64(l.index) {
			l.nextSlot++
			continue
		}
		if due > now {
			spec := unix.ItimerSpec{Value: unix.NsecToTimespec(due - now)}
			_ = unix.TimerfdSettime(l.tfd, 0, &spec, nil)
			return
		}
		c := l.conn(id)
		switch {
		case l.s.churn:
			// A due slot dials a new connection; one still busy with
			// its last request (or waiting out a backoff) counts it.
			if c.state == sockClosed && l.mayDial(c, now) {
				l.dial(c, now)
			} else {
				c.countFull(now, ph)
			}
		case c.state == sockOpen && c.wpend == nil:
			l.send(c, now, ph)
		}
		l.nextSlot++
	}
}

// conn returns the connection with id; loop k owns ids k, k+loops,
// k+2·loops, … in that order.
func (l *epollLoop) conn(id uint64) *epollConn { return l.conns[id/uint64(l.nloops)] }

func (l *epollLoop) ctl(op int, c *epollConn, events uint32) error {
	ev := syscall.EpollEvent{Events: events, Fd: int32(c.id)}
	return syscall.EpollCtl(l.epfd, op, c.fd, &ev)
}

func (l *epollLoop) run() {
	s := l.s
	defer s.wg.Done()
	defer l.closeAll()
	// Prime every connected socket with its first requests.
	now := s.now()
	ph := s.phase.Load()
	for _, c := range l.conns {
		if c.state == sockOpen {
			l.send(c, now, ph)
		}
	}
	if l.tfd >= 0 {
		l.pace(now, ph)
	}
	if s.churn {
		l.housekeep(now, ph) // first dials due at once
	}
	nextScanNs := now + l.scanNs
	_ = l.f.SetReadDeadline(s.start.Add(time.Duration(nextScanNs)))
	for {
		l.n = 0
		err := l.rc.Read(l.poll)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
		if ph = s.phase.Load(); ph == phaseStop {
			return
		}
		for i := range l.n {
			l.handle(&l.events[i], ph)
		}
		if now = s.now(); now >= nextScanNs {
			l.housekeep(now, ph)
			nextScanNs = now + l.scanNs
			_ = l.f.SetReadDeadline(s.start.Add(time.Duration(nextScanNs)))
		}
	}
}

// closeAll closes the loop's sockets and its epoll set when it returns.
func (l *epollLoop) closeAll() {
	for _, c := range l.conns {
		if c.fd >= 0 {
			syscall.Close(c.fd)
			c.fd, c.state = -1, sockClosed
		}
	}
	l.close()
}

// handle acts on one epoll event: the schedule's timer, a finished
// connect, a readable or writable socket.
func (l *epollLoop) handle(ev *syscall.EpollEvent, ph runPhase) {
	if ev.Fd == timerID {
		_, _ = rawRead(l.tfd, l.timerBuf[:])
		l.pace(l.s.now(), ph)
		return
	}
	c := l.conn(uint64(ev.Fd))
	switch c.state {
	case sockClosed:
		return
	case sockConnecting:
		l.connected(c, ph)
		return
	}
	if ev.Events&(syscall.EPOLLIN|syscall.EPOLLERR|syscall.EPOLLHUP) != 0 && !l.read(c, ph) {
		return
	}
	if ev.Events&syscall.EPOLLOUT != 0 && c.wpend != nil {
		l.flush(c, ph)
	}
}

// read takes what the socket has, consumes complete responses and sends
// the next requests. It returns false if the connection was dropped.
func (l *epollLoop) read(c *epollConn, ph runPhase) bool {
	n, err := rawRead(c.fd, c.rbuf[c.rlen:])
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return true
	}
	if err != nil || n == 0 {
		l.drop(c, c.closedKind())
		return false
	}
	now := l.s.now()
	if ph == phaseMeasure {
		c.st.bytesRead += uint64(n)
	}
	c.rlen += n
	var kind ErrKind
	if c.s.echo {
		kind, err = c.consumeEcho(now, ph)
	} else {
		kind, err = c.consumeHTTP(now, ph)
	}
	if err != nil {
		l.drop(c, kind)
		return false
	}
	if c.wpend == nil && !c.s.churn { // a churn connection carries one request
		return l.send(c, now, ph)
	}
	return true
}

// send writes the requests that are due.
func (l *epollLoop) send(c *epollConn, now int64, ph runPhase) bool {
	k := c.take(now, ph)
	if k == 0 {
		return true
	}
	c.wpend = c.out(k)
	return l.flush(c, ph)
}

// flush writes c.wpend, waiting for EPOLLOUT if the socket is full.
func (l *epollLoop) flush(c *epollConn, ph runPhase) bool {
	for len(c.wpend) > 0 {
		n, err := rawWrite(c.fd, c.wpend)
		if n > 0 {
			if ph == phaseMeasure {
				c.st.bytesWritten += uint64(n)
			}
			c.wpend = c.wpend[n:]
		}
		if err == syscall.EAGAIN {
			if !c.outArmed {
				if e := l.ctl(syscall.EPOLL_CTL_MOD, c, syscall.EPOLLIN|syscall.EPOLLOUT); e != nil {
					l.drop(c, ErrWrite)
					return false
				}
				c.outArmed = true
			}
			return true
		}
		if err != nil && err != syscall.EINTR {
			l.drop(c, ErrWrite)
			return false
		}
	}
	c.wpend = nil
	if c.outArmed { // back to read interest only
		c.outArmed = false
		_ = l.ctl(syscall.EPOLL_CTL_MOD, c, syscall.EPOLLIN)
	}
	return true
}

// drop counts kind (unless ErrNone), closes the socket and re-dials:
// at once after an orderly close the server asked for (in an open-loop
// churn run, when the connection's next slot is due), else after the
// backoff, at the first housekeeping round past it.
func (l *epollLoop) drop(c *epollConn, kind ErrKind) {
	c.fail(kind)
	if c.fd >= 0 {
		syscall.Close(c.fd)
	}
	c.fd, c.state = -1, sockClosed
	c.outArmed = false
	c.wpend = nil
	now := l.s.now()
	if d := c.retry(kind); d > 0 {
		c.redialAtNs = now + int64(d)
		c.freedNs = c.redialAtNs // sends wait for the re-dial: not the generator's lag
		return
	}
	c.redialAtNs = now
	c.freedNs = now // a churn slot is free once its connection is closed
	if l.mayDial(c, now) {
		l.dial(c, now) // a failed dial drops with ErrConnect, so with a backoff
	}
}

// mayDial reports whether the closed connection c may dial at now: its
// backoff is over and, in a churn run, the request limit is not reached
// and (in open loop) its next slot is due (pace dials it then).
func (l *epollLoop) mayDial(c *epollConn, now int64) bool {
	s := l.s
	switch {
	case now < c.redialAtNs:
		return false
	case !s.churn:
		return true
	case s.limitReached():
		return false
	}
	return !s.open || int64(c.sched.Due(c.nextSlot)) <= now
}

// housekeep expires timed-out requests and connects, closes churn
// connections the server did not close, and starts re-dials.
func (l *epollLoop) housekeep(now int64, ph runPhase) {
	timeout := int64(l.s.cfg.Timeout)
	for _, c := range l.conns {
		switch {
		case c.state == sockConnecting && now-c.connectStartNs >= timeout:
			l.drop(c, ErrConnect)
		case c.state == sockOpen && c.count > 0 && now-c.sentNs[c.head] >= timeout:
			l.drop(c, c.expire(now, ph))
		case c.state == sockOpen && c.draining && now-c.drainNs >= timeout:
			l.drop(c, ErrProtocol) // errNotClosed
		case c.state == sockClosed && l.mayDial(c, now):
			l.dial(c, now)
		}
	}
}

// dial starts a non-blocking connect; EPOLLOUT reports its outcome.
func (l *epollLoop) dial(c *epollConn, now int64) {
	fd, err := syscall.Socket(l.family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		l.drop(c, ErrConnect)
		return
	}
	c.fd = fd
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	if n := len(l.s.cfg.SourceIPs); n > 0 {
		src, _ := sockaddr(l.s.cfg.SourceIPs[c.id%n].AsSlice(), 0)
		bindNoPort(fd)
		if err := syscall.Bind(fd, src); err != nil {
			l.drop(c, ErrConnect)
			return
		}
	}
	err = syscall.Connect(fd, l.sa)
	if err != nil && err != syscall.EINPROGRESS {
		l.drop(c, ErrConnect)
		return
	}
	c.reset()
	c.wpend = nil
	c.state, c.connectStartNs = sockConnecting, now
	if err := l.ctl(syscall.EPOLL_CTL_ADD, c, syscall.EPOLLOUT); err != nil {
		l.drop(c, ErrConnect)
	}
}

// connected finishes a non-blocking connect.
func (l *epollLoop) connected(c *epollConn, ph runPhase) {
	errno, err := syscall.GetsockoptInt(c.fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
	if err != nil || errno != 0 {
		l.drop(c, ErrConnect)
		return
	}
	c.state = sockOpen
	c.backoff = 0
	if err := l.ctl(syscall.EPOLL_CTL_MOD, c, syscall.EPOLLIN); err != nil {
		l.drop(c, ErrConnect)
		return
	}
	if l.s.counts(ph) {
		c.st.dials++
	}
	if !l.s.churn {
		l.send(c, l.s.now(), ph)
		return
	}
	// A churn connection's one request is taken as of the dial's start,
	// so its latency includes the connect (open loop: from its intended
	// time, which the dial waited for).
	k := c.take(c.connectStartNs, ph)
	if k == 0 { // nothing due: cannot happen, dials follow due slots
		l.drop(c, ErrNone)
		return
	}
	c.wpend = c.out(k)
	l.flush(c, ph)
}

// The sockets and the epoll descriptor are non-blocking, so these calls
// never block and can skip the scheduler hand-off of syscall.Syscall.

func rawRead(fd int, b []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawWrite(fd int, b []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawEpollWait polls without waiting (timeout 0).
func rawEpollWait(epfd int, events []syscall.EpollEvent) (int, error) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(unsafe.SliceData(events))), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// bindNoPort sets IP_BIND_ADDRESS_NO_PORT on a socket about to be bound to
// a source address with port 0: the kernel then picks the port at connect,
// for the whole address pair, instead of at bind among every port of the
// source address. Without it each source address yields at most one
// ephemeral range of ports across all destinations, TIME_WAIT included,
// and a run after a large one runs out. Best effort (Linux 4.2 on).
func bindNoPort(fd int) {
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
}

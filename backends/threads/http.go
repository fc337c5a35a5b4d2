package threads

import (
	"errors"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/backends/h1"
)

// httpReadSize is the first size of a connection's read buffer; it grows
// (up to about twice the 8 KiB head limit) only while a request head that
// does not fit is arriving.
const httpReadSize = 4 << 10

// serveHTTP serves the HTTP contract on the blocking descriptor fd with
// the shared engine (package h1): read, answer every complete request,
// write everything, read again. A slow request is waited for or computed
// on this thread (threadWork). The blocking write is the back-pressure: a
// client that does not read stops being read. At the client's EOF every
// complete request has been answered, as each read is answered before the
// next. A response that closes the connection is followed by a linger.
func (srv *Server) serveHTTP(c *conn) {
	fd := c.fd
	var s h1.Session
	do := func(w h1.Work) { threadWork(w, c, &srv.stopping) }
	buf := make([]byte, 0, httpReadSize)
	var out []byte
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := read(fd, buf[len(buf):cap(buf)])
		if n <= 0 || err != nil {
			return // EOF, or the connection is gone; nothing complete is owed
		}
		buf = buf[:len(buf)+n]
		var used int
		var closeConn bool
		used, out, closeConn = s.ServeInline(buf, out[:0], do)
		buf = buf[:copy(buf, buf[used:])]
		if writeAll(fd, out) != nil {
			return
		}
		if closeConn {
			linger(fd)
			return
		}
		if cap(out) > 64<<10 {
			out = nil // an /echo answer of up to 1 MiB is not kept
		}
	}
}

// threadWork does a slow request's work on the calling thread: /delay
// sleeps in nanosleep(2), a system call that blocks the OS thread (a
// time.Sleep would park the goroutine and leave the thread free), and
// /cpu computes with backends.BurnCPU on the thread.
// While it sleeps, c is marked so that Close can interrupt it.
func threadWork(w h1.Work, c *conn, stop *atomic.Bool) {
	switch w.Kind {
	case h1.Delay:
		c.sleeping.Store(true)
		sleepThread(w.D, stop)
		c.sleeping.Store(false)
	case h1.CPU:
		backends.BurnCPU(w.D)
	}
}

// sleepThread blocks the calling thread in nanosleep(2) for d, resuming
// after signals (the Go runtime preempts with SIGURG) unless stop is set.
func sleepThread(d time.Duration, stop *atomic.Bool) {
	ts := unix.NsecToTimespec(int64(d))
	for (ts.Sec > 0 || ts.Nsec > 0) && !stop.Load() {
		var rem unix.Timespec
		err := unix.Nanosleep(&ts, &rem)
		if !errors.Is(err, unix.EINTR) {
			return
		}
		ts = rem
	}
}

// linger ends a connection after its last response, as
// backends.LingerClose does: it shuts the write side, so the client reads
// the end of the response, then reads and drops what the client still
// sends until it closes or backends.LingerTime passes (SO_RCVTIMEO bounds
// each read). The caller closes fd.
func linger(fd int) {
	if unix.Shutdown(fd, unix.SHUT_WR) != nil {
		return
	}
	deadline := time.Now().Add(backends.LingerTime)
	tv := unix.NsecToTimeval(int64(backends.LingerTime))
	if unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv) != nil {
		return
	}
	var buf [512]byte
	for time.Now().Before(deadline) {
		if n, err := read(fd, buf[:]); n <= 0 || err != nil {
			return
		}
	}
}

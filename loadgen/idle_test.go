package loadgen

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asyncbench/asyncbench/loadgen/procstat"
	"github.com/asyncbench/asyncbench/loadgen/summary"
)

// connMemory is a server's memory as a function of the connections it
// holds open (open): each costs 8 KiB of RSS, 1 KiB of page tables, one
// thread and 2 KiB of socket memory above a fixed base. It counts its
// readings.
type connMemory struct {
	open  *atomic.Int64
	reads atomic.Int64
}

func (c *connMemory) ReadMemory() (procstat.Memory, error) {
	c.reads.Add(1)
	n := c.open.Load()
	return procstat.Memory{RSSKiB: 1000 + 8*n, VmPTEKiB: 100 + n, Threads: 4 + int(n), SockMemKiB: 50 + 2*n, SlabKiB: -1}, nil
}

// countingServer starts an HTTP (answering okResp) or echo server and
// returns its address and the number of connections it holds open.
func countingServer(t *testing.T, scheme string) (string, *atomic.Int64) {
	t.Helper()
	var open atomic.Int64
	var handle func(net.Conn)
	if scheme == "http" {
		handle = httpHandler(func(int, []byte) []byte { return []byte(okResp) })
	} else {
		handle = echoHandler(-1)
	}
	return serve(t, func(c net.Conn) {
		open.Add(1)
		defer open.Add(-1)
		handle(c)
	}), &open
}

// TestIdleRun holds 200 connections open on a goroutine-per-connection
// server whose memory grows by a known amount per open connection: the
// base is read before any connection is dialled, every idle reading with
// all 200 open, and each figure lands in its own field.
func TestIdleRun(t *testing.T) {
	const conns = 200
	for _, scheme := range []string{"http", "tcp"} {
		t.Run(scheme, func(t *testing.T) {
			addr, open := countingServer(t, scheme)
			s, err := newShared(Config{Target: scheme + "://" + addr + "/", Conns: conns, Duration: 300 * time.Millisecond,
				Idle: true, ServerPID: 1, DialRate: 1e5}, false)
			if err != nil {
				t.Fatal(err)
			}
			mem := &connMemory{open: open}
			res, err := runIdle(context.Background(), s, mem)
			if err != nil {
				t.Fatal(err)
			}
			sum := res.Summary
			m := sum.ServerIdle
			if m == nil {
				t.Fatal("no server_idle")
			}
			if sum.Requests != conns || sum.Errors != 0 || sum.Failed || sum.StopReason != summary.StopDuration {
				t.Fatalf("summary %+v", sum)
			}
			per := uint64(len(okResp))
			if scheme == "tcp" {
				per = 64
			}
			if sum.BytesRead != conns*per || sum.BytesWritten == 0 {
				t.Fatalf("bytes read %d written %d, want read %d", sum.BytesRead, sum.BytesWritten, conns*per)
			}
			if uint64(res.Latency.TotalCount()) != sum.Requests {
				t.Fatalf("latency count %d", res.Latency.TotalCount())
			}
			want := summary.IdleMemory{
				RSSBaseKiB: 1000, RSSKiB: 1000 + 8*conns,
				VmPTEBaseKiB: 100, VmPTEKiB: 100 + conns,
				ThreadsBase: 4, Threads: 4 + conns,
				SockMemBaseKiB: 50, SockMemKiB: 50 + 2*conns,
				SlabBaseKiB: -1, SlabKiB: -1,
			}
			if *m != want {
				t.Fatalf("server_idle %+v, want %+v", *m, want)
			}
			if sum.DurationSeconds < 0.3 || sum.DurationSeconds > 30 {
				t.Fatalf("held %vs", sum.DurationSeconds)
			}
			// The base, the first idle reading, the last, and at most one
			// per SampleInterval tick within the time held.
			ticks := int64(sum.DurationSeconds / SampleInterval.Seconds())
			if r := mem.reads.Load(); r < 3 || r > 3+ticks {
				t.Fatalf("%d readings in %vs", r, sum.DurationSeconds)
			}
		})
	}
}

// TestIdleRunProc runs an idle run against this process's real /proc
// entry. What the Go runtime and the rest of the machine do to those
// figures meanwhile is theirs, so only their structure is checked: every
// figure read, none negative, slab -1 or more.
func TestIdleRunProc(t *testing.T) {
	addr := echoServer(t, -1)
	res := runOK(t, Config{Target: "tcp://" + addr + "/", Conns: 20, Duration: 100 * time.Millisecond,
		Idle: true, ServerPID: os.Getpid()})
	if s := res.Summary; s.Requests != 20 || s.Errors != 0 || s.Failed || s.StopReason != summary.StopDuration {
		t.Fatalf("summary %+v", s)
	}
	m := res.Summary.ServerIdle
	if m == nil {
		t.Fatal("no server_idle")
	}
	if m.RSSBaseKiB <= 0 || m.RSSKiB <= 0 || m.VmPTEBaseKiB <= 0 || m.VmPTEKiB <= 0 || m.ThreadsBase < 1 || m.Threads < 1 ||
		m.SockMemBaseKiB < 0 || m.SockMemKiB < 0 || m.SlabBaseKiB < -1 || m.SlabKiB < -1 {
		t.Fatalf("server_idle %+v", *m)
	}
}

// TestIdleFailedAnswers: a server answering 404 fails the idle run.
func TestIdleFailedAnswers(t *testing.T) {
	addr := httpServer(t, func(int, []byte) []byte { return []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n") })
	res := runOK(t, Config{Target: "http://" + addr + "/", Conns: 5, Duration: 100 * time.Millisecond, Idle: true, ServerPID: os.Getpid()})
	if s := res.Summary; !s.Failed || s.ErrorKinds["status"] != 5 || s.Requests != 0 {
		t.Fatalf("summary %+v", s)
	}
}

func TestIdleValidate(t *testing.T) {
	for _, cfg := range []Config{
		{Idle: true},
		{Idle: true, ServerPID: 1, Rate: 10},
		{Idle: true, ServerPID: 1, Pipeline: 2},
		{Idle: true, ServerPID: 1, Mix: "/a:1"},
	} {
		cfg.Target, cfg.Conns, cfg.Duration = "http://127.0.0.1:1/", 1, time.Second
		if err := cfg.Validate(); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

// fakeMemory returns reading i with RSS 100+i (peaking at reading 5),
// threads 2 and slab -1; from reading exitAt on the process is gone.
type fakeMemory struct {
	reads, exitAt int
}

func (f *fakeMemory) ReadMemory() (procstat.Memory, error) {
	i := f.reads
	f.reads++
	if f.exitAt > 0 && i >= f.exitAt {
		return procstat.Memory{}, procstat.ErrExited
	}
	rss := int64(100 + min(i, 5))
	if i > 5 {
		rss = 90
	}
	return procstat.Memory{RSSKiB: rss, Threads: 2, VmPTEKiB: int64(i), SockMemKiB: 8, SlabKiB: -1}, nil
}

// TestHoldIdle samples at 20 Hz for 1 s of fake time: 1 + 20 readings
// (the timer's last one included), each field at its own max.
func TestHoldIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeMemory{}
		m, cause := holdIdle(context.Background(), f, time.Second, 50*time.Millisecond)
		if !errors.Is(cause, ErrDurationElapsed) || f.reads < 20 || f.reads > 22 {
			t.Fatalf("cause %v reads %d", cause, f.reads)
		}
		if m.RSSKiB != 105 || m.Threads != 2 || m.VmPTEKiB != int64(f.reads-1) || m.SockMemKiB != 8 || m.SlabKiB != -1 {
			t.Fatalf("%+v", m)
		}
		f = &fakeMemory{exitAt: 3}
		if _, cause := holdIdle(context.Background(), f, time.Second, 50*time.Millisecond); !errors.Is(cause, ErrServerExited) {
			t.Fatalf("cause %v, want server exited", cause)
		}
	})
}

func TestWriteTextIdle(t *testing.T) {
	r := &Result{Latency: newHist(), Summary: summary.Summary{Requests: 3, StopReason: summary.StopDuration,
		ServerIdle: &summary.IdleMemory{RSSBaseKiB: 1, RSSKiB: 2, VmPTEBaseKiB: 3, VmPTEKiB: 4, ThreadsBase: 5, Threads: 6, SockMemBaseKiB: 7, SockMemKiB: 8, SlabBaseKiB: -1, SlabKiB: -1}}}
	var b bytes.Buffer
	if err := WriteText(&b, r, false); err != nil {
		t.Fatal(err)
	}
	if want := "rss 1 → 2 KiB, page tables 3 → 4 KiB, threads 5 → 6, TCP socket memory 7 → 8 KiB, TCP slab -1 → -1 KiB"; !strings.Contains(b.String(), want) {
		t.Fatalf("output lacks %q:\n%s", want, b.String())
	}
}

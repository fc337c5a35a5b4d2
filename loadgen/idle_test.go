package loadgen

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asyncbench/asyncbench/loadgen/procstat"
	"github.com/asyncbench/asyncbench/loadgen/summary"
)

// TestIdleRun holds 200 connections open on a goroutine-per-connection
// server in this process, which is also the process sampled: the idle
// figures are filled and none is below its base.
func TestIdleRun(t *testing.T) {
	for _, scheme := range []string{"http", "tcp"} {
		t.Run(scheme, func(t *testing.T) {
			var addr string
			if scheme == "http" {
				addr = httpServer(t, func(int, []byte) []byte { return []byte(okResp) })
			} else {
				addr = echoServer(t, -1)
			}
			res := runOK(t, Config{Target: scheme + "://" + addr + "/", Conns: 200, Duration: 300 * time.Millisecond,
				Idle: true, ServerPID: os.Getpid(), DialRate: 1e5})
			s := res.Summary
			m := s.ServerIdle
			if m == nil {
				t.Fatal("no server_idle")
			}
			t.Logf("requests %d errors %v idle %+v", s.Requests, s.ErrorKinds, *m)
			if s.Requests != 200 || s.Errors != 0 || s.Failed || s.StopReason != summary.StopDuration {
				t.Fatalf("summary %+v", s)
			}
			per := uint64(len(okResp))
			if scheme == "tcp" {
				per = 64
			}
			if s.BytesRead != 200*per || s.BytesWritten == 0 {
				t.Fatalf("bytes read %d written %d, want read %d", s.BytesRead, s.BytesWritten, 200*per)
			}
			if uint64(res.Latency.TotalCount()) != s.Requests {
				t.Fatalf("latency count %d", res.Latency.TotalCount())
			}
			if m.RSSBaseKiB <= 0 || m.RSSKiB < m.RSSBaseKiB || m.ThreadsBase < 1 || m.Threads < m.ThreadsBase ||
				m.VmPTEKiB < m.VmPTEBaseKiB || m.VmPTEBaseKiB <= 0 || m.SockMemBaseKiB < 0 || m.SockMemKiB < 0 || m.SlabBaseKiB < -1 {
				t.Fatalf("server_idle %+v", *m)
			}
			if s.DurationSeconds < 0.25 || s.DurationSeconds > 30 {
				t.Fatalf("held %vs", s.DurationSeconds)
			}
		})
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

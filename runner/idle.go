package runner

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/results"
)

// Idle workloads measure what an open connection costs the server while
// nothing happens on it, kernel memory included. The generator (loadgen
// -idle) samples the server before dialling, dials the cell's connections,
// sends one request on each (GET of the workload's path for idle, one
// -payload message for idle-echo), waits for every answer, then holds the
// connections open and silent for the plan's duration while it samples the
// server again, and reports both samples as server_idle. Requests in that
// window are about zero by design.
//
// The row's per-connection columns are differences between the two
// samples divided by the connections (results/README.md says how each
// kernel figure is attributed to the server rather than the generator):
//
//	rss_per_conn_bytes    (rss − rss_base)·1024 / conns
//	kernel_per_conn_bytes ((vm_pte − vm_pte_base)·1024
//	                       + (threads − threads_base)·stack·1024
//	                       + socket_kib·1024) / conns
//	total_per_conn_bytes  rss_per_conn_bytes + kernel_per_conn_bytes
//	socket_kib            ((sock_mem − sock_mem_base) + (tcp_slab − tcp_slab_base)) / 2
//
// where stack is the kernel stack of one thread (kernelStackKiB).

// kernelStackKiB returns the kernel stack each thread holds on goarch with
// the given page size (THREAD_SIZE: arch/x86/include/asm/page_64_types.h,
// arch/arm64/include/asm/memory.h), and false where it is not known here.
// It assumes a kernel without KASAN, which doubles the stack.
func kernelStackKiB(goarch string, pageSize int) (int64, bool) {
	switch {
	case goarch == "amd64":
		return 16, true // THREAD_SIZE = PAGE_SIZE << 2
	case goarch == "386":
		return 8, true // THREAD_SIZE = PAGE_SIZE << 1
	case goarch == "arm64" && pageSize == 4096:
		return 16, true // THREAD_SHIFT 14; with 64 KiB pages it is a page
	}
	return 0, false
}

// goarchStackKiB is kernelStackKiB of this machine, 0 when not known. The
// server runs on the machine bench runs on, built for the same
// architecture.
var goarchStackKiB = func() int64 {
	kib, _ := kernelStackKiB(runtime.GOARCH, os.Getpagesize())
	return kib
}()

// idleLoadgenArgs is the generator's command line for an idle cell:
//
//	-idle -c N -d D [-payload B] [-dial-rate R] -source-ips LIST -json -server-pid PID TARGET
//
// No -P, -R, -warmup or -hlog: one request per connection, then silence.
func idleLoadgenArgs(cfg *Config, c Cell, addr string, serverPID int) []string {
	args := []string{"-idle", "-c", strconv.Itoa(c.Conns), "-d", cfg.Plan.Duration.String()}
	if c.Workload.Proto == backends.ProtoEcho {
		args = append(args, "-payload", strconv.Itoa(c.Payload))
	}
	args = append(args, workloadArgs(&cfg.Plan, c)...)
	return append(args, "-json", "-server-pid", strconv.Itoa(serverPID), target(c, addr))
}

// checkIdle refuses idle workloads in a plan whose pipeline or rates would
// measure the same idle cell under several keys: an idle cell sends one
// request per connection and then nothing, whatever the pipeline or rate.
func (p *Plan) checkIdle() []error {
	if !slices.ContainsFunc(p.Workloads, func(name string) bool {
		w, err := ParseWorkload(name)
		return err == nil && w.Idle
	}) {
		return nil
	}
	var errs []error
	if len(p.Pipeline) > 0 && !slices.Equal(p.Pipeline, []int{1}) {
		errs = append(errs, errors.New("idle workloads send one request per connection: pipeline must be [1] (put other workloads in a plan of their own)"))
	}
	if len(p.Rates) > 0 && !slices.Equal(p.Rates, []float64{0}) {
		errs = append(errs, errors.New("idle workloads hold their connections silent: rates must be [0] (put other workloads in a plan of their own)"))
	}
	return errs
}

// fillIdle sets the idle columns of r, a row already filled from s by
// fillRow, for an idle cell, and returns what the judge needs of the idle
// measurement (results.Evidence): how far the system-wide TCP memory fell
// while the connections were open (0 when it did not or was not read),
// and a note when the TCP slab was unreadable. stackKiB is the kernel
// stack per thread, 0 when not known (kernel_stack_kib and the
// per-connection kernel figures are then not measured).
//
// An idle cell is judged by its set-up, not its window (results.Rules):
// it fails when the server exited, when the generator reported no
// server_idle, or on any error (the request on every connection must have
// been answered, so that every connection is in the same state); nothing
// completing in the window is what idle means. A fall of the system-wide
// TCP memory means other sockets closed meanwhile: the row is noisy, its
// socket figure not the server's.
func fillIdle(r *results.Row, s *summary.Summary, stackKiB int64) (socketFellKiB int64, note string) {
	m := s.ServerIdle
	if m == nil {
		return 0, ""
	}
	r.VmPTEKiB = new(m.VmPTEKiB)
	if stackKiB > 0 {
		r.KernelStackKiB = new(int64(m.Threads) * stackKiB)
	}
	socketKiB2, socketOK := int64(0), m.SlabBaseKiB >= 0 && m.SlabKiB >= 0
	if socketOK {
		socketKiB2 = (m.SockMemKiB - m.SockMemBaseKiB) + (m.SlabKiB - m.SlabBaseKiB) // twice the server's share
		r.SocketKiB = new(float64(socketKiB2) / 2)
	} else {
		note = "TCP slab unreadable (/proc/slabinfo needs root): socket and kernel per-connection figures not measured"
	}
	r.RSSPerConnBytes = nil
	if r.Conns >= results.MinConnsForRSSPerConn {
		fillIdlePerConn(r, m, stackKiB, socketKiB2, socketOK)
	}
	return max(-socketKiB2, 0), note
}

// fillIdlePerConn sets the per-connection columns of an idle row from m;
// socketKiB2 is twice the server's share of the socket memory, valid when
// socketOK.
func fillIdlePerConn(r *results.Row, m *summary.IdleMemory, stackKiB, socketKiB2 int64, socketOK bool) {
	conns := int64(r.Conns)
	r.RSSPerConnBytes = new((m.RSSKiB - m.RSSBaseKiB) * 1024 / conns)
	if stackKiB <= 0 || !socketOK {
		return
	}
	kernelBytes := (m.VmPTEKiB-m.VmPTEBaseKiB)*1024 +
		int64(m.Threads-m.ThreadsBase)*stackKiB*1024 +
		socketKiB2*512 // half of twice the share, in bytes
	r.KernelPerConnBytes = new(kernelBytes / conns)
	r.TotalPerConnBytes = new(*r.RSSPerConnBytes + *r.KernelPerConnBytes)
}

// idleLine is the progress account of an idle cell's numbers, e.g.
// "user 10240 B + kernel 19200 B per connection ok"; "?" for what was not
// measured.
func idleLine(r results.Row) string {
	num := func(p *int64) string {
		if p == nil {
			return "?"
		}
		return strconv.FormatInt(*p, 10)
	}
	return fmt.Sprintf("user %s B + kernel %s B per connection %s", num(r.RSSPerConnBytes), num(r.KernelPerConnBytes), r.Status)
}

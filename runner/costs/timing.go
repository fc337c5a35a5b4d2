package costs

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/asyncbench/asyncbench/runner/cpuset"
)

// timingSample is one child's timings, microseconds per operation.
type timingSample struct {
	CreateGoroutine float64 `json:"create_goroutine"`
	CreateThread    float64 `json:"create_thread"`
	ThreadTIDs      int     `json:"thread_tids"` // distinct thread IDs the thread creations ran on
	ThreadOps       int     `json:"thread_ops"`
	SwitchChannel   float64 `json:"switch_channel"`
	HopPipeG        float64 `json:"hop_pipe_goroutine"` // one hop of the pipe brigade, goroutines
	PipeG           float64 `json:"pipe_goroutine"`     // one write + read in one goroutine
	HopPipeT        float64 `json:"hop_pipe_thread"`
	PipeT           float64 `json:"pipe_thread"`
	GOMAXPROCS      int     `json:"gomaxprocs"`
}

func measureTimings(j job) (*timingSample, error) {
	s := &timingSample{GOMAXPROCS: runtime.GOMAXPROCS(0)}
	s.CreateGoroutine = perOp(j.Ops, createGoroutines)
	s.SwitchChannel = perOp(j.Loops*(j.Ring+1), func(int) { channelBrigade(j.Ring, j.Loops) })
	var err error
	if s.PipeG, err = pipeRoundTrips(j.Ops, false); err != nil {
		return nil, err
	}
	if s.HopPipeG, err = pipeBrigade(j.Ring, j.Loops, false); err != nil {
		return nil, err
	}
	if s.PipeT, err = pipeRoundTrips(j.Ops/10, true); err != nil {
		return nil, err
	}
	if s.HopPipeT, err = pipeBrigade(j.Ring, j.Loops, true); err != nil {
		return nil, err
	}
	s.ThreadOps = max(j.Ops/10, 1)
	var tids int
	s.CreateThread = perOp(s.ThreadOps, func(n int) { tids = createThreads(n) })
	s.ThreadTIDs = tids
	return s, nil
}

// perOp runs f(n) once and returns its time in microseconds per operation.
func perOp(n int, f func(n int)) float64 {
	runtime.GC()
	start := time.Now()
	f(n)
	return float64(time.Since(start).Nanoseconds()) / 1e3 / float64(max(n, 1))
}

// createGoroutines starts n goroutines one after the other, each waited for
// before the next: creation, first run and exit.
func createGoroutines(n int) {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go wg.Done()
		wg.Wait()
	}
}

// createThreads starts n goroutines one after the other that lock their OS
// thread and exit locked, which makes the runtime destroy the thread; the
// next one then runs on a new thread. It returns how many distinct thread
// IDs they ran on: n when every one had a thread of its own.
func createThreads(n int) int {
	tids := make(map[int]bool, n)
	ch := make(chan int)
	for range n {
		go func() {
			runtime.LockOSThread()
			ch <- unix.Gettid()
		}()
		tids[<-ch] = true
	}
	return len(tids)
}

// channelBrigade passes a token through ring goroutines joined by
// unbuffered channels, loops times.
func channelBrigade(ring, loops int) {
	chans := make([]chan struct{}, ring+1)
	for i := range chans {
		chans[i] = make(chan struct{})
	}
	for i := range ring {
		go func(in <-chan struct{}, out chan<- struct{}) {
			for range loops {
				out <- <-in
			}
		}(chans[i], chans[i+1])
	}
	for range loops {
		chans[0] <- struct{}{}
		<-chans[ring]
	}
}

// pipe is one pipe's two ends: os.Files on Go's netpoller, or blocking file
// descriptors read and written with plain system calls.
type pipe struct {
	r, w     *os.File
	rfd, wfd int
}

func newPipe(blocking bool) (pipe, error) {
	if !blocking {
		r, w, err := os.Pipe()
		return pipe{r: r, w: w}, err
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return pipe{}, fmt.Errorf("pipe: %w", err)
	}
	return pipe{rfd: fds[0], wfd: fds[1]}, nil
}

func (p pipe) read(b []byte) error {
	if p.r != nil {
		_, err := p.r.Read(b)
		return err
	}
	_, err := unix.Read(p.rfd, b)
	return err
}

func (p pipe) write(b []byte) error {
	if p.w != nil {
		_, err := p.w.Write(b)
		return err
	}
	_, err := unix.Write(p.wfd, b)
	return err
}

func (p pipe) close() {
	if p.r != nil {
		p.r.Close()
		p.w.Close()
		return
	}
	unix.Close(p.rfd)
	unix.Close(p.wfd)
}

func newPipes(n int, blocking bool) ([]pipe, error) {
	ps := make([]pipe, 0, n)
	for range n {
		p, err := newPipe(blocking)
		if err != nil {
			closePipes(ps)
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func closePipes(ps []pipe) {
	for _, p := range ps {
		p.close()
	}
}

// pipeRoundTrips writes one byte into a pipe and reads it back, n times, in
// one task (a locked OS thread when blocking): the pipe I/O that each hop of
// the brigade also pays, without a switch. Microseconds per round trip.
func pipeRoundTrips(n int, blocking bool) (float64, error) {
	p, err := newPipe(blocking)
	if err != nil {
		return 0, err
	}
	defer p.close()
	errc := make(chan error, 1)
	var us float64
	go func() {
		if blocking {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
		}
		b := []byte{1}
		us = perOp(n, func(n int) {
			for range n {
				if err := p.write(b); err != nil {
					errc <- err
					return
				}
				if err := p.read(b); err != nil {
					errc <- err
					return
				}
			}
		})
		errc <- nil
	}()
	return us, <-errc
}

// pipeBrigade is the original's bucket brigade: ring tasks joined by pipes,
// each reading one byte from its pipe and writing it to the next, loops
// times. Tasks are goroutines on the netpoller or, when blocking, goroutines
// locked to their own OS thread doing blocking reads and writes.
// Microseconds per hop, pipe I/O included.
func pipeBrigade(ring, loops int, blocking bool) (float64, error) {
	ps, err := newPipes(ring+1, blocking)
	if err != nil {
		return 0, err
	}
	defer closePipes(ps)
	var wg sync.WaitGroup
	errs := make(chan error, ring)
	for i := range ring {
		wg.Add(1)
		go func(in, out pipe) {
			defer wg.Done()
			if blocking {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
			}
			b := make([]byte, 1)
			for range loops {
				if err := in.read(b); err != nil {
					errs <- err
					return
				}
				if err := out.write(b); err != nil {
					errs <- err
					return
				}
			}
		}(ps[i], ps[i+1])
	}
	b := []byte{1}
	var ioErr error
	us := perOp(loops*(ring+1), func(int) {
		for range loops {
			if ioErr = ps[0].write(b); ioErr != nil {
				return
			}
			if ioErr = ps[ring].read(b); ioErr != nil {
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	if ioErr != nil {
		return 0, ioErr
	}
	return us, <-errs
}

// timings runs o.Reps children in the given mode and sums them up. The
// pipe-switch figures are per hop minus the one-task round trip of the
// same child, as in the original.
func timings(ctx context.Context, exe, mode string, cpus cpuset.Set, o Options) (Timings, error) {
	t := Timings{Mode: mode, CPUs: cpus.String()}
	if len(cpus) == 0 {
		t.CPUs = "all"
	}
	var cg, ct, sc, spg, spt, pg, pt []float64
	for range o.Reps {
		var s timingSample
		j := job{Kind: "timings", Ops: o.CreateOps, Ring: o.Ring, Loops: o.SwitchLoops}
		if err := runChild(ctx, exe, j, cpus, &s); err != nil {
			return t, err
		}
		t.GOMAXPROCS = s.GOMAXPROCS
		t.ThreadsCreated = [2]int{t.ThreadsCreated[0] + s.ThreadTIDs, t.ThreadsCreated[1] + s.ThreadOps}
		cg, ct, sc = append(cg, s.CreateGoroutine), append(ct, s.CreateThread), append(sc, s.SwitchChannel)
		pg, pt = append(pg, s.PipeG), append(pt, s.PipeT)
		spg, spt = append(spg, s.HopPipeG-s.PipeG), append(spt, s.HopPipeT-s.PipeT)
	}
	t.CreateGoroutine, t.CreateThread, t.SwitchChannel = statOf(cg), statOf(ct), statOf(sc)
	t.SwitchPipeGoroutine, t.SwitchPipeThread = statOf(spg), statOf(spt)
	t.PipeGoroutine, t.PipeThread = statOf(pg), statOf(pt)
	return t, nil
}

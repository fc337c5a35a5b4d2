//go:build linux

package proc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"runtime"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestProcessCtxSwitchesCountsExitedThreads: the count covers threads
// that have exited, which a walk over /proc/PID/task cannot see.
func TestProcessCtxSwitchesCountsExitedThreads(t *testing.T) {
	before, err := ProcessCtxSwitches(os.Getpid())
	if errors.Is(err, ErrNoTaskstats) {
		t.Skipf("no taskstats here (%v): the /proc walk is used instead", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	// 20 threads that each switch out at least 10 times, then exit.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // the thread exits with the goroutine
			var ts unix.Timespec
			for range 10 {
				ts.Nsec = 100_000
				_ = unix.Nanosleep(&ts, nil)
			}
		}()
	}
	wg.Wait()
	after, err := ProcessCtxSwitches(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after < before+200 {
		t.Fatalf("context switches went from %d to %d; 20 exited threads slept 10 times each (want at least +200)", before, after)
	}
}

func TestProcessCtxSwitchesGone(t *testing.T) {
	if _, err := ProcessCtxSwitches(os.Getpid()); errors.Is(err, ErrNoTaskstats) {
		t.Skip("no taskstats here")
	}
	_, err := ProcessCtxSwitches(1 << 30) // above pid_max
	if !errors.Is(err, ErrExited) {
		t.Fatalf("err = %v, want ErrExited", err)
	}
}

// TestTaskstatsAnswer decodes a hand-built answer: a padding attribute,
// then the aggregate holding the tgid and the stats.
func TestTaskstatsAnswer(t *testing.T) {
	var st unix.Taskstats
	st.Nvcsw, st.Nivcsw = 1234, 56
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&st)), unsafe.Sizeof(st))
	inner := append(nlAttr(unix.TASKSTATS_TYPE_TGID, binary.NativeEndian.AppendUint32(nil, 42)), nlAttr(unix.TASKSTATS_TYPE_STATS, raw)...)
	attrs := append(nlAttr(unix.TASKSTATS_TYPE_NULL, nil), nlAttr(unix.TASKSTATS_TYPE_AGGR_TGID|unix.NLA_F_NESTED, inner)...)
	n, err := taskstatsCtxSwitches(attrs)
	if err != nil || n != 1290 {
		t.Fatalf("got %d, %v; want 1290", n, err)
	}
	if _, err := taskstatsCtxSwitches(attrs[:len(attrs)-100]); err == nil {
		t.Fatal("a truncated answer was accepted")
	}
	if _, err := taskstatsCtxSwitches(nlAttr(unix.TASKSTATS_TYPE_NULL, nil)); err == nil {
		t.Fatal("an answer without an aggregate was accepted")
	}
}

func TestGenlAnswerError(t *testing.T) {
	var b bytes.Buffer
	msg := make([]byte, unix.SizeofNlMsghdr+4)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], unix.NLMSG_ERROR)
	binary.NativeEndian.PutUint32(msg[unix.SizeofNlMsghdr:], uint32(0xffffffff-uint32(unix.EPERM)+1)) // -EPERM
	b.Write(msg)
	if _, err := parseGenlAnswer(b.Bytes()); !errors.Is(err, unix.EPERM) {
		t.Fatalf("err = %v, want EPERM", err)
	}
	if _, err := parseGenlAnswer(msg[:8]); err == nil {
		t.Fatal("a short answer was accepted")
	}
}

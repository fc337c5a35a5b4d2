package loadgen

import (
	"context"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/loadgen/summary"
)

// hungListener listens on 127.0.0.1 with a backlog of 0 and never accepts:
// the kernel completes one handshake, later connects wait for their
// timeout. It returns the address.
func hungListener(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}

// TestDialNeverAccepted: 20 connections to a server that never accepts
// used to be dialled one after the other, each waiting its full 1 s
// timeout, so a 2 s run took over 20 s. Dialled concurrently within one
// dial-phase deadline, the run takes about timeout + duration.
func TestDialNeverAccepted(t *testing.T) { forEngines(t, testDialNeverAccepted) }

func testDialNeverAccepted(t *testing.T, engine summary.Engine) {
	addr := hungListener(t)
	start := time.Now()
	res, err := Run(context.Background(), Config{Engine: engine, Target: "http://" + addr + "/", Conns: 20,
		Duration: 2 * time.Second, Warmup: 0, Timeout: time.Second}, nil)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	// Serial dialling waits out 20 timeouts of 1 s: at least 20 s. Under
	// that, the dials overlapped, however loaded the machine.
	if took >= 20*time.Second {
		t.Fatalf("run took %v, want under the 20 s of serial dialling (about 3 s)", took)
	}
	if s := res.Summary; s.Requests != 0 || !s.Failed || s.StopReason != summary.StopDuration {
		t.Fatalf("summary %+v", s)
	}
}

// TestInterruptWhileDialling: cancelling during the dial phase returns a
// summary (stop reason interrupted), not an error.
func TestInterruptWhileDialling(t *testing.T) {
	addr := hungListener(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, Config{Target: "http://" + addr + "/", Conns: 20, Duration: 10 * time.Second, Timeout: 30 * time.Second, DialRate: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("took %v after the interrupt", took)
	}
	if s := res.Summary; s.StopReason != summary.StopInterrupted || s.Requests != 0 || len(s.ErrorKinds) != int(numErrKinds) {
		t.Fatalf("summary %+v", s)
	}
}

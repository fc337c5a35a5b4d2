// Usage: go run ./scripts/gnetmem [-server bin/server] [-conns 4] [-mib 64] (after make build)
//
// Command gnetmem measures the memory of gnet servers under clients that
// never read. For each protocol (echo, http) it starts two servers, one
// after the other, on loopback: a stock gnet v2 server (this program run
// with -stock PROTO, answers queued through gnet's own Conn.Write) and the
// gnet backend (bin/server -backend gnet). Against each it opens -conns
// connections that send up to -mib MiB each (echo bytes, or pipelined
// GET /plaintext requests) and never read. A write the server's side does
// not take within 5 s ends a connection's sending. Once the server's
// RSS has settled it prints VmRSS and VmHWM from /proc/PID/status, closes
// the connections and stops the server (SIGTERM).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	gn "github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/asyncbench/asyncbench/backends/h1"
)

func main() {
	server := flag.String("server", "bin/server", "the asyncbench server binary (make build)")
	conns := flag.Int("conns", 4, "connections per server")
	mib := flag.Int("mib", 64, "MiB each connection sends at most")
	stock := flag.String("stock", "", "run the stock gnet server for this protocol (echo or http) and nothing else")
	flag.Parse()
	if *stock != "" {
		if err := runStock(*stock); err != nil {
			fmt.Fprintln(os.Stderr, "gnetmem:", err)
			os.Exit(1)
		}
		return
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gnetmem:", err)
		os.Exit(1)
	}
	start := time.Now()
	fmt.Printf("%d connections, each sends at most %d MiB and never reads\n\n", *conns, *mib)
	fmt.Println("| server | proto | sent per connection | RSS, connections open | RSS after sending | VmHWM |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, proto := range []string{"echo", "http"} {
		for _, srv := range []struct {
			name string
			argv []string
		}{
			{"stock gnet (Conn.Write)", []string{self, "-stock", proto}},
			{"gnet backend", []string{*server, "-backend", "gnet", "-proto", proto, "-addr", "127.0.0.1:0"}},
		} {
			r, err := measure(srv.argv, proto, *conns, int64(*mib)<<20)
			if err != nil {
				fmt.Fprintf(os.Stderr, "gnetmem: %s %s: %v\n", srv.name, proto, err)
				os.Exit(1)
			}
			fmt.Printf("| %s | %s | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB |\n",
				srv.name, proto, r.sentPerConn/(1<<20), toMiB(r.idle), toMiB(r.after), toMiB(r.peak))
		}
	}
	fmt.Printf("\n(%v)\n", time.Since(start).Round(time.Second))
}

// stall is how long a write may wait before the client takes the server
// to have stopped reading. With 32 connections the stock server, still
// reading, has left every connection's writes waiting up to 3.2 s at once.
var stall = 5 * time.Second

// toMiB converts kB as /proc reports them (KiB) to MiB.
func toMiB(kb int64) float64 { return float64(kb) / 1024 }

// result is one server's figures; memory in kB as /proc reports it.
type result struct {
	sentPerConn float64 // bytes
	idle        int64   // VmRSS with the connections open, before sending
	after       int64   // VmRSS once settled after sending
	peak        int64   // VmHWM then
}

// measure starts argv, which prints "listening on HOST:PORT", and runs the
// non-reading clients against it.
func measure(argv []string, proto string, conns int, limit int64) (result, error) {
	var r result
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	addr, err := listeningOn(out)
	if err != nil {
		return r, err
	}
	pid := cmd.Process.Pid

	cs := make([]net.Conn, conns)
	for i := range cs {
		if cs[i], err = net.Dial("tcp", addr); err != nil {
			return r, err
		}
		defer cs[i].Close()
	}
	time.Sleep(300 * time.Millisecond)
	if r.idle, _, err = status(pid); err != nil {
		return r, err
	}

	chunk := payload(proto)
	var wg sync.WaitGroup
	sent := make([]int64, conns)
	for i, c := range cs {
		wg.Go(func() { sent[i] = send(c, chunk, limit) })
	}
	wg.Wait()
	for _, n := range sent {
		r.sentPerConn += float64(n) / float64(conns)
	}

	// Wait for the server to take in what the kernel still holds for it:
	// RSS within 256 kB over one second, or ten seconds at most.
	prev := int64(-1 << 40)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(time.Second)
		if r.after, r.peak, err = status(pid); err != nil {
			return r, err
		}
		if d := r.after - prev; d < 256 && d > -256 {
			break
		}
		prev = r.after
	}
	return r, nil
}

// listeningOn reads the server's stdout up to its "listening on" line and
// drains the rest in the background.
func listeningOn(out io.Reader) (string, error) {
	type line struct {
		addr string
		err  error
	}
	got := make(chan line, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				got <- line{addr: addr}
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
		got <- line{err: errors.New("server ended without a listening line")}
	}()
	select {
	case l := <-got:
		return l.addr, l.err
	case <-time.After(10 * time.Second):
		return "", errors.New("no listening line within 10 s")
	}
}

// payload is what a client sends over and over: 64 KiB of echo bytes, or
// as many whole GET /plaintext requests as fit in 64 KiB.
func payload(proto string) []byte {
	if proto == "echo" {
		return bytes.Repeat([]byte("x"), 64<<10)
	}
	req := []byte("GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n")
	return bytes.Repeat(req, (64<<10)/len(req))
}

// send writes chunk to c again and again until limit bytes are written or
// a write is not taken within stall (the server has stopped reading),
// and returns the bytes written.
func send(c net.Conn, chunk []byte, limit int64) int64 {
	var sent int64
	for sent < limit {
		p := chunk[:min(int64(len(chunk)), limit-sent)]
		_ = c.SetWriteDeadline(time.Now().Add(stall))
		n, err := c.Write(p)
		sent += int64(n)
		if err != nil {
			break
		}
	}
	return sent
}

// status returns VmRSS and VmHWM of pid, in kB.
func status(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	for l := range strings.Lines(string(b)) {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss, err = strconv.ParseInt(f[1], 10, 64)
		case "VmHWM:":
			hwm, err = strconv.ParseInt(f[1], 10, 64)
		}
		if err != nil {
			return 0, 0, err
		}
	}
	return rss, hwm, nil
}

// runStock serves proto the stock gnet way on a loopback port until the
// process is stopped: the same engine options as the backend, answers
// handed to Conn.Write, which writes what the socket takes and queues the
// rest in the connection's outbound buffer. HTTP answers come from the
// backend's engine (h1), so only the output path differs.
func runStock(proto string) error {
	var h gn.EventHandler
	switch proto {
	case "echo":
		h = &stockEcho{}
	case "http":
		h = &stockHTTP{}
	default:
		return fmt.Errorf("protocol %q: want echo or http", proto)
	}
	return gn.Run(&stockBoot{EventHandler: h}, "tcp://127.0.0.1:0",
		gn.WithMulticore(true),
		gn.WithNumEventLoop(runtime.GOMAXPROCS(0)),
		gn.WithReuseAddr(true),
		gn.WithTCPNoDelay(gn.TCPNoDelay),
	)
}

// stockBoot prints the bound address once gnet has bound it.
type stockBoot struct{ gn.EventHandler }

func (*stockBoot) OnBoot(eng gn.Engine) gn.Action {
	fd, err := eng.Dup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gnetmem:", err)
		return gn.Shutdown
	}
	sa, err := unix.Getsockname(fd)
	unix.Close(fd)
	a, ok := sa.(*unix.SockaddrInet4)
	if err != nil || !ok {
		fmt.Fprintln(os.Stderr, "gnetmem: getsockname:", err)
		return gn.Shutdown
	}
	fmt.Printf("listening on 127.0.0.1:%d\n", a.Port)
	return gn.None
}

// stockEcho is gnet's echo idiom.
type stockEcho struct{ gn.BuiltinEventEngine }

func (*stockEcho) OnTraffic(c gn.Conn) gn.Action {
	buf, _ := c.Next(-1)
	_, _ = c.Write(buf)
	return gn.None
}

// stockHTTP answers every complete request buffered with one Conn.Write.
type stockHTTP struct{ gn.BuiltinEventEngine }

type stockConn struct {
	s   h1.Session
	out []byte // reused: Conn.Write copies what it queues
}

func (*stockHTTP) OnOpen(c gn.Conn) ([]byte, gn.Action) {
	c.SetContext(&stockConn{})
	return nil, gn.None
}

func (*stockHTTP) OnTraffic(c gn.Conn) gn.Action {
	sc := c.Context().(*stockConn)
	buf, _ := c.Peek(-1)
	n, out, closeConn := sc.s.ServeInline(buf, sc.out[:0], h1.Work.Inline)
	sc.out = out
	if n > 0 {
		_, _ = c.Discard(n)
	}
	if len(out) > 0 {
		if _, err := c.Write(out); err != nil {
			return gn.Close
		}
	}
	if closeConn {
		return gn.Close
	}
	return gn.None
}

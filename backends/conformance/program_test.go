package conformance

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/backends"
)

// Servers that run as a separate process: the catalog's programs
// (Info.Program, built into bin/ by `make build`) and, in TestExternal, any
// command or address a user names. A program implements backends.Server,
// so the suite runs it like an in-process backend; Close is SIGTERM.

// listenTimeout bounds how long a program may take to accept connections.
const listenTimeout = 10 * time.Second

// program is a server process. argv may hold the placeholders {addr}
// (HOST:PORT) and {port}, filled with a free port; without them the
// program must print backends.ListeningPrefix + "HOST:PORT" on stdout once
// it accepts.
type program struct {
	name    string
	argv    []string
	dir     string // the working directory; empty: the test's
	addrArg bool   // Listen appends "-addr ADDR" to argv (the catalog's programs)
	exit0   bool   // it must exit with status 0 at SIGTERM (the catalog's programs)

	cmd     *exec.Cmd
	stdout  *os.File // read end of the program's stdout
	stderr  lockedBuffer
	exited  chan struct{} // closed once the process has been waited for
	waitErr error         // the process's exit status, once exited
}

var _ backends.Server = (*program)(nil)

// Listen starts the program in a process group of its own and returns the
// address it listens on. addr is used for the placeholders.
func (p *program) Listen(addr string) (net.Addr, error) {
	argv, reserved, err := expand(p.argv, addr)
	if p.addrArg {
		argv = append(argv[:len(argv):len(argv)], "-addr", addr)
	}
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = p.dir, w, &p.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second // a child left holding stderr does not block Wait
	p.exited = make(chan struct{})
	started := make(chan error, 1)
	go func() {
		// Pdeathsig follows the thread that started the child, not the
		// process: that thread must live until the child has exited, or
		// the child is killed when the runtime ends the thread (as it
		// does after a goroutine that exits locked, like threads' own).
		runtime.LockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			p.waitErr = cmd.Wait()
		}
		close(p.exited)
	}()
	err = <-started
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("%s: %w", p.name, err)
	}
	p.cmd, p.stdout = cmd, r
	lines := make(chan string, 1)
	go func() { // the listening line, then stdout is drained so the program never blocks on it
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), backends.ListeningPrefix); ok {
				select {
				case lines <- s:
				default:
				}
			}
		}
	}()
	var got string
	if reserved != "" {
		got, err = p.awaitDial(reserved)
	} else {
		select {
		case got = <-lines:
		case <-p.exited:
			err = fmt.Errorf("%s exited before printing %q: %v; stderr: %q", p.name, backends.ListeningPrefix+"HOST:PORT", p.waitErr, p.stderr.String())
		case <-time.After(listenTimeout):
			err = fmt.Errorf("%s printed no %q line within %v", p.name, backends.ListeningPrefix+"HOST:PORT", listenTimeout)
		}
	}
	if err == nil {
		var a *net.TCPAddr
		if a, err = net.ResolveTCPAddr("tcp", got); err == nil {
			return a, nil
		}
	}
	p.Close()
	return nil, err
}

// expand replaces {addr} and {port} in argv with a free port of addr's
// host; reserved is that address, empty without placeholders.
func expand(argv []string, addr string) (out []string, reserved string, err error) {
	if !strings.Contains(strings.Join(argv, " "), "{addr}") && !strings.Contains(strings.Join(argv, " "), "{port}") {
		return argv, "", nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	reserved = ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(reserved)
	rep := strings.NewReplacer("{addr}", reserved, "{port}", port)
	for _, a := range argv {
		out = append(out, rep.Replace(a))
	}
	return out, reserved, nil
}

// awaitDial waits until addr accepts a connection.
func (p *program) awaitDial(addr string) (string, error) {
	deadline := time.Now().Add(listenTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr, nil
		}
		select {
		case <-p.exited:
			return "", fmt.Errorf("%s exited before accepting on %s: %v; stderr: %q", p.name, addr, p.waitErr, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s does not accept on %s after %v: %v", p.name, addr, listenTimeout, err)
		}
	}
}

// Close sends SIGTERM to the program's process group and waits for the
// program to exit; after 2×closeTimeout it is killed.
func (p *program) Close() error {
	if p.cmd == nil {
		return nil
	}
	pgid := p.cmd.Process.Pid
	defer p.stdout.Close()
	defer syscall.Kill(-pgid, syscall.SIGKILL) // anything left in the group
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(2 * closeTimeout):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.exited
		return fmt.Errorf("%s did not exit within %v of SIGTERM", p.name, 2*closeTimeout)
	}
	if p.exit0 && p.waitErr != nil {
		return fmt.Errorf("%s at SIGTERM: %v (want exit status 0); stderr: %q", p.name, p.waitErr, p.stderr.String())
	}
	return nil
}

// cpuTime returns the CPU time (user + system) used so far by the
// processes of the program's group, read from /proc/PID/stat. The kernel
// reports each figure truncated to a clock tick (10 ms), so a difference
// of two readings may fall short by up to procCPUSlack.
func (p *program) cpuTime() (time.Duration, error) {
	return groupCPU(p.cmd.Process.Pid)
}

// procCPUSlack is how much a difference of two /proc CPU readings of one
// busy process may fall short: utime and stime each lose up to a tick.
const procCPUSlack = 2 * clockTick

// clockTick is the unit of utime and stime in /proc (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

func groupCPU(pgid int) (time.Duration, error) {
	paths, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return 0, err
	}
	var ticks int64
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the process is gone
		}
		// After "pid (comm) ": state ppid pgrp ... utime (14th field) stime (15th).
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		u, err1 := strconv.ParseInt(f[11], 10, 64)
		s, err2 := strconv.ParseInt(f[12], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		ticks += u + s
	}
	return time.Duration(ticks) * clockTick, nil
}

// lockedBuffer collects a program's stderr (written by exec's copier).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 64<<10 {
		return len(p), nil // enough to explain a failure
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(l.b.String())
}

// catalogProgram returns the program that serves catalog entry info on
// proto. It is found in $ASYNCBENCH_BIN, or else in bin/ at the module
// root; a missing one fails the test (run make build), unless no C
// compiler is on PATH to build it, which skips the test.
func catalogProgram(t *testing.T, info backends.Info, proto backends.Proto) *program {
	t.Helper()
	path, skip, err := programPath(info.Program)
	switch {
	case skip != "":
		t.Skip(skip)
	case err != nil:
		t.Fatal(err)
	}
	return &program{name: info.Program, argv: []string{path, "-proto", string(proto)}, addrArg: true, exit0: true}
}

// programPath finds the executable of a catalog program. skip is set when
// it is missing and cannot be built here; err when it is missing, or older
// than its C sources, and can.
func programPath(prog string) (path, skip string, err error) {
	root, rootErr := moduleRoot()
	dir := os.Getenv("ASYNCBENCH_BIN")
	if dir == "" {
		if rootErr != nil {
			return "", "", rootErr
		}
		dir = filepath.Join(root, "bin")
	}
	path = filepath.Join(dir, prog)
	st, err := os.Stat(path)
	if err != nil {
		cc := "cc"
		if f := strings.Fields(os.Getenv("CC")); len(f) > 0 {
			cc = f[0]
		}
		if _, lookErr := exec.LookPath(cc); lookErr != nil {
			return "", fmt.Sprintf("bin/%s not found, and no C compiler (%s) on PATH to build it", prog, cc), nil
		}
		return "", "", fmt.Errorf("bin/%s not found: run make build", prog)
	}
	if rootErr == nil {
		srcs, _ := filepath.Glob(filepath.Join(root, "backends", "csrc", "*.[ch]"))
		own, _ := filepath.Glob(filepath.Join(root, "backends", prog, "*.c"))
		for _, src := range append(srcs, own...) {
			if s, err := os.Stat(src); err == nil && s.ModTime().After(st.ModTime()) {
				return "", "", fmt.Errorf("%s is older than %s: run make build", path, src)
			}
		}
	}
	return path, "", nil
}

// moduleRoot is the directory holding go.mod, above the test's directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}

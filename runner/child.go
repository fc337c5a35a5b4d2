package runner

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/internal/cli"
	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/runner/cpuset"
)

// child is a started process that leads its own process group, so that it
// and anything it starts can be signalled together.
type child struct {
	cmd        *exec.Cmd
	stderr     *capped
	stderrDone chan struct{} // closed once every writer of stderr is gone
	done       chan struct{} // closed once the process has been waited for
	err        error         // Wait's result, set before done closes
}

// startChild starts path with args pinned to cpus, with env (NAME=VALUE)
// added to this process's environment (replacing what it sets) and
// stdout going to stdout. serverEnv gives the usual env: GOMAXPROCS = the
// size of cpus.
func startChild(path string, args, env []string, cpus cpuset.Set, stdout *os.File) (*child, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	c := &child{cmd: cmd, stderr: &capped{max: 64 << 10}, stderrDone: make(chan struct{}), done: make(chan struct{})}
	// Stdout and stderr are files, so Wait returns when the process ends
	// even if something it started still holds them.
	er, ew, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	cmd.Stdout = stdout
	cmd.Stderr = ew
	// Own process group for group-wide signals; SIGKILL if bench dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = cpuset.Start(cmd, cpus)
	ew.Close()
	if err != nil {
		er.Close()
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	go func() {
		_, _ = io.Copy(c.stderr, er)
		er.Close()
		close(c.stderrDone)
	}()
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// Pid returns the child's process id.
func (c *child) Pid() int { return c.cmd.Process.Pid }

// signal sends sig to the child's whole process group.
func (c *child) signal(sig syscall.Signal) {
	_ = syscall.Kill(-c.cmd.Process.Pid, sig)
}

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends sig to the group, waits up to grace for the process to end,
// then kills the group. It returns once the process has been reaped; the
// group is killed in any case so nothing it started survives.
func (c *child) stop(sig syscall.Signal, grace time.Duration) {
	if !c.exited() {
		c.signal(sig)
		t := time.NewTimer(grace)
		select {
		case <-c.done:
		case <-t.C:
		}
		t.Stop()
	}
	c.signal(syscall.SIGKILL)
	<-c.done
}

// failure describes how the child ended, with the first line of its stderr.
func (c *child) failure(what string) string { return what + c.detail() }

// detail is how the child ended and the first line of its stderr, as
// failure appends them: " (exit status 3): LINE".
func (c *child) detail() string {
	var b strings.Builder
	var ee *exec.ExitError
	switch {
	case errors.As(c.err, &ee):
		fmt.Fprintf(&b, " (%s)", ee.ProcessState)
	case c.err != nil:
		fmt.Fprintf(&b, " (%v)", c.err)
	}
	t := time.NewTimer(time.Second) // let the last stderr bytes arrive
	select {
	case <-c.stderrDone:
	case <-t.C:
	}
	t.Stop()
	if line := c.stderr.FirstLine(); line != "" {
		b.WriteString(": ")
		b.WriteString(line)
	}
	return b.String()
}

// exitVerdict is the generator's verdict given by its exit status err:
// results.StatusFailed or results.StatusSaturated when it exited with one
// of them, having completed the run and printed its summary, so the
// cell's numbers are read from it; "" otherwise. A cell whose requests
// mostly timed out (a blocked event loop) is such a run: its row keeps the
// throughput and error counts, and says why it failed.
func exitVerdict(err error) results.Status {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return ""
	}
	switch ee.ExitCode() {
	case cli.ExitFailed:
		return results.StatusFailed
	case cli.ExitSaturated:
		return results.StatusSaturated
	}
	return ""
}

// capped keeps the first max bytes written to it and drops the rest.
type capped struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// FirstLine returns the first non-blank line written, trimmed.
func (c *capped) FirstLine() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return firstLine(c.buf.String())
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// scanListen reads lines from r until one announces the listening address
// and returns that address; the rest of r is then drained in the
// background so the writer never blocks.
func scanListen(r io.Reader) (string, error) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if addr, ok := parseListen(line); ok {
			go func() { _, _ = io.Copy(io.Discard, br) }()
			return addr, nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "", errors.New("stdout closed before a 'listening on' line")
			}
			return "", err
		}
	}
}

// parseListen extracts HOST:PORT from a "listening on HOST:PORT" line.
func parseListen(line string) (string, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), backends.ListeningPrefix)
	if !ok || rest == "" || strings.ContainsAny(rest, " \t") {
		return "", false
	}
	return rest, true
}

package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/backends/contract"
)

// Any server command can be measured: a plan variant gives
//
//	command: [BINARY, ARG, ...]
//	protocols: [http]          # default; [echo], [http, echo]
//
// and bench starts that command as the cell's server, pinned and with the
// environment every server gets (server.go). Placeholders in the words are
// filled per cell:
//
//	{addr}   HOST:PORT, a free loopback port bench picked
//	{host}   its host, 127.0.0.1
//	{port}   its port
//	{proto}  the cell's protocol, http or echo
//
// With {addr}, {host} or {port} the server is up once it accepts
// connections at that address; without, bench reads a "listening on
// HOST:PORT" line from its stdout, as from the Go server. Either way
// within the start timeout.
//
// Before anything is measured (Config.Preflight), each command is started
// once per protocol the plan uses and checked against the backend
// contract (package backends/contract); a command that fails refuses the
// run, naming the variant and the failing check.

// placeholder matches a {word} in a command.
var placeholder = regexp.MustCompile(`\{[a-z_]+\}`)

// Placeholders of a command.
const (
	phAddr  = "{addr}"
	phHost  = "{host}"
	phPort  = "{port}"
	phProto = "{proto}"
)

// checkCommand validates a command: a binary, and no placeholder bench
// does not know (a typo would otherwise reach the server as it is).
func checkCommand(cmd []string) []error {
	var errs []error
	if strings.TrimSpace(cmd[0]) == "" {
		errs = append(errs, errors.New("command: the first word (the executable) is empty"))
	}
	for _, w := range cmd {
		for _, ph := range placeholder.FindAllString(w, -1) {
			switch ph {
			case phAddr, phHost, phPort, phProto:
			default:
				errs = append(errs, fmt.Errorf("command: unknown placeholder %s in %q (valid: {addr}, {host}, {port}, {proto})", ph, w))
			}
		}
	}
	return errs
}

// lookCommand finds a command's executable: a name with a slash as a path
// (relative to the working directory), else in $PATH.
func lookCommand(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("command %s: %w", name, errors.Unwrap(err))
	}
	return path, nil
}

// usesAddr reports whether a command names its address by placeholder.
func usesAddr(cmd []string) bool {
	for _, w := range cmd {
		if strings.Contains(w, phAddr) || strings.Contains(w, phHost) || strings.Contains(w, phPort) {
			return true
		}
	}
	return false
}

// fillCommand sets s from cmd for protocol proto. With pick, a command
// with an address placeholder gets a free loopback port; without, the
// placeholders stay as they are (a row's description before the start).
func (s *serverSpec) fillCommand(cmd []string, proto string, pick bool) error {
	path, err := lookCommand(cmd[0])
	if err != nil {
		return err
	}
	host, port := "127.0.0.1", phPort
	if pick && usesAddr(cmd) {
		p, err := freePort(host)
		if err != nil {
			return err
		}
		port = strconv.Itoa(p)
		s.addr = net.JoinHostPort(host, port)
	}
	r := strings.NewReplacer(phProto, proto)
	if s.addr != "" {
		r = strings.NewReplacer(phAddr, s.addr, phHost, host, phPort, port, phProto, proto)
	}
	s.path = path
	s.args = make([]string, len(cmd)-1)
	for i, w := range cmd[1:] {
		s.args[i] = r.Replace(w)
	}
	s.line = commandLine(cmd[0], s.args)
	return nil
}

// freePort returns a loopback port free at the moment: bound, then
// released for the server to take.
func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitAccepting polls addr until it accepts a TCP connection, done closes
// (the server exited) or ctx ends.
func waitAccepting(ctx context.Context, addr string, done <-chan struct{}) error {
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			return c.Close()
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-done:
			t.Stop()
			return errors.New("server exited before accepting connections")
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Preflight checks, before anything runs, that the plan can: it is
// valid, every server's executable is found (CheckServers), and every
// command variant meets the contract, once per protocol of the plan it
// serves. The error names the variant and the failing check. Run calls it
// unless it already passed on this config; the run directory need not be
// set yet.
func (cfg *Config) Preflight(ctx context.Context) error {
	if err := cfg.Plan.Validate(0); err != nil {
		return err
	}
	if err := cfg.Plan.CheckServers(cfg.ServerPath); err != nil {
		return err
	}
	cells, _ := cfg.Plan.Expand()
	checked := map[string]bool{}
	for _, c := range cells {
		key := c.label() + "/" + string(c.Workload.Proto)
		if len(c.Command) == 0 || checked[key] {
			continue
		}
		checked[key] = true
		if err := cfg.checkContract(ctx, c); err != nil {
			return fmt.Errorf("variant %s (%s): %w", c.label(), c.Workload.Proto, err)
		}
	}
	cfg.preflighted = true
	return nil
}

// contractTimeout bounds one contract check of a started server.
const contractTimeout = 30 * time.Second

// checkContract starts c's server, checks it against the contract for
// c's protocol and stops it.
func (cfg *Config) checkContract(ctx context.Context, c Cell) error {
	spec, err := cfg.serverSpec(c)
	if err != nil {
		return err
	}
	srv, addr, err := startServer(ctx, cfg, spec)
	if err != nil {
		return err
	}
	defer srv.stop(syscall.SIGTERM, cfg.stopGrace())
	cctx, cancel := context.WithTimeout(ctx, contractTimeout)
	defer cancel()
	if err := contract.Check(cctx, addr, backends.Proto(c.Workload.Proto)); err != nil {
		return fmt.Errorf("%s failed the contract: %w", spec.line, err)
	}
	return nil
}

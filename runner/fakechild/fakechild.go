// Package fakechild is test support, as net/http/httptest is: it lets a
// test binary stand in for the server and loadgen binaries, so the tests of
// runner and cmd/bench need neither. A test's TestMain calls Main
// first; when the environment selects fake mode it plays the part given by
// its arguments and exits.
//
// Environment:
//
//	ASYNCBENCH_FAKE=1            fake mode on
//	ASYNCBENCH_FAKE_DIR=DIR      each fake writes DIR/<role>-<pid>.pid
//	ASYNCBENCH_FAKE_CRASH=B      the server for backend B crashes at start
//	ASYNCBENCH_FAKE_SILENT=B     the server for backend B never prints its line
//	ASYNCBENCH_FAKE_SLOW_AFTER=N loadgen calls after the N-th sleep a minute
//	ASYNCBENCH_FAKE_STUBBORN=1   the server starts a grandchild that ignores
//	                             SIGINT and SIGTERM
//	ASYNCBENCH_FAKE_GENBOUND=N,… the loadgen runs numbered N (from 0, in the
//	                             order they start) report their own CPU 95%
//	                             busy over the window and the server's 50%:
//	                             generator-bound
//	ASYNCBENCH_FAKE_WINDOW=1     loadgen sleeps through its window (-d) and
//	                             reports when it began, so the runner judges
//	                             host noise over it
//	ASYNCBENCH_FAKE_TIMEOUTS=1   loadgen with a /delay target reports that 90%
//	                             of its requests timed out and exits with the
//	                             generator's "failed" status (3), as a blocked
//	                             event loop makes the real one do
//
// A server started with -proto first is a backend's program (cthreads);
// it behaves as the fake server. Every fake server writes
// "GOMAXPROCS=V program=NAME" into its pid file (its environment's
// GOMAXPROCS, its executable's base name).
//
// Started as "command -proto P -addr A [-wrong]", the child is a real
// server for command variants: the stdlib backend on P at A (printing its
// listening line when A's port is 0), or with -wrong an HTTP server that
// answers with a Server header, which the contract refuses.
//
// The fake loadgen reports the measured window it was given (-d), with
// its canned requests and rate whatever the window; given -R it serves
// exactly that rate. Given -mix SPEC it
// reports one endpoint per entry of the spec, with the requests split by
// weight (see Endpoints). Given -idle it reports no request in its window
// and the server's idle memory of IdleSummary.
package fakechild

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/backends/stdlib"
	"github.com/asyncbench/asyncbench/internal/rtmetrics"
	"github.com/asyncbench/asyncbench/loadgen/summary"
)

// Env names.
const (
	EnvFake      = "ASYNCBENCH_FAKE"
	EnvDir       = "ASYNCBENCH_FAKE_DIR"
	EnvCrash     = "ASYNCBENCH_FAKE_CRASH"
	EnvSilent    = "ASYNCBENCH_FAKE_SILENT"
	EnvSlowAfter = "ASYNCBENCH_FAKE_SLOW_AFTER"
	EnvStubborn  = "ASYNCBENCH_FAKE_STUBBORN"
	EnvTimeouts  = "ASYNCBENCH_FAKE_TIMEOUTS"
	EnvGenBound  = "ASYNCBENCH_FAKE_GENBOUND"
	EnvWindow    = "ASYNCBENCH_FAKE_WINDOW"
)

// Main plays a fake child and exits if fake mode is on; otherwise it
// returns at once.
func Main() {
	if os.Getenv(EnvFake) != "1" {
		return
	}
	args := os.Args[1:]
	role := "loadgen"
	switch {
	case len(args) > 0 && args[0] == "stubborn":
		role = "stubborn"
	case len(args) > 0 && (args[0] == "-backend" || args[0] == "-proto"):
		role = "server"
	case len(args) > 0 && args[0] == "command":
		role = "command"
	}
	n := writePID(role)
	var err error
	switch role {
	case "stubborn":
		signal.Ignore(syscall.SIGINT, syscall.SIGTERM)
		time.Sleep(5 * time.Minute)
	case "server":
		err = server(args)
	case "command":
		err = command(args[1:])
	default:
		err = fakeLoadgen(args, n)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// writePID records this process and returns how many of its role ran
// before it.
func writePID(role string) int {
	dir := os.Getenv(EnvDir)
	if dir == "" {
		return 0
	}
	prior, _ := filepath.Glob(filepath.Join(dir, role+"-*.pid"))
	note := fmt.Sprintf("GOMAXPROCS=%s program=%s", os.Getenv("GOMAXPROCS"), filepath.Base(os.Args[0]))
	_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.pid", role, os.Getpid())), []byte(note), 0o644)
	return len(prior)
}

func server(args []string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	backend := fs.String("backend", "", "")
	fs.String("proto", "", "")
	fs.String("addr", "", "")
	fs.String("handicap-cpu-us", "", "") // passed through from plan variants
	fs.String("handicap-delay-us", "", "")
	fs.String("handicap-delay-every", "", "")
	metricsFile := fs.String("runtime-metrics", "", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *backend == "" { // a backend's program
		*backend = filepath.Base(os.Args[0])
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	if *metricsFile != "" { // as cmd/server: window marks on a unix socket
		ln, err := net.Listen("unix", *metricsFile)
		if err != nil {
			return err
		}
		defer ln.Close()
		go rtmetrics.Serve(ln)
	}
	if *backend == os.Getenv(EnvCrash) {
		fmt.Fprintln(os.Stderr, "panic: fake crash of", *backend)
		os.Exit(2)
	}
	if os.Getenv(EnvStubborn) == "1" {
		gc := exec.Command(os.Args[0], "stubborn")
		if err := gc.Start(); err != nil {
			return err
		}
	}
	if *backend != os.Getenv(EnvSilent) {
		fmt.Println("listening on 127.0.0.1:1234")
	}
	select {
	case <-term:
	case <-time.After(5 * time.Minute):
	}
	return nil
}

// command serves for real: the stdlib backend, or with -wrong an HTTP
// server that breaks the contract with a Server header.
func command(args []string) error {
	fs := flag.NewFlagSet("command", flag.ContinueOnError)
	proto := fs.String("proto", "http", "")
	addr := fs.String("addr", "127.0.0.1:0", "")
	bad := fs.Bool("wrong", false, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	var bound net.Addr
	if *bad {
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			return err
		}
		defer ln.Close()
		go serveWrong(ln)
		bound = ln.Addr()
	} else {
		p, err := backends.ParseProto(*proto)
		if err != nil {
			return err
		}
		srv, err := stdlib.New(p)
		if err != nil {
			return err
		}
		if bound, err = srv.Listen(*addr); err != nil {
			return err
		}
		defer srv.Close()
	}
	if strings.HasSuffix(*addr, ":0") {
		fmt.Println(backends.ListeningPrefix + bound.String())
	}
	<-term
	return nil
}

// serveWrong answers every request on ln's connections with /plaintext's
// answer plus a Server header.
func serveWrong(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nServer: fake\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nDate: %s\r\n\r\n%s",
					time.Now().UTC().Format(http.TimeFormat), backends.PlaintextBody)
			}
		}()
	}
}

// Summary is the canned result of a fake loadgen run with conns
// connections: 1000 requests per connection in one second, RSS growing
// by 1 KiB per connection.
func Summary(conns int) summary.Summary {
	req := uint64(1000 * conns)
	return summary.Summary{
		Target: "http://127.0.0.1:1234/plaintext", Workload: "http", Conns: conns, Pipeline: 1,
		Requests: req, DurationSeconds: 1, RPS: float64(req),
		Latency:             summary.Percentiles{P50: 100, P90: 200, P99: 812, P999: 1500, Max: 3000, Mean: 150},
		GeneratorCPUSeconds: 0.25,
		Server: &summary.ServerStats{
			RSSIdleKiB: 1000, RSSPeakKiB: 1000 + int64(conns), RSSMeanKiB: 1000,
			CPUSeconds: 0.5, CtxSwitches: 42, ThreadsPeak: 5, Samples: 10,
		},
	}
}

// IdleSummary is the canned result of a fake idle run (loadgen -idle) with
// conns connections: nothing completed in the window, and from before
// dialling to idle the server grew per connection by 10 KiB of RSS and
// 1/4 KiB of page tables, by 2 threads in all, and the system's TCP
// memory by 1/8 KiB of buffers and 5 KiB of slab per connection (two
// sockets of 2.5 KiB).
func IdleSummary(conns int) summary.Summary {
	s := Summary(conns)
	s.Requests, s.RPS = 0, 0
	s.Latency = summary.Percentiles{}
	s.ServerIdle = &summary.IdleMemory{
		RSSBaseKiB: 1000, RSSKiB: 1000 + 10*int64(conns),
		VmPTEBaseKiB: 100, VmPTEKiB: 100 + int64(conns)/4,
		ThreadsBase: 5, Threads: 7,
		SockMemBaseKiB: 50, SockMemKiB: 50 + int64(conns)/8,
		SlabBaseKiB: 4000, SlabKiB: 4000 + 5*int64(conns),
	}
	return s
}

// loadgenFlags are the loadgen flags the fake reads.
type loadgenFlags struct {
	conns     int
	rate      float64
	d         time.Duration
	hlog, mix string
	seed      uint64
	pid       int
	idle      bool
	mark      string
	target    string
	nargs     int
}

// timeouts reports whether the run's requests time out (EnvTimeouts).
func (f loadgenFlags) timeouts() bool {
	return os.Getenv(EnvTimeouts) == "1" && strings.Contains(f.target, "/delay")
}

// parseLoadgen parses the loadgen command line, accepting every flag the
// runner passes.
func parseLoadgen(args []string) (loadgenFlags, error) {
	var f loadgenFlags
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.IntVar(&f.conns, "c", 1, "")
	fs.Int("P", 1, "")
	fs.Float64Var(&f.rate, "R", 0, "")
	fs.DurationVar(&f.d, "d", 0, "")
	fs.Duration("warmup", 0, "")
	fs.Int("body", 0, "")
	fs.Int("payload", 0, "")
	fs.Bool("json", false, "")
	fs.StringVar(&f.hlog, "hlog", "", "")
	fs.IntVar(&f.pid, "server-pid", 0, "")
	fs.StringVar(&f.mix, "mix", "", "")
	fs.Uint64Var(&f.seed, "seed", 0, "")
	fs.Float64("dial-rate", 0, "")
	fs.String("source-ips", "", "")
	fs.BoolVar(&f.idle, "idle", false, "")
	fs.StringVar(&f.mark, "mark-socket", "", "")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	f.target, f.nargs = fs.Arg(0), fs.NArg()
	return f, nil
}

// fakeSummary is the summary the fake loadgen prints for f, the prior-th
// run, whose window began at start.
func fakeSummary(f loadgenFlags, prior int, start time.Time) (summary.Summary, error) {
	s := Summary(f.conns)
	if f.idle {
		s = IdleSummary(f.conns)
	}
	s.Target = f.target
	if f.d > 0 {
		s.DurationSeconds = f.d.Seconds()
	}
	if f.rate > 0 && !f.idle { // open loop: the fake server keeps up
		s.Rate, s.RPS = f.rate, f.rate
		s.Requests = uint64(f.rate * s.DurationSeconds)
	}
	if f.mix != "" {
		eps, err := Endpoints(f.mix, s.Requests)
		if err != nil {
			return s, err
		}
		s.Mix, s.Seed, s.Endpoints = f.mix, f.seed, eps
	}
	if os.Getenv(EnvWindow) == "1" {
		s.StartTime = start.UTC().Format(time.RFC3339Nano)
	}
	if listed(os.Getenv(EnvGenBound), prior) {
		s.GeneratorCPUSeconds = 0.95 * s.DurationSeconds
		s.Server.CPUSeconds = 0.5 * s.DurationSeconds
	}
	if f.timeouts() {
		s.Errors = 9 * s.Requests
		s.ErrorKinds = map[string]uint64{"timeout": s.Errors}
	}
	return s, nil
}

func fakeLoadgen(args []string, prior int) error {
	f, err := parseLoadgen(args)
	if err != nil {
		return err
	}
	var marks *markConn
	if f.mark != "" { // the window opens, as loadgen marks it
		if marks, err = dialMarks(f.mark); err != nil {
			return err
		}
		defer marks.c.Close()
		if _, err := marks.mark(rtmetrics.CmdOpen); err != nil {
			return err
		}
	}
	if f.nargs != 1 || f.pid <= 0 {
		return fmt.Errorf("want one target and -server-pid, got %q", args)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", f.pid)); err != nil {
		return fmt.Errorf("server pid %d: %w", f.pid, err)
	}
	sleep := 20 * time.Millisecond
	if os.Getenv(EnvWindow) == "1" && f.d > 0 {
		sleep = f.d
	}
	if n, err := strconv.Atoi(os.Getenv(EnvSlowAfter)); err == nil && prior >= n {
		sleep = time.Minute
	}
	start := time.Now()
	intr := make(chan os.Signal, 1)
	signal.Notify(intr, syscall.SIGINT)
	s, err := fakeSummary(f, prior, start)
	if err != nil {
		return err
	}
	select {
	case <-time.After(sleep):
	case <-intr:
		s.Requests /= 2 // a partial summary, as the real one prints
	}
	if marks != nil { // and closes
		w, err := marks.mark(rtmetrics.CmdClose)
		if err != nil {
			return err
		}
		s.ServerWindow = w
	}
	if f.hlog != "" {
		if err := writeHlog(f.hlog, s.Requests); err != nil {
			return err
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(s); err != nil {
		return err
	}
	if f.timeouts() {
		fmt.Fprintf(os.Stderr, "loadgen: run failed: %d of %d requests timed out\n", s.Errors, s.Errors+s.Requests)
		os.Exit(3)
	}
	return nil
}

// listed reports whether n is in the comma-separated list.
func listed(list string, n int) bool {
	for _, f := range strings.Split(list, ",") {
		if v, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && v == n {
			return true
		}
	}
	return false
}

// Endpoints is the fake per-endpoint result of a mix: the requests split
// by weight (the last entry takes the remainder), entry i with a p99 of
// 1000·(i+1) µs.
func Endpoints(spec string, requests uint64) ([]summary.EndpointStats, error) {
	var eps []summary.EndpointStats
	total := 0
	for _, e := range strings.Split(spec, ",") {
		i := strings.LastIndexByte(e, ':')
		w, err := strconv.Atoi(e[i+1:])
		if i < 0 || err != nil {
			return nil, fmt.Errorf("fake: bad mix entry %q", e)
		}
		eps = append(eps, summary.EndpointStats{Path: e[:i], Weight: w})
		total += w
	}
	left := requests
	for i := range eps {
		n := requests * uint64(eps[i].Weight) / uint64(total)
		if i == len(eps)-1 {
			n = left
		}
		left -= n
		p99 := int64(1000 * (i + 1))
		eps[i].Requests = n
		eps[i].Latency = summary.Percentiles{P50: p99 / 10, P90: p99 / 4, P99: p99, P999: 2 * p99, Max: 3 * p99, Mean: float64(p99) / 8}
	}
	return eps, nil
}

// writeHlog writes n requests as one interval whose p99 is the canned
// summary's, 812 µs.
func writeHlog(path string, n uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	// Of every 100 requests 98 below 200 µs, one at 812 and one at 1,500.
	h := hdrhistogram.New(1, 60_000_000, 3)
	for i := uint64(0); i < n; i++ {
		v := int64(100 + i%98)
		switch i % 100 {
		case 98:
			v = 812
		case 99:
			v = 1500
		}
		_ = h.RecordValue(v)
	}
	lw := hdrhistogram.NewHistogramLogWriter(f)
	err = lw.OutputIntervalHistogram(h)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// WaitGone waits until no process that wrote a pid file into pidDir runs
// any more (zombies count as gone), for at most timeout. It returns an
// error naming a process still running, or if no pid file was written.
func WaitGone(pidDir string, timeout time.Duration) error {
	files, _ := filepath.Glob(filepath.Join(pidDir, "*.pid"))
	if len(files) == 0 {
		return errors.New("no pid files written")
	}
	deadline := time.Now().Add(timeout)
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".pid")
		pid, err := strconv.Atoi(base[strings.LastIndexByte(base, '-')+1:])
		if err != nil {
			return err
		}
		for alive(pid) {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s (pid %d) still running", base, pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(data, ')')
	return i < 0 || i+2 >= len(data) || data[i+2] != 'Z'
}

// markConn is the fake generator's side of a mark socket.
type markConn struct {
	c  net.Conn
	rd *bufio.Reader
}

func dialMarks(path string) (*markConn, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, err
	}
	return &markConn{c, bufio.NewReader(c)}, nil
}

// mark sends cmd and returns the server's answer.
func (m *markConn) mark(cmd string) ([]byte, error) {
	if _, err := fmt.Fprintln(m.c, cmd); err != nil {
		return nil, err
	}
	line, err := m.rd.ReadBytes('\n')
	return bytes.TrimSpace(line), err
}

// BinDir makes a directory holding the running test binary under each of
// names, as make build would hold server, loadgen and the backends'
// programs, and returns it; with EnvFake set each plays its part.
func BinDir(t testing.TB, names ...string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, n := range names {
		if err := os.Symlink(exe, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

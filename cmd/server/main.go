// Command server runs one backend on one protocol until SIGINT or SIGTERM:
//
//	server -backend NAME -proto http|echo -addr HOST:PORT [-handicap-cpu-us N] [-handicap-delay-us D -handicap-delay-every N] [-runtime-metrics PATH] [-nbio-mode MODE]
//
// NAME is a backend of backends.Catalog that is not a separate program
// (server -h lists the catalog). It prints "listening on HOST:PORT" once
// it accepts connections, and nothing per request.
//
// -runtime-metrics PATH answers window marks on a unix socket at PATH
// (package rtmetrics): loadgen -mark-socket opens a window when its
// measured window opens and closes it when it closes, and gets back what
// the Go runtime did in between (GC cycles and pauses, GC CPU, scheduling
// latency).
//
// -handicap-cpu-us N makes every HTTP request, and every echo read, first
// burn N microseconds of CPU time (backends.BurnCPU, on the thread serving
// it), on every backend, so that a calibration plan can compare a backend
// with a copy of itself carrying a known cost. 0, the default, is none.
//
// -handicap-delay-us D -handicap-delay-every N makes one request (or echo
// read) in every N wait D microseconds before it is answered
// (backends.SetDelayHandicap): a known latency cost, with a p99 that can
// be computed, for the calibration plan's latency cells.
//
// -nbio-mode nonblocking|blocking|mixed picks nbio's I/O mode (default
// nonblocking); it is refused with any other backend.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/backends/nbio"
	"github.com/asyncbench/asyncbench/backends/registry"
	"github.com/asyncbench/asyncbench/internal/cli"
	"github.com/asyncbench/asyncbench/internal/rtmetrics"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	os.Exit(cli.Exit(os.Stderr, "server", err))
}

// config is the parsed command line.
type config struct {
	Backend  string
	Proto    backends.Proto
	Addr     string
	Handicap time.Duration // CPU burnt per HTTP request or echo read
	Delay    time.Duration // latency handicap: the wait of a delayed request
	Every    int           // one request in Every is delayed
	Metrics  string        // -runtime-metrics socket path; "" = off
	NbioMode nbio.Mode     // -nbio-mode; "" = nbio's default
}

const usage = `usage: server [-backend NAME] [-proto http|echo] [-addr HOST:PORT] [-handicap-cpu-us N] [-handicap-delay-us D -handicap-delay-every N] [-runtime-metrics PATH] [-nbio-mode MODE]

server runs one backend on one protocol until SIGINT or SIGTERM. It prints
"listening on HOST:PORT" on stdout once it accepts connections, and nothing
per request.

Flags:
`

// parseArgs parses the command line; -h prints the usage to stdout.
func parseArgs(args []string, stdout io.Writer) (config, error) {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	backend := fs.String("backend", "stdlib", "backend: "+strings.Join(backends.Names(), ", "))
	proto := fs.String("proto", "http", "protocol: echo, http")
	addr := fs.String("addr", "127.0.0.1:8080", "listen address HOST:PORT (port 0 picks one)")
	metricsFile := fs.String("runtime-metrics", "", "answer window marks (open, close) on a unix socket at `PATH`: a close answers the window's GC cycles, GC pause p99, GC CPU share and scheduling latency p99 (runtime/metrics); loadgen -mark-socket sends them")
	handicap := fs.Int("handicap-cpu-us", 0, "burn this many microseconds of CPU per HTTP request and per echo read, before answering (calibration; 0 = none)")
	delayUs := fs.Int("handicap-delay-us", 0, "make one request in -handicap-delay-every wait this many microseconds before it is answered (calibration; 0 = none)")
	every := fs.Int("handicap-delay-every", 0, "which share of requests -handicap-delay-us delays: one in `N`")
	nbioMode := fs.String("nbio-mode", "", "nbio's I/O `MODE`: nonblocking (every connection on its pollers, the default), blocking (a goroutine per connection) or mixed (goroutines for the first 10,000 connections, pollers beyond); only with -backend nbio")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
		fmt.Fprintln(fs.Output(), "\nExit status: 0 stopped by SIGINT or SIGTERM (or -h), 1 error, 2 bad command line.")
	}
	if err := cli.Parse(fs, args, stdout, "server"); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, cli.Hintf("server", "unexpected argument %q", fs.Arg(0))
	}
	p, err := backends.ParseProto(*proto)
	if err != nil {
		return config{}, cli.Hintf("server", "-proto: %w", err)
	}
	if *handicap < 0 || *handicap > backends.MaxWorkMicros {
		return config{}, cli.Hintf("server", "-handicap-cpu-us %d: want 0 to %d", *handicap, backends.MaxWorkMicros)
	}
	if *delayUs < 0 || *delayUs > backends.MaxWorkMicros {
		return config{}, cli.Hintf("server", "-handicap-delay-us %d: want 0 to %d", *delayUs, backends.MaxWorkMicros)
	}
	if (*delayUs > 0) != (*every > 0) || *every < 0 {
		return config{}, cli.Hintf("server", "-handicap-delay-us and -handicap-delay-every go together, both positive (got %d and %d)", *delayUs, *every)
	}
	var mode nbio.Mode
	if *nbioMode != "" {
		if *backend != "nbio" {
			return config{}, cli.Hintf("server", "-nbio-mode applies only to -backend nbio (got -backend %s)", *backend)
		}
		if mode, err = nbio.ParseMode(*nbioMode); err != nil {
			return config{}, cli.Hintf("server", "-nbio-mode: %w", err)
		}
	}
	return config{Backend: *backend, Proto: p, Addr: *addr, Handicap: time.Duration(*handicap) * time.Microsecond,
		Delay: time.Duration(*delayUs) * time.Microsecond, Every: *every, Metrics: *metricsFile, NbioMode: mode}, nil
}

// run serves until ctx is done. It writes exactly one line to stdout,
// "listening on HOST:PORT", once the backend accepts connections, or the
// usage for -h.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parseArgs(args, stdout)
	if err != nil {
		return err
	}
	backends.SetHandicap(cfg.Handicap)
	defer backends.SetHandicap(0)
	backends.SetDelayHandicap(cfg.Delay, cfg.Every)
	defer backends.SetDelayHandicap(0, 0)
	srv, err := newServer(cfg)
	if err != nil {
		return err
	}
	if cfg.Metrics != "" {
		stopMarks, err := serveMarks(cfg.Metrics)
		if err != nil {
			return err
		}
		defer stopMarks()
	}
	addr, err := srv.Listen(cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	if _, err := fmt.Fprintf(stdout, "%s%s\n", backends.ListeningPrefix, addr); err != nil {
		srv.Close()
		return err
	}
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// newServer returns the backend cfg names; an nbio mode, if set, is
// passed to nbio.
func newServer(cfg config) (backends.Server, error) {
	if cfg.NbioMode == "" {
		return registry.New(cfg.Backend, cfg.Proto)
	}
	srv, err := nbio.NewConfig(cfg.Proto, nbio.Config{Mode: cfg.NbioMode})
	if err != nil {
		return nil, err
	}
	return srv, nil
}

// serveMarks answers window marks (rtmetrics.Serve) on a unix socket at
// path until the returned stop is called.
func serveMarks(path string) (stop func(), err error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("-runtime-metrics: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = rtmetrics.Serve(ln) // returns once ln is closed
	}()
	return func() {
		ln.Close() // also removes the socket file
		<-done
	}, nil
}

// Command loadgen drives an HTTP/1.1 or TCP echo server and reports latency
// and throughput, like wrk2:
//
//	loadgen -c 64 -d 10s [-R 20000] [-latency] [-json] http://127.0.0.1:8080/plaintext
//	loadgen -c 64 -payload 64 tcp://127.0.0.1:9000
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/asyncbench/asyncbench/loadgen"
	"github.com/asyncbench/asyncbench/loadgen/summary"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError marks bad command lines (exit status 2).
type usageError struct{ error }

// Unwrap lets main tell -h (flag.ErrHelp, exit status 0) from other errors.
func (e usageError) Unwrap() error { return e.error }

// options are the command line beyond loadgen.Config.
type options struct {
	cfg     loadgen.Config
	latency bool
	json    bool
	jsonOut string
	hlog    string
	threads int
}

func parseArgs(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by main
	usage := func() {
		fmt.Fprintln(stderr, "usage: loadgen [flags] http://HOST:PORT/PATH | tcp://HOST:PORT")
		fs.SetOutput(stderr)
		fs.PrintDefaults()
	}
	var sources, startAt string
	fs.IntVar(&o.cfg.Conns, "c", 10, "connections")
	fs.DurationVar(&o.cfg.Duration, "d", 10*time.Second, "measured duration (0 = until -n or Ctrl-C)")
	fs.Float64Var(&o.cfg.Rate, "R", 0, "open loop: total requests/s (0 = closed loop)")
	fs.IntVar(&o.cfg.Pipeline, "P", 1, "requests outstanding per connection")
	fs.Uint64Var(&o.cfg.Requests, "n", 0, "stop after this many measured requests (0 = no limit)")
	fs.IntVar(&o.threads, "t", 0, "GOMAXPROCS of the generator (0 = leave as is)")
	fs.DurationVar(&o.cfg.Timeout, "timeout", 2*time.Second, "per request and per dial")
	fs.DurationVar(&o.cfg.Warmup, "warmup", time.Second, "discarded warm-up before the measured window")
	fs.IntVar(&o.cfg.Body, "body", 0, "http: POST a body of N bytes and verify the echo (0 = GET)")
	fs.IntVar(&o.cfg.Payload, "payload", 64, "tcp: echo message size in bytes")
	fs.Float64Var(&o.cfg.DialRate, "dial-rate", 2000, "new connections per second at start")
	fs.StringVar(&sources, "source-ips", "", "comma-separated local addresses to spread connections over")
	fs.StringVar(&startAt, "start-at", "", "wait until this time (RFC 3339 or unix seconds) before warm-up")
	fs.IntVar(&o.cfg.ServerPID, "server-pid", 0, "sample this process's /proc entry during the run")
	fs.BoolVar(&o.latency, "latency", false, "print the latency percentile spectrum")
	fs.BoolVar(&o.json, "json", false, "print one JSON summary instead of text")
	fs.StringVar(&o.jsonOut, "json-out", "", "also write the JSON summary to this file (for images without a shell)")
	fs.Func("engine", "auto, goroutines or epoll (Linux); auto is epoll where available"+" (default auto)", func(s string) error { o.cfg.Engine = summary.Engine(s); return nil })
	fs.StringVar(&o.hlog, "hlog", "", "write 1s interval histograms to this HdrHistogram log file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
		}
		return o, usageError{err}
	}
	if fs.NArg() != 1 {
		return o, usageError{errors.New("need exactly one target URL")}
	}
	o.cfg.Target = fs.Arg(0)
	if sources != "" {
		for _, s := range strings.Split(sources, ",") {
			ip, err := netip.ParseAddr(strings.TrimSpace(s))
			if err != nil {
				return o, usageError{fmt.Errorf("-source-ips: %w", err)}
			}
			o.cfg.SourceIPs = append(o.cfg.SourceIPs, ip)
		}
	}
	if startAt != "" {
		t, err := parseTime(startAt)
		if err != nil {
			return o, usageError{fmt.Errorf("-start-at: %w", err)}
		}
		o.cfg.StartAt = t
	}
	if o.threads < 0 {
		return o, usageError{errors.New("-t must not be negative")}
	}
	if err := o.cfg.Validate(); err != nil {
		return o, usageError{err}
	}
	return o, nil
}

// parseTime accepts RFC 3339 or (fractional) seconds since the epoch.
func parseTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want RFC 3339 or unix seconds, got %q", s)
	}
	return t, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseArgs(args, stderr)
	if err != nil {
		return err
	}
	if o.threads > 0 {
		runtime.GOMAXPROCS(o.threads)
	}
	var hlog io.Writer
	if o.hlog != "" {
		f, err := os.Create(o.hlog)
		if err != nil {
			return err
		}
		defer f.Close()
		hlog = f
	}
	if !o.json {
		if err := loadgen.WriteHeader(stdout, o.cfg); err != nil {
			return err
		}
	}
	res, err := loadgen.Run(ctx, o.cfg, hlog)
	if res == nil {
		return err
	}
	res.Summary.HlogPath = o.hlog
	var werr error
	if o.jsonOut != "" {
		werr = writeJSONFile(o.jsonOut, res.Summary)
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		werr = errors.Join(werr, enc.Encode(res.Summary))
	} else {
		werr = errors.Join(werr, loadgen.WriteText(stdout, res, o.latency))
	}
	if res.Summary.Requests == 0 && res.Summary.Errors > 0 {
		fmt.Fprintf(stderr, "loadgen: warning: no request completed, %d errors: check the target URL and that the server speaks %s\n", res.Summary.Errors, res.Summary.Workload)
	}
	return errors.Join(err, werr)
}

// writeJSONFile writes s as one JSON object to path, replacing it whole.
func writeJSONFile(path string, s summary.Summary) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("-json-out: %w", err)
	}
	return os.Rename(tmp, path)
}

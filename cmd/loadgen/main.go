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

	"golang.org/x/term"

	"github.com/asyncbench/asyncbench/internal/cli"
	"github.com/asyncbench/asyncbench/loadgen"
	"github.com/asyncbench/asyncbench/loadgen/summary"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(cli.Exit(os.Stderr, "loadgen", err))
}

// options are the command line beyond loadgen.Config.
type options struct {
	cfg     loadgen.Config
	latency bool
	json    bool
	jsonOut string
	hlog    string
	threads int
}

const usageLine = "usage: loadgen [flags] http://HOST:PORT/PATH | tcp://HOST:PORT   (flags may also follow the URL)"

// newFlagSet defines every flag of loadgen into o.
func newFlagSet(o *options, sources, startAt *string) *flag.FlagSet {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, usageLine)
		fmt.Fprintln(w, "\nloadgen drives an HTTP/1.1 or TCP echo server and reports latency and throughput, like wrk2.")
		fmt.Fprintln(w, "\nFlags:")
		fs.PrintDefaults()
		fmt.Fprintln(w, "\nExit status: 0 ok, 1 error, 2 bad command line, 3 failed run, 4 saturated run, 130 interrupted.")
	}
	fs.IntVar(&o.cfg.Conns, "c", 10, "connections")
	fs.DurationVar(&o.cfg.Duration, "d", 10*time.Second, "measured duration (0 = until -n or Ctrl-C)")
	fs.Func("R", "open loop: total requests/s (0 = closed loop), or START:END to ramp linearly over -d after a warm-up at START",
		func(s string) error { return parseRate(s, &o.cfg) })
	fs.IntVar(&o.cfg.Pipeline, "P", 1, "requests outstanding per connection, 1.."+strconv.Itoa(loadgen.MaxPipeline))
	fs.Uint64Var(&o.cfg.Requests, "n", 0, "stop after this many measured requests (0 = no limit)")
	fs.IntVar(&o.threads, "t", 0, "GOMAXPROCS of the generator (0 = leave as is)")
	fs.DurationVar(&o.cfg.Timeout, "timeout", 2*time.Second, "per request and per dial, at least 1ms")
	fs.DurationVar(&o.cfg.Warmup, "warmup", time.Second, "discarded warm-up before the measured window")
	fs.IntVar(&o.cfg.Body, "body", 0, "http: POST a body of N bytes and verify the echo (0 = GET)")
	fs.IntVar(&o.cfg.Payload, "payload", 64, "tcp: echo message size in bytes, at least 1")
	fs.Float64Var(&o.cfg.DialRate, "dial-rate", 2000, "new connections per second at start")
	fs.StringVar(sources, "source-ips", "", "comma-separated local addresses to spread connections over")
	fs.StringVar(startAt, "start-at", "", "wait until this time (RFC 3339 or unix seconds) before warm-up")
	fs.IntVar(&o.cfg.ServerPID, "server-pid", 0, "sample this process's /proc entry during the run")
	fs.StringVar(&o.cfg.MarkSocket, "mark-socket", "", "mark the measured window's opening and closing on the server's unix socket at `PATH` (server -runtime-metrics) and keep its answer in the summary as server_window")
	fs.BoolVar(&o.latency, "latency", false, "print the latency percentile spectrum")
	fs.BoolVar(&o.json, "json", false, "print one JSON summary instead of text")
	fs.StringVar(&o.jsonOut, "json-out", "", "also write the JSON summary to this file (for images without a shell)")
	fs.Func("engine", "auto, goroutines or epoll (Linux); auto is epoll where available (default auto)",
		func(s string) error { o.cfg.Engine = summary.Engine(s); return nil })
	fs.StringVar(&o.hlog, "hlog", "", "write 1s interval histograms to this HdrHistogram log file")
	fs.StringVar(&o.cfg.Mix, "mix", "", "http: weighted request mix 'PATH:WEIGHT,PATH:WEIGHT' (e.g. '/plaintext:99,/cpu?us=1000:1'), host and port from the URL")
	fs.BoolVar(&o.cfg.Idle, "idle", false, "idle run: sample -server-pid, dial -c connections, one request on each, then hold them open and silent for -d (not with -R, -P)")
	fs.Uint64Var(&o.cfg.Seed, "seed", 1, "seed of the -mix draws (with the connection index)")
	fs.BoolVar(&o.cfg.Churn, "churn", false, "http: every request on a new connection with Connection: close, which the server closes; -c connections dial in turn (not with -P > 1, -idle or tcp targets)")
	return fs
}

// parseArgs reads the command line. Flags may come before and after the
// one target URL, as with wrk. -h prints the usage to stdout.
func parseArgs(args []string, stdout io.Writer) (options, error) {
	var o options
	var sources, startAt string
	fs := newFlagSet(&o, &sources, &startAt)
	var targets []string
	for {
		if err := cli.Parse(fs, args, stdout, "loadgen"); err != nil {
			return o, err
		}
		if fs.NArg() == 0 {
			break
		}
		targets = append(targets, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(targets) != 1 {
		return o, cli.Hintf("loadgen", "need exactly one target URL, got %d", len(targets))
	}
	o.cfg.Target = targets[0]
	if o.cfg.Idle {
		var bad []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "R" || f.Name == "P" {
				bad = append(bad, "-"+f.Name)
			}
		})
		if len(bad) > 0 {
			return o, cli.Hintf("loadgen", "-idle: %s does not apply to an idle run", strings.Join(bad, ", "))
		}
		if o.cfg.ServerPID == 0 {
			return o, cli.Hintf("loadgen", "-idle needs -server-pid")
		}
	}
	if err := o.finish(sources, startAt); err != nil {
		return o, err
	}
	return o, nil
}

// finish checks and converts what the flags could not.
func (o *options) finish(sources, startAt string) error {
	if sources != "" {
		for _, s := range strings.Split(sources, ",") {
			ip, err := netip.ParseAddr(strings.TrimSpace(s))
			if err != nil {
				return cli.Hintf("loadgen", "-source-ips: %w", err)
			}
			o.cfg.SourceIPs = append(o.cfg.SourceIPs, ip)
		}
	}
	if startAt != "" {
		t, err := parseTime(startAt)
		if err != nil {
			return cli.Hintf("loadgen", "-start-at: %w", err)
		}
		o.cfg.StartAt = t
	}
	// Zero means "default" in loadgen.Config; on the command line it is a
	// mistake, not a request for the default.
	switch {
	case o.threads < 0:
		return cli.Hintf("loadgen", "-t must not be negative, got %d", o.threads)
	case o.cfg.Pipeline < 1:
		return cli.Hintf("loadgen", "-P must be in [1, %d], got %d", loadgen.MaxPipeline, o.cfg.Pipeline)
	case o.cfg.Timeout < time.Millisecond:
		return cli.Hintf("loadgen", "-timeout must be at least 1ms, got %v", o.cfg.Timeout)
	case o.cfg.Payload < 1:
		return cli.Hintf("loadgen", "-payload must be at least 1 byte, got %d", o.cfg.Payload)
	case o.cfg.DialRate < 1:
		return cli.Hintf("loadgen", "-dial-rate must be at least 1/s, got %v", o.cfg.DialRate)
	}
	if err := o.cfg.Validate(); err != nil {
		return cli.Hintf("loadgen", "%w", err)
	}
	return nil
}

// parseRate reads -R: RATE, or START:END for a ramp.
func parseRate(s string, cfg *loadgen.Config) error {
	start, end, ramp := strings.Cut(s, ":")
	r, err := strconv.ParseFloat(start, 64)
	if err != nil {
		return fmt.Errorf("want RATE or START:END, got %q", s)
	}
	cfg.Rate, cfg.RateEnd = r, 0
	if ramp {
		e, err := strconv.ParseFloat(end, 64)
		if err != nil || e <= 0 || r <= 0 {
			return fmt.Errorf("want START:END with both above 0, got %q", s)
		}
		cfg.RateEnd = e
	}
	return nil
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
	o, err := parseArgs(args, stdout)
	if err != nil {
		return err
	}
	if o.threads > 0 {
		runtime.GOMAXPROCS(o.threads)
	}
	// Open the output files first: an unwritable path fails before the run.
	var hlog io.Writer
	if o.hlog != "" {
		f, err := os.Create(o.hlog)
		if err != nil {
			return fmt.Errorf("-hlog: %w", err)
		}
		defer f.Close()
		hlog = f
	}
	var jsonOut *os.File
	if o.jsonOut != "" {
		if jsonOut, err = os.Create(o.jsonOut + ".tmp"); err != nil {
			return fmt.Errorf("-json-out: %w", err)
		}
		defer func() {
			jsonOut.Close()
			os.Remove(jsonOut.Name()) // gone after the rename; left behind only on failure
		}()
	}
	if !o.json {
		if err := loadgen.WriteHeader(stdout, o.cfg); err != nil {
			return err
		}
	}
	o.cfg.Live = liveWriter(stderr, o.json)
	res, err := loadgen.Run(ctx, o.cfg, hlog)
	if o.cfg.Live != nil {
		fmt.Fprint(o.cfg.Live, loadgen.LiveClear)
	}
	if res == nil {
		return err
	}
	res.Summary.HlogPath = o.hlog
	werr := report(o, res, stdout, jsonOut)
	if s := res.Summary; s.Requests == 0 {
		fmt.Fprintf(stderr, "loadgen: warning: no request completed (%d errors, %v): check the target URL, that the server speaks %s, and -timeout against -d\n",
			s.Errors, errorList(s.ErrorKinds), s.Workload)
	}
	if s := res.Summary; s.ServerBacklog && !s.Saturated && !s.Failed {
		fmt.Fprintf(stderr, "loadgen: warning: server backlog: %s\n", s.ServerBacklogReason)
	}
	return errors.Join(err, werr, verdict(res.Summary))
}

// liveWriter returns where the live line goes: stderr when it is a
// terminal and the summary is text; nil (no live line) with -json or when
// stderr is a pipe, a file or not an *os.File at all.
func liveWriter(stderr io.Writer, jsonOut bool) io.Writer {
	f, ok := stderr.(*os.File)
	if jsonOut || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return f
}

// report prints the summary to stdout and, with -json-out, to jsonOut.
func report(o options, res *loadgen.Result, stdout io.Writer, jsonOut *os.File) error {
	var err error
	if jsonOut != nil {
		err = writeJSONFile(jsonOut, o.jsonOut, res.Summary)
	}
	if o.json {
		return errors.Join(err, json.NewEncoder(stdout).Encode(res.Summary))
	}
	return errors.Join(err, loadgen.WriteText(stdout, res, o.latency))
}

// verdict maps a finished run to its exit status (see loadgen/README.md).
func verdict(s summary.Summary) error {
	switch {
	case s.StopReason == summary.StopInterrupted:
		return &cli.ExitError{Code: cli.ExitInterrupted, Err: errors.New("interrupted")}
	case s.Failed:
		return &cli.ExitError{Code: cli.ExitFailed, Err: fmt.Errorf("run failed: %s", s.FailedReason)}
	case s.Saturated:
		return &cli.ExitError{Code: cli.ExitSaturated, Err: fmt.Errorf("run saturated: %s", s.SaturatedReason)}
	}
	return nil
}

// errorList names the error kinds that occurred, for the warning.
func errorList(kinds map[string]uint64) string {
	var parts []string
	for k := range loadgen.ErrKinds() {
		name := loadgen.ErrKindName(k)
		if n := kinds[name]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", name, n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// writeJSONFile writes s as one JSON object to f, the temporary file beside
// path, and renames it over path, so path is replaced whole.
func writeJSONFile(f *os.File, path string, s summary.Summary) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("-json-out: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("-json-out: %w", err)
	}
	return os.Rename(f.Name(), path)
}

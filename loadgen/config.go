// Package loadgen drives an HTTP/1.1 or TCP echo server with a fixed number
// of connections, closed loop or at a constant rate, and records latency
// into HdrHistograms. It knows nothing of the server beyond its address.
package loadgen

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/asyncbench/asyncbench/loadgen/summary"
)

// Limits applied by Validate.
const (
	MaxPipeline   = 1024
	MaxBody       = 1 << 20 // POST body and echo payload
	maxConns      = 1 << 20
	defaultDialPS = 2000
)

// Config describes one run. The zero value of an optional field means
// "off" or "default" as documented on the field.
type Config struct {
	Target    string         // http://HOST:PORT/PATH or tcp://HOST:PORT
	Conns     int            // connections, ≥ 1
	Pipeline  int            // requests outstanding per connection; 0 means 1
	Rate      float64        // total requests/s; 0 = closed loop
	Duration  time.Duration  // measured window; 0 = until Requests or Ctrl-C
	Warmup    time.Duration  // discarded lead-in before the measured window
	Requests  uint64         // stop after this many measured requests; 0 = no limit
	Timeout   time.Duration  // per request and per dial; 0 means 2s
	Body      int            // http: POST an N-byte body to be echoed back; 0 = GET
	Payload   int            // echo: message size in bytes; 0 means 64
	DialRate  float64        // new connections per second at start; 0 means 2000
	SourceIPs []netip.Addr   // local addresses connections are spread over; empty = any
	StartAt   time.Time      // wall-clock time to start warm-up at; zero = at once
	ServerPID int            // sample /proc/PID during the measured window; 0 = off
	Engine    summary.Engine // EngineAuto (""), summary.EngineGoroutines or summary.EngineEpoll
	Mix       string         // http: 'PATH:WEIGHT,…' drawn per request instead of the target's path (see ParseMix); "" = off
	Seed      uint64         // seed of the mix's draws; with the connection index it fixes each connection's sequence
	RateEnd   float64        // open loop: ramp the rate linearly from Rate to RateEnd over Duration (after the warm-up at Rate); 0 = constant
	Live      io.Writer      // once per second of the window, a live line (LiveLine) overwritten in place with \r; nil = off. Not a result
	Idle      bool           // idle run: one request per connection, then all held open and silent for Duration (needs ServerPID)
	Churn     bool           // http: every request on a new connection with Connection: close; the server's close ends it (pipeline 1)
	// MarkSocket is a unix socket of the server's on which the measured
	// window's opening and closing are marked (a line "open", then
	// "close", each answered with one line), so that the server can give
	// its own figures for exactly the window; the close answer is kept in
	// the summary as ServerWindow. "" = none.
	MarkSocket string
}

// EngineAuto picks epoll on Linux and goroutines elsewhere.
const EngineAuto summary.Engine = ""

// schedule returns the whole open-loop schedule of c (with defaults
// applied): constant at Rate, or held at Rate through the warm-up and then
// ramped to RateEnd over Duration.
func (c Config) schedule() Schedule {
	return Schedule{Rate: c.Rate, End: c.RateEnd, Hold: c.Warmup, Ramp: c.Duration}
}

// engine returns the engine c runs on.
func (c Config) engine() summary.Engine {
	if c.Engine == EngineAuto || c.Engine == "auto" {
		if epollAvailable {
			return summary.EngineEpoll
		}
		return summary.EngineGoroutines
	}
	return c.Engine
}

// Target is a parsed Config.Target.
type Target struct {
	Workload summary.Workload // summary.WorkloadHTTP or summary.WorkloadEcho
	Addr     string           // HOST:PORT to dial
	Path     string           // request path (http only), "/" when empty
}

// ParseTarget parses http://HOST:PORT/PATH or tcp://HOST:PORT.
func ParseTarget(s string) (Target, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Target{}, fmt.Errorf("target %q: %w", s, err)
	}
	if u.Host == "" || u.Port() == "" {
		return Target{}, fmt.Errorf("target %q: want SCHEME://HOST:PORT", s)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return Target{}, fmt.Errorf("target %q: %w", s, err)
	}
	if host == "" {
		return Target{}, fmt.Errorf("target %q: empty host", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return Target{}, fmt.Errorf("target %q: port must be in [1, 65535], got %q", s, port)
	}
	t := Target{Addr: u.Host}
	switch u.Scheme {
	case "http":
		t.Workload = summary.WorkloadHTTP
		t.Path = u.RequestURI()
		if t.Path == "" {
			t.Path = "/"
		}
		if strings.ContainsAny(t.Path, " \r\n") {
			return Target{}, fmt.Errorf("target %q: path must not contain spaces or line breaks", s)
		}
	case "tcp":
		t.Workload = summary.WorkloadEcho
		if u.Path != "" && u.Path != "/" {
			return Target{}, fmt.Errorf("target %q: tcp target takes no path", s)
		}
	default:
		return Target{}, fmt.Errorf("target %q: scheme must be http or tcp", s)
	}
	return t, nil
}

// withDefaults returns c with zero optional fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Pipeline == 0 {
		c.Pipeline = 1
	}
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Second
	}
	if c.Payload == 0 {
		c.Payload = 64
	}
	if c.DialRate == 0 {
		c.DialRate = defaultDialPS
	}
	return c
}

// Validate reports the first problem with c, or nil.
func (c Config) Validate() error {
	t, err := ParseTarget(c.Target)
	if err != nil {
		return err
	}
	c = c.withDefaults()
	if err := c.checkFields(t); err != nil {
		return err
	}
	if err := c.checkEngine(); err != nil {
		return err
	}
	if err := c.checkModes(t); err != nil {
		return err
	}
	for _, ip := range c.SourceIPs {
		if !ip.IsValid() {
			return errors.New("invalid source address")
		}
	}
	return nil
}

// checkFields reports the first field of c (with defaults applied) out of
// its range or not applying to target t, or nil.
func (c Config) checkFields(t Target) error {
	switch {
	case c.Conns < 1 || c.Conns > maxConns:
		return fmt.Errorf("connections must be in [1, %d], got %d", maxConns, c.Conns)
	case c.Pipeline < 1 || c.Pipeline > MaxPipeline:
		return fmt.Errorf("pipeline must be in [1, %d], got %d", MaxPipeline, c.Pipeline)
	case c.Rate < 0 || c.Rate != c.Rate || c.Rate > 1e8:
		return fmt.Errorf("rate must be in [0, 1e8] req/s, got %v", c.Rate)
	case c.Duration < 0:
		return fmt.Errorf("duration must not be negative, got %v", c.Duration)
	case c.Duration == 0 && c.Requests == 0:
		return errors.New("need a duration or a request count")
	case c.Warmup < 0:
		return fmt.Errorf("warmup must not be negative, got %v", c.Warmup)
	case c.Timeout < time.Millisecond:
		return fmt.Errorf("timeout must be at least 1ms, got %v", c.Timeout)
	case c.Body < 0 || c.Body > MaxBody:
		return fmt.Errorf("body must be in [0, %d] bytes, got %d", MaxBody, c.Body)
	case c.Payload < 1 || c.Payload > MaxBody:
		return fmt.Errorf("payload must be in [1, %d] bytes, got %d", MaxBody, c.Payload)
	case c.Body > 0 && t.Workload != summary.WorkloadHTTP:
		return errors.New("body applies to http targets only; use payload for tcp")
	case c.DialRate < 1:
		return fmt.Errorf("dial rate must be at least 1/s, got %v", c.DialRate)
	case c.ServerPID < 0:
		return fmt.Errorf("server pid must be positive, got %d", c.ServerPID)
	}
	return nil
}

// checkEngine reports an engine that is unknown or not available here.
func (c Config) checkEngine() error {
	switch c.Engine {
	case EngineAuto, "auto", summary.EngineGoroutines:
	case summary.EngineEpoll:
		if !epollAvailable {
			return errors.New("engine epoll is available on Linux only")
		}
	default:
		return fmt.Errorf("unknown engine %q (valid: auto, goroutines, epoll)", c.Engine)
	}
	return nil
}

// checkModes reports the first problem with the mix, the ramp, an idle run
// or churn of c (with defaults applied) against target t: each applies to
// some targets and settings only.
func (c Config) checkModes(t Target) error {
	if c.Mix != "" {
		if _, err := ParseMix(c.Mix); err != nil {
			return err
		}
		switch {
		case t.Workload != summary.WorkloadHTTP:
			return errors.New("mix applies to http targets only")
		case c.Body > 0:
			return errors.New("mix and body do not combine: a mix sends GET requests")
		}
	}
	if c.RateEnd != 0 {
		switch {
		case c.RateEnd < 0 || c.RateEnd != c.RateEnd || c.RateEnd > 1e8:
			return fmt.Errorf("ramp end rate must be in (0, 1e8] req/s, got %v", c.RateEnd)
		case c.Rate <= 0:
			return errors.New("a ramp needs a start rate above 0")
		case c.Duration == 0:
			return errors.New("a ramp needs a duration to ramp over")
		}
	}
	if c.Idle {
		switch {
		case c.ServerPID == 0:
			return errors.New("idle needs the server pid to sample")
		case c.Rate != 0:
			return errors.New("rate does not apply to an idle run")
		case c.Pipeline != 1:
			return errors.New("pipeline does not apply to an idle run")
		case c.Mix != "":
			return errors.New("mix does not apply to an idle run")
		case c.Body != 0:
			return errors.New("body does not apply to an idle run")
		case c.Duration == 0:
			return errors.New("idle needs a duration to hold the connections")
		}
	}
	if c.Churn {
		switch {
		case t.Workload != summary.WorkloadHTTP:
			return errors.New("churn applies to http targets only")
		case c.Pipeline != 1:
			return fmt.Errorf("churn sends one request per connection: pipeline must be 1, got %d", c.Pipeline)
		case c.Idle:
			return errors.New("churn and idle do not combine: an idle run holds its connections open")
		}
	}
	return nil
}

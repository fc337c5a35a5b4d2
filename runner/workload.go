package runner

import (
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/loadgen/mix"
	"github.com/asyncbench/asyncbench/loadgen/summary"
)

// Parameterised workloads. A plan names them with a parameter after a
// colon:
//
//	delay:N   GET /delay?us=N: the handler waits N µs, then answers like /plaintext
//	cpu:N     GET /cpu?us=N: the handler computes for N µs of CPU time
//	mix:SPEC  a weighted mix of paths, e.g. mix:/plaintext:99,/cpu?us=1000:1;
//	          the generator gets -mix SPEC -seed S (see Cell.Seed)
//
// N is 0 to backends.MaxWorkMicros. A SPEC is read by mix.Parse, as the
// generator reads its -mix, so a mix that validates here runs there.
const (
	WorkloadDelay = "delay"
	WorkloadCPU   = "cpu"
	WorkloadMix   = "mix"
)

// MaxDialRate bounds the plan's dial_rate (new connections per second).
const MaxDialRate = 1_000_000

// DefaultDialRate is the generator's own dial rate, used when the plan
// sets none (loadgen -dial-rate default).
const DefaultDialRate = 2000

// ParseWorkload returns the workload a plan names: one of Workloads, or a
// parameterised one (delay:N, cpu:N, mix:SPEC). The error names the
// workload and says what is wrong, on one line.
func ParseWorkload(name string) (Workload, error) {
	if w, ok := Workloads[name]; ok {
		return w, nil
	}
	kind, param, ok := strings.Cut(name, ":")
	switch {
	case !ok:
		return Workload{}, fmt.Errorf("unknown workload %q (valid: %s, delay:N, cpu:N, mix:SPEC)", name, strings.Join(slices.Sorted(maps.Keys(Workloads)), ", "))
	case kind == WorkloadDelay || kind == WorkloadCPU:
		us, err := parseMicros(param)
		if err != nil {
			return Workload{}, fmt.Errorf("workload %q: %v", name, err)
		}
		path := backends.DelayPath
		if kind == WorkloadCPU {
			path = backends.CPUPath
		}
		return Workload{
			Name: kind, Proto: backends.ProtoHTTP, Path: path + "?us=" + strconv.Itoa(us),
			HandlerUs: us, Spec: name,
		}, nil
	case kind == WorkloadMix:
		entries, err := mix.Parse(param)
		if err != nil {
			return Workload{}, fmt.Errorf("workload %q: %v", name, err)
		}
		return Workload{
			Name: kind, Proto: backends.ProtoHTTP, Path: entries[0].Path,
			Mix: param, Spec: name,
		}, nil
	}
	return Workload{}, fmt.Errorf("unknown workload %q (valid: %s, delay:N, cpu:N, mix:SPEC)", name, strings.Join(slices.Sorted(maps.Keys(Workloads)), ", "))
}

// HasHandlerTime reports whether the workload is delay or cpu, whose
// HandlerUs is the time spent per request.
func (w Workload) HasHandlerTime() bool {
	return w.Name == WorkloadDelay || w.Name == WorkloadCPU
}

// keyName is the workload's part of a cell key: its name, with the
// parameter for delay and cpu ("delay-1000us") and, for a mix, the spec in
// file-name-safe characters followed by a hash of the exact spec, so two
// different specs never share a key ("mix-plaintext_99__cpu_us=1000_1-1b2c3d4e").
func (w Workload) keyName() string {
	switch {
	case w.HasHandlerTime():
		return fmt.Sprintf("%s-%dus", w.Name, w.HandlerUs)
	case w.Name == WorkloadMix:
		h := fnv.New32a()
		h.Write([]byte(w.Mix))
		return fmt.Sprintf("%s-%s-%08x", w.Name, keySafe(strings.TrimPrefix(w.Mix, "/")), h.Sum32())
	}
	return w.Name
}

// keySafe replaces every character but letters, digits, '=', '.' and '-'
// with '_'.
func keySafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '=', r == '.', r == '-':
			return r
		}
		return '_'
	}, s)
}

// parseMicros reads N of delay:N or cpu:N.
func parseMicros(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > backends.MaxWorkMicros || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("N must be an integer from 0 to %d µs, got %q", backends.MaxWorkMicros, s)
	}
	return n, nil
}

// Seed is the seed of a mix cell's random draws: its repetition number.
// Every backend thus gets the same sequence of requests in the same
// repetition, and each repetition a different one; a rerun of the cell
// (resume) draws the same sequence again.
func (c Cell) Seed() uint64 { return uint64(c.Rep) }

// checkWorkloads validates every workload name; errors name the workload.
func (p *Plan) checkWorkloads() []error {
	var errs []error
	seen := map[string]string{}
	for _, name := range p.Workloads {
		w, err := ParseWorkload(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := seen[w.keyName()]; dup && prev != name {
			errs = append(errs, fmt.Errorf("workloads %q and %q are the same workload", prev, name))
		}
		seen[w.keyName()] = name
	}
	errs = append(errs, p.checkIdle()...)
	if slices.Contains(p.Workloads, "churn") && len(p.Pipeline) > 0 && !slices.Equal(p.Pipeline, []int{1}) {
		errs = append(errs, errors.New("workload churn sends one request per connection: pipeline must be [1] (put pipelined workloads in a plan of their own)"))
	}
	if math.IsNaN(p.DialRate) || p.DialRate < 0 || p.DialRate > MaxDialRate || (p.DialRate > 0 && p.DialRate < 1) {
		errs = append(errs, fmt.Errorf("dial_rate %g: must be 0 (the generator's default, %d/s) or 1 to %d new connections/s", p.DialRate, DefaultDialRate, MaxDialRate))
	}
	return errs
}

// dialTime is how long the generator takes to open conns connections at
// the plan's dial rate.
func (p *Plan) dialTime(conns int) time.Duration {
	rate := p.DialRate
	if rate <= 0 {
		rate = DefaultDialRate
	}
	return time.Duration(float64(conns) / rate * float64(time.Second))
}

// PlannedTime is the planned wall time of the plan's cells: per cell the
// warm-up, the window, the fixed overhead and the time to dial its
// connections at the plan's dial rate.
func (p *Plan) PlannedTime() time.Duration {
	cells, _ := p.Expand()
	var d time.Duration
	for _, c := range cells {
		d += p.CellTime() + p.dialTime(c.Conns)
	}
	return d
}

// workloadArgs are the generator flags the cell's workload and the plan's
// dial rate add: -mix SPEC -seed S for a mix, -churn for churn, -dial-rate
// R when set, -source-ips LIST for an idle cell or many connections
// (SourceIPs).
func workloadArgs(p *Plan, c Cell) []string {
	var args []string
	if c.Workload.Churn {
		args = append(args, "-churn")
	}
	if c.Workload.Mix != "" {
		args = append(args, "-mix", c.Workload.Mix, "-seed", strconv.FormatUint(c.Seed(), 10))
	}
	if p.DialRate > 0 {
		args = append(args, "-dial-rate", formatRate(p.DialRate))
	}
	if ips := SourceIPs(c); len(ips) > 0 {
		args = append(args, "-source-ips", strings.Join(ips, ","))
	}
	return args
}

// Source addresses. One address pair offers ~28,000 ephemeral ports, and
// a large cell leaves its connections in TIME_WAIT for a minute after it,
// so the next large cell from the same address can run out (the idle
// sweep's 19,000-connection point failed so). Idle cells and cells above
// SourceIPsAbove connections therefore connect from 127.0.0.2 on, one
// address per ConnsPerSourceIP connections: on Linux every 127.0.0.0/8
// address is the loopback interface's, with no set-up.
const (
	SourceIPsAbove    = 5000
	ConnsPerSourceIP  = 10000
	maxSourceIPs      = 250 // 127.0.0.2 to 127.0.0.251
	firstSourceIPByte = 2
)

// SourceIPs lists the local addresses the generator spreads c's
// connections over; nil = any (the kernel's choice, 127.0.0.1).
func SourceIPs(c Cell) []string {
	if !c.Workload.Idle && c.Conns <= SourceIPsAbove {
		return nil
	}
	n := min(max((c.Conns+ConnsPerSourceIP-1)/ConnsPerSourceIP, 1), maxSourceIPs)
	ips := make([]string, n)
	for i := range ips {
		ips[i] = "127.0.0." + strconv.Itoa(firstSourceIPByte+i)
	}
	return ips
}

// handlerWorkload recognises, for bench merge, a generator summary of a
// delay or cpu cell by its target (/delay?us=N, /cpu?us=N). ok is false for
// other targets. A mix is refused: its per-endpoint statistics come without
// histograms, so they cannot be merged exactly.
func handlerWorkload(s summary.Summary, u *url.URL) (w Workload, ok bool, err error) {
	if s.Mix != "" || len(s.Endpoints) > 0 {
		return Workload{}, false, fmt.Errorf("merge: %s ran the mix %q; mixes cannot be merged (per-endpoint latencies have no histograms to add)", s.Target, s.Mix)
	}
	kind := ""
	switch u.Path {
	case backends.DelayPath:
		kind = WorkloadDelay
	case backends.CPUPath:
		kind = WorkloadCPU
	default:
		return Workload{}, false, nil
	}
	d, valid := backends.ParseMicros([]byte(u.RawQuery))
	if !valid {
		return Workload{}, false, fmt.Errorf("merge: target %s: %s needs us=N", s.Target, u.Path)
	}
	w, err = ParseWorkload(fmt.Sprintf("%s:%d", kind, d.Microseconds()))
	return w, err == nil, err
}

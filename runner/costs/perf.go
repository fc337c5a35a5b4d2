package costs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"strconv"
	"strings"

	"github.com/asyncbench/asyncbench/runner/cpuset"
)

// PerfNotInstalled is why the perf cross-check is missing when perf is not
// on this machine.
const PerfNotInstalled = "perf not installed"

// PerfPipe is the kernel's own thread switch as `perf bench sched pipe -T`
// measures it, a cross-check of the C ring: two threads pass one byte back
// and forth over two pipes, and perf prints microseconds per round trip
// ("usecs/op"). A round trip is two switches, so the figures here are
// usecs/op ÷ 2: one switch with its pipe write and read included (the
// ring's switch figures subtract those; its pipe round trip is beside
// them). Nothing but NotMeasured is set when it was not measured.
type PerfPipe struct {
	Command     string `json:"command,omitempty"`
	NotMeasured string `json:"not_measured,omitempty"` // why not, e.g. PerfNotInstalled
	Loops       int    `json:"loops,omitempty"`        // round trips per run
	Pinned      *Stat  `json:"pinned_switch_us,omitempty"`
	Unpinned    *Stat  `json:"unpinned_switch_us,omitempty"`
}

// perfLoops is how many round trips each perf run makes: as many switches
// as one run of the ring.
func perfLoops(o Options) int { return max(o.Ring*o.SwitchLoops/2, 1) }

// errPerfOutput marks perf output that holds no usable figure.
var errPerfOutput = errors.New("perf bench sched pipe output")

// parsePerfSchedPipe reads the output of `perf bench sched pipe -T` and
// returns its microseconds per round trip. It refuses the process variant
// (without -T) and a figure that is not positive and finite (perf prints
// "inf" for zero loops).
func parsePerfSchedPipe(r io.Reader) (float64, error) {
	sc := bufio.NewScanner(r)
	threads, us := false, math.NaN()
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "# Executed ") {
			threads = strings.HasSuffix(line, " between two threads")
		}
		if f := strings.Fields(line); len(f) == 2 && f[1] == "usecs/op" {
			v, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				return 0, fmt.Errorf("%w: usecs/op %q: %v", errPerfOutput, f[0], err)
			}
			us = v
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	switch {
	case math.IsNaN(us):
		return 0, fmt.Errorf("%w: no usecs/op line", errPerfOutput)
	case !threads:
		return 0, fmt.Errorf("%w: not between two threads (run with -T)", errPerfOutput)
	case !(us > 0) || math.IsInf(us, 0):
		return 0, fmt.Errorf("%w: usecs/op %v is not a positive figure", errPerfOutput, us)
	}
	return us, nil
}

// perfPipe runs perf (at path) o.Reps times pinned to cpu and as many times
// unpinned. perf is never required: when it fails the result says why and
// the error is nil, unless ctx ended.
func perfPipe(ctx context.Context, path string, cpu int, o Options, progress func(string)) (PerfPipe, error) {
	loops := strconv.Itoa(perfLoops(o))
	p := PerfPipe{Command: path + " bench sched pipe -T -l " + loops, Loops: perfLoops(o)}
	for _, mode := range []struct {
		name string
		cpus cpuset.Set
		dst  **Stat
	}{{"pinned", cpuset.Set{cpu}, &p.Pinned}, {"unpinned", nil, &p.Unpinned}} {
		progress("perf bench sched pipe -T, " + mode.name)
		var sw []float64
		for range o.Reps {
			cmd := exec.CommandContext(ctx, path, "bench", "sched", "pipe", "-T", "-l", loops)
			out, err := runPinned(cmd, "perf bench sched pipe", mode.cpus)
			var us float64
			if err == nil {
				us, err = parsePerfSchedPipe(bytes.NewReader(out))
			}
			if err != nil {
				if ctx.Err() != nil {
					return p, ctx.Err()
				}
				return PerfPipe{Command: p.Command, NotMeasured: "perf failed: " + firstLine(err.Error())}, nil
			}
			sw = append(sw, us/2)
		}
		s := statOf(sw)
		*mode.dst = &s
	}
	return p, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Package rtmetrics reads what the Go runtime did during a window, from
// runtime/metrics: garbage-collection cycles, their stop-the-world pauses,
// the CPU they took and how long goroutines waited runnable before they
// ran (scheduling latency). A client marks the window's start and end over
// a socket (Serve); the figures come from the difference of the two
// readings, so nothing outside the window counts.
package rtmetrics

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"runtime/metrics"
	"sync"
)

// Names of the runtime metrics read.
const (
	nameGCCycles       = "/gc/cycles/total:gc-cycles"
	nameGCPauses       = "/sched/pauses/total/gc:seconds"
	nameGCCPU          = "/cpu/classes/gc/total:cpu-seconds"
	nameTotalCPU       = "/cpu/classes/total:cpu-seconds"
	nameSchedLatencies = "/sched/latencies:seconds"
)

// Reading is one read of the runtime's cumulative metrics.
type Reading struct {
	GCCycles       uint64
	GCCPUSeconds   float64 // an estimate the runtime updates at GC cycle ends
	TotalCPU       float64 // the runtime's own CPU estimate, same caveat
	GCPauses       Histogram
	SchedLatencies Histogram
}

// Histogram is a cumulative runtime histogram: Counts[i] in
// [Bounds[i], Bounds[i+1]), seconds; the outer bounds may be infinite.
type Histogram struct {
	Counts []uint64
	Bounds []float64
}

// Read reads the runtime's metrics now.
func Read() Reading {
	s := []metrics.Sample{{Name: nameGCCycles}, {Name: nameGCPauses}, {Name: nameGCCPU}, {Name: nameTotalCPU}, {Name: nameSchedLatencies}}
	metrics.Read(s)
	var r Reading
	for _, x := range s {
		switch x.Name {
		case nameGCCycles:
			if x.Value.Kind() == metrics.KindUint64 {
				r.GCCycles = x.Value.Uint64()
			}
		case nameGCCPU, nameTotalCPU:
			if x.Value.Kind() == metrics.KindFloat64 {
				if x.Name == nameGCCPU {
					r.GCCPUSeconds = x.Value.Float64()
				} else {
					r.TotalCPU = x.Value.Float64()
				}
			}
		case nameGCPauses, nameSchedLatencies:
			if x.Value.Kind() != metrics.KindFloat64Histogram {
				continue
			}
			h := x.Value.Float64Histogram()
			c := Histogram{Counts: append([]uint64(nil), h.Counts...), Bounds: append([]float64(nil), h.Buckets...)}
			if x.Name == nameGCPauses {
				r.GCPauses = c
			} else {
				r.SchedLatencies = c
			}
		}
	}
	return r
}

// Window is what the runtime did between two readings. The JSON names are
// the result columns'.
type Window struct {
	GCCycles uint64 `json:"gc_cycles"`
	// GCPauseP99Us is the p99 of the stop-the-world GC pauses in the
	// window, µs (0 without any), as the upper bound of its bucket.
	GCPauseP99Us float64 `json:"gc_pause_p99_us"`
	GCPauses     uint64  `json:"gc_pauses"`
	// GCCPUPct is the runtime's estimate of its GC CPU time as a share of
	// its total CPU time, %; -1 when the estimate did not move.
	GCCPUPct float64 `json:"gc_cpu_pct"`
	// SchedLatencyP99Us is the p99 of the time goroutines waited runnable
	// before running, µs, as the upper bound of its bucket; -1 without
	// a sample.
	SchedLatencyP99Us float64 `json:"sched_latency_p99_us"`
	SchedSamples      uint64  `json:"sched_latency_samples"`
}

// Between returns the window from reading a to the later reading b.
func Between(a, b Reading) (Window, error) {
	w := Window{GCCycles: b.GCCycles - a.GCCycles, GCCPUPct: -1, SchedLatencyP99Us: -1}
	if b.GCCycles < a.GCCycles {
		return Window{}, errors.New("rtmetrics: readings out of order")
	}
	if d := b.TotalCPU - a.TotalCPU; d > 0 {
		w.GCCPUPct = 100 * (b.GCCPUSeconds - a.GCCPUSeconds) / d
	}
	pauses, err := diff(a.GCPauses, b.GCPauses)
	if err != nil {
		return Window{}, fmt.Errorf("rtmetrics: GC pauses: %w", err)
	}
	w.GCPauses = total(pauses.Counts)
	if p, ok := quantileUs(pauses, 0.99); ok {
		w.GCPauseP99Us = p
	}
	sched, err := diff(a.SchedLatencies, b.SchedLatencies)
	if err != nil {
		return Window{}, fmt.Errorf("rtmetrics: scheduling latencies: %w", err)
	}
	w.SchedSamples = total(sched.Counts)
	if p, ok := quantileUs(sched, 0.99); ok {
		w.SchedLatencyP99Us = p
	}
	return w, nil
}

// diff subtracts cumulative histogram a from the later b.
func diff(a, b Histogram) (Histogram, error) {
	if len(a.Counts) == 0 {
		return b, nil
	}
	if len(a.Counts) != len(b.Counts) || len(a.Bounds) != len(b.Bounds) {
		return Histogram{}, errors.New("bucket layouts differ")
	}
	d := Histogram{Counts: make([]uint64, len(b.Counts)), Bounds: b.Bounds}
	for i := range b.Counts {
		if b.Counts[i] < a.Counts[i] {
			return Histogram{}, errors.New("a count went down")
		}
		d.Counts[i] = b.Counts[i] - a.Counts[i]
	}
	return d, nil
}

func total(c []uint64) uint64 {
	var n uint64
	for _, x := range c {
		n += x
	}
	return n
}

// quantileUs returns the upper bound, in µs, of the bucket that holds the
// q quantile of h (its lower bound when the upper one is infinite), and
// false when h is empty.
func quantileUs(h Histogram, q float64) (float64, bool) {
	n := total(h.Counts)
	if n == 0 {
		return 0, false
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var cum uint64
	for i, c := range h.Counts {
		cum += c
		if cum >= rank {
			v := h.Bounds[i+1]
			if math.IsInf(v, 1) {
				v = h.Bounds[i]
			}
			return math.Max(v, 0) * 1e6, true
		}
	}
	return 0, false // not reached: cum ends at n ≥ rank
}

// The mark protocol: a client (loadgen -mark-socket) connects to the
// server's socket and writes one line per mark; each gets one line back.
// "open" reads the runtime and answers "{}"; "close" reads it again and
// answers the window since the last open as a JSON object (Window), or
// {"error": "..."}. Marks are answered on a goroutine of their own, off
// every request path, and each answer is written after the runtime was
// read, so a client that waits for it knows the mark was taken.
const (
	CmdOpen  = "open"
	CmdClose = "close"
)

// Serve answers marks on ln until it is closed.
func Serve(ln net.Listener) error {
	var mu sync.Mutex // one window per server, whichever connection marks it
	var start Reading
	open := false
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				r := Read()
				mu.Lock()
				reply := answer(sc.Text(), r, &start, &open)
				mu.Unlock()
				if _, err := c.Write(append(reply, '\n')); err != nil {
					return
				}
			}
		}()
	}
}

// answer applies one mark command given the reading r taken for it.
func answer(cmd string, r Reading, start *Reading, open *bool) []byte {
	switch cmd {
	case CmdOpen:
		*start, *open = r, true
		return []byte("{}")
	case CmdClose:
		if !*open {
			return errorReply("close without open")
		}
		*open = false
		w, err := Between(*start, r)
		if err != nil {
			return errorReply(err.Error())
		}
		b, _ := json.Marshal(w) // a struct of numbers: cannot fail
		return b
	}
	return errorReply(fmt.Sprintf("unknown mark %q (want open or close)", cmd))
}

func errorReply(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return b
}

// Parse reads a close answer: the window, or the error the server gave.
func Parse(data []byte) (Window, error) {
	var v struct {
		Window
		Error string `json:"error"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return Window{}, fmt.Errorf("rtmetrics: %w", err)
	}
	if v.Error != "" {
		return Window{}, fmt.Errorf("rtmetrics: server: %s", v.Error)
	}
	return v.Window, nil
}

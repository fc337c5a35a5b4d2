package runner

import (
	"github.com/asyncbench/asyncbench/results"
)

// BusyCPUPct is the share of its CPUs, in percent, at which a side (server
// or generator) counts as CPU-bound. Scheduling gaps, wake-ups and the
// sampling itself keep a fully loaded process a few percent under 100, so
// the line is drawn at 90 rather than 100.
const BusyCPUPct = 90.0

// cpuPct is cpuS ÷ (window × cpus) in percent; nil when not measured.
func cpuPct(cpuS *float64, window float64, cpus int) *float64 {
	if cpuS == nil || window <= 0 || cpus <= 0 {
		return nil
	}
	return new(100 * *cpuS / (window * float64(cpus)))
}

// bottleneck names the side that limited the cell from the two CPU
// shares; "" when either is unknown.
func bottleneck(server, gen *float64) string {
	if server == nil || gen == nil {
		return ""
	}
	s, g := *server >= BusyCPUPct, *gen >= BusyCPUPct
	switch {
	case s && g:
		return results.BottleneckBoth
	case s:
		return results.BottleneckServer
	case g:
		return results.BottleneckGenerator
	}
	return results.BottleneckNeither
}

// attribute fills the CPU shares and the bottleneck of r, whose server ran
// on serverCPUs CPUs and generator on genCPUs. A closed-loop row whose
// generator was the bottleneck is saturated (results.Rules).
func attribute(r *results.Row, serverCPUs, genCPUs int) {
	r.ServerCPUPct = cpuPct(r.ServerCPUSeconds, r.DurationS, serverCPUs)
	r.GeneratorCPUPct = cpuPct(r.GeneratorCPUSeconds, r.DurationS, genCPUs)
	r.Bottleneck = bottleneck(r.ServerCPUPct, r.GeneratorCPUPct)
}

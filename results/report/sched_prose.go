package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/asyncbench/asyncbench/results"
)

// schedulingText is the section's prose and tables (no plots) for rows
// and the run's endpoint rows, with the data they come from.
func schedulingText(rows []results.Row, eps []results.EndpointRow) ([]block, []*schedData) {
	data := schedulingData(rows, eps)
	if len(data) == 0 {
		return nil, nil
	}
	out := []block{heading{2, "Threads, goroutines or an event loop"},
		para("The argument: threads cost too much, so event loops win; but a handler that waits or computes " +
			"blocks an event loop, while a preemptive runtime (goroutines) or the kernel (threads) shrugs it off. " +
			"Below, each backend's median throughput and p99 over the repetitions that measured something, " +
			"failed ones included (saturated and noisy ones are counted but left out): a cell whose requests time out behind a blocked loop is the finding, not a harness fault, " +
			"so its numbers are shown with its error share instead of being dropped.")}
	for _, d := range data {
		if len(data) > 1 {
			out = append(out, heading{3, d.regime.String()})
		}
		out = append(out, d.tableBlocks("Median req/s and p99 (for a mix: the cheap requests' p99); failed repetitions included and marked.", tableCell)...)
		out = append(out, d.findings()...)
		if d.hasRuntime() {
			out = append(out, d.tableBlocks("The quantity the question is about, for the Go servers: how long a runnable goroutine waited for a thread "+
				"(scheduling latency p99, runtime/metrics /sched/latencies, over the measured window), with the GC's stop-the-world pause p99 beside it; "+
				"median over repetitions. A server without a Go runtime (the C references) has no such figure (–).", schedCell)...)
		}
	}
	return out, data
}

// findings is the sentences: waiting, computing, the mix.
func (d *schedData) findings() []block {
	var out []block
	for _, us := range d.delays {
		var l list
		for _, c := range d.conns {
			l = append(l, d.workSentence(wlDelay, us, c, fmt.Sprintf("with a %s wait per request", fmtMicros(float64(us)))))
		}
		out = append(out, para(fmt.Sprintf("**Waiting: %s per request** (`delay`)", fmtMicros(float64(us)))), l)
	}
	for _, us := range d.cpus {
		var l list
		for _, c := range d.conns {
			l = append(l, d.workSentence(wlCPU, us, c, fmt.Sprintf("with %s of CPU per request", fmtMicros(float64(us)))))
		}
		out = append(out, para(fmt.Sprintf("**Computing: %s of CPU per request** (`cpu`)", fmtMicros(float64(us)))), l)
	}
	for _, m := range d.mixes {
		var l list
		for _, c := range d.conns {
			l = append(l, d.mixSentence(m, c))
		}
		out = append(out, para(fmt.Sprintf("**Cheap requests behind expensive ones** (`mix` %s)", mdEscape(m))), l)
	}
	return out
}

// describe is "45,000 req/s (p99 2.1 ms)", with the error share and
// failed repetitions inside the parentheses when there are any.
func describe(p *schedPoint) string {
	if p.p99.n == 0 {
		return fmt.Sprintf("%s req/s (no request completed%s)", fmtCount(p.rps.median), troubles(p))
	}
	return fmt.Sprintf("%s req/s (p99 %s%s)", fmtCount(p.rps.median), fmtMicros(p.p99.median), troubles(p))
}

// troubles notes a point's error share above 1% (the runner's limit for
// an ok cell) and its failed and saturated repetitions:
// "; 87% of requests failed; 3 of 3 repetitions failed".
func troubles(p *schedPoint) string {
	var s string
	if p.errShare > 0.01 {
		s += fmt.Sprintf("; %s of requests failed", pct(p.errShare))
	}
	if p.failed > 0 {
		s += fmt.Sprintf("; %d of %d repetitions failed", p.failed, p.reps)
	}
	if p.saturated > 0 {
		s += fmt.Sprintf("; %d of %d saturated, left out", p.saturated, p.reps)
	}
	if p.noisy > 0 {
		s += fmt.Sprintf("; %d of %d noisy, left out", p.noisy, p.reps)
	}
	return s
}

// workSentence says, for one handler workload at one connection
// count, which backend served the most and the least, each offload pair
// head to head, what the work cost each backend against plaintext, and
// for cpu the ceiling the server's CPUs allow.
func (d *schedData) workSentence(workload string, us int64, conns int, what string) string {
	rk := d.measuredAt(workload, us, "", conns, getRPSSample, true)
	var b strings.Builder
	fmt.Fprintf(&b, "At %s connections %s, ", fmtCount(float64(conns)), what)
	switch {
	case len(rk) == 0:
		b.WriteString("no backend measured anything.")
	case rk[0].p.rps.median == 0:
		var all []string
		for _, bp := range rk {
			all = append(all, bp.backend+" "+describe(bp.p))
		}
		fmt.Fprintf(&b, "no backend completed requests: %s.", strings.Join(all, ", "))
	case len(rk) == 1:
		fmt.Fprintf(&b, "only %s measured: %s.", rk[0].backend, describe(rk[0].p))
	default:
		best, worst := rk[0], rk[len(rk)-1]
		fmt.Fprintf(&b, "%s served the most, %s; %s the least", best.backend, describe(best.p), worst.backend)
		if worst.p.rps.median > 0 {
			fmt.Fprintf(&b, ", %s× less", trimFloat(best.p.rps.median/worst.p.rps.median))
		}
		fmt.Fprintf(&b, ": %s", describe(worst.p))
		if best.p.rps.overlaps(rk[1].p.rps) {
			fmt.Fprintf(&b, "; %s and %s overlap over their repetitions", best.backend, rk[1].backend)
		}
		b.WriteString(".")
	}
	for _, pair := range offloadPairs {
		loop, pool := d.at(workload, us, "", pair[0], conns), d.at(workload, us, "", pair[1], conns)
		if loop == nil || pool == nil || loop.measured == 0 || pool.measured == 0 {
			continue
		}
		fmt.Fprintf(&b, " Handlers on the loop against a pool: %s %s, %s %s.", pair[0], describe(loop), pair[1], describe(pool))
	}
	var costs []string
	type cost struct {
		backend string
		kept    float64
	}
	var cs []cost
	for _, bp := range rk {
		base := d.at(wlPlaintext, -1, "", bp.backend, conns)
		if base == nil || base.measured == 0 || base.rps.median <= 0 {
			continue
		}
		cs = append(cs, cost{bp.backend, bp.p.rps.median / base.rps.median})
	}
	slices.SortStableFunc(cs, func(x, y cost) int { return cmp.Compare(y.kept, x.kept) })
	for _, c := range cs {
		costs = append(costs, fmt.Sprintf("%s %s", c.backend, pct(c.kept)))
	}
	if len(costs) > 0 {
		fmt.Fprintf(&b, " Share of its own plaintext throughput kept: %s.", strings.Join(costs, ", "))
	}
	if workload == wlCPU && us > 0 && d.procs > 0 && len(rk) > 0 && rk[0].p.rps.median > 0 {
		ceiling := float64(d.procs) * 1e6 / float64(us)
		fmt.Fprintf(&b, " The CPU bound is %s req/s (%d server CPU ÷ %s); %s reached %s of it.",
			fmtCount(ceiling), d.procs, fmtMicros(float64(us)), rk[0].backend, pct(rk[0].p.rps.median/ceiling))
	}
	return b.String()
}

// mixSentence says, for one mix at one connection count, where the
// cheap requests (the entry with the largest weight) kept the lowest and
// the highest p99, each against the backend's plaintext p99.
func (d *schedData) mixSentence(mix string, conns int) string {
	cheapPath := cheapEntry(mix)
	rk := d.measuredAt(wlMix, -1, mix, conns, getCheapSample, false)
	var b strings.Builder
	fmt.Fprintf(&b, "At %s connections, ", fmtCount(float64(conns)))
	vsPlain := func(bp backendPoint) string {
		s := fmtMicros(bp.p.cheapP99.median)
		base := d.at(wlPlaintext, -1, "", bp.backend, conns)
		if base != nil && base.measured > 0 && base.p99.median > 0 {
			s += fmt.Sprintf(", %s× its plaintext p99", trimFloat(bp.p.cheapP99.median/base.p99.median))
		}
		return s + troubles(bp.p)
	}
	switch len(rk) {
	case 0:
		fmt.Fprintf(&b, "no backend measured the %s requests of the mix.", cheapPath)
	case 1:
		fmt.Fprintf(&b, "only %s measured the %s requests of the mix: p99 %s.", rk[0].backend, cheapPath, vsPlain(rk[0]))
	default:
		best, worst := rk[0], rk[len(rk)-1]
		fmt.Fprintf(&b, "the cheap %s requests' p99 was lowest on %s (%s) and highest on %s (%s).",
			cheapPath, best.backend, vsPlain(best), worst.backend, vsPlain(worst))
	}
	for _, pair := range offloadPairs {
		loop, pool := d.at(wlMix, -1, mix, pair[0], conns), d.at(wlMix, -1, mix, pair[1], conns)
		if loop == nil || pool == nil || loop.cheapP99.n == 0 || pool.cheapP99.n == 0 {
			continue
		}
		fmt.Fprintf(&b, " Handlers on the loop against a pool: %s %s, %s %s.", pair[0], fmtMicros(loop.cheapP99.median), pair[1], fmtMicros(pool.cheapP99.median))
	}
	return b.String()
}

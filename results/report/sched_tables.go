package report

import (
	"fmt"
	"io"
	"strings"
)

// writeTable writes one line per workload and connection count, one
// column per backend: median req/s and p99 (for a mix, the cheap
// requests' p99), with error share and failed repetitions.
func (d *schedData) writeTable(w io.Writer, title string, cell func(*schedPoint, bool) string) {
	type line struct {
		label    string
		workload string
		handler  int64
		mix      string
	}
	lines := []line{{"plaintext", wlPlaintext, -1, ""}}
	for _, us := range d.delays {
		lines = append(lines, line{"delay " + fmtMicros(float64(us)), wlDelay, us, ""})
	}
	for _, us := range d.cpus {
		lines = append(lines, line{"cpu " + fmtMicros(float64(us)), wlCPU, us, ""})
	}
	for _, m := range d.mixes {
		lines = append(lines, line{"mix " + m, wlMix, -1, m})
	}
	fmt.Fprintf(w, "%s\n\n| workload | conns |", title)
	for _, b := range d.backends {
		fmt.Fprintf(w, " %s |", mdEscape(b))
	}
	fmt.Fprint(w, "\n|---|---:|")
	for range d.backends {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
	for _, l := range lines {
		for _, c := range d.conns {
			fmt.Fprintf(w, "| %s | %d |", mdEscape(l.label), c)
			for _, b := range d.backends {
				p := d.at(l.workload, l.handler, l.mix, b, c)
				fmt.Fprintf(w, " %s |", cell(p, l.workload == wlMix))
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintln(w)
}

// schedCell is a point's scheduling latency p99 and GC pause p99.
func schedCell(p *schedPoint, _ bool) string {
	if p == nil || p.sched.n == 0 {
		return "–"
	}
	return fmt.Sprintf("sched %s (GC pause %s)", fmtMicros(p.sched.median), fmtMicros(p.gcPause.median))
}

func tableCell(p *schedPoint, mix bool) string {
	if p == nil {
		return "–"
	}
	if p.measured == 0 {
		var why []string
		for _, n := range []struct {
			k    int
			what string
		}{{p.failed, "failed"}, {p.saturated, "saturated"}, {p.noisy, "noisy"}} {
			if n.k > 0 {
				why = append(why, fmt.Sprintf("%d/%d %s", n.k, p.reps, n.what))
			}
		}
		return "no numbers (" + strings.Join(why, ", ") + ")"
	}
	p99 := p.p99
	if mix {
		p99 = p.cheapP99
	}
	s := fmtCount(p.rps.median) + " req/s, p99 "
	if p99.n > 0 {
		s += fmtMicros(p99.median)
	} else {
		s += "–"
	}
	var notes []string
	if p.errShare > 0.01 {
		notes = append(notes, pct(p.errShare)+" err")
	}
	if p.failed > 0 {
		notes = append(notes, fmt.Sprintf("%d/%d failed", p.failed, p.reps))
	}
	if p.saturated > 0 {
		notes = append(notes, fmt.Sprintf("%d/%d sat.", p.saturated, p.reps))
	}
	if p.noisy > 0 {
		notes = append(notes, fmt.Sprintf("%d/%d noisy", p.noisy, p.reps))
	}
	if len(notes) > 0 {
		s += " (**" + strings.Join(notes, ", ") + "**)"
	}
	return s
}

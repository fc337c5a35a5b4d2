package report

import (
	"fmt"
	"strconv"
	"strings"
)

// tableBlocks is title and a table of one line per workload and
// connection count, one column per backend: cell of each point.
func (d *schedData) tableBlocks(title string, cell func(*schedPoint, bool) string) []block {
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
	t := table{head: []string{"workload", "conns"}, right: []bool{false, true}}
	for _, b := range d.backends {
		t.head = append(t.head, mdEscape(b))
		t.right = append(t.right, true)
	}
	for _, l := range lines {
		for _, c := range d.conns {
			r := []string{mdEscape(l.label), strconv.Itoa(c)}
			for _, b := range d.backends {
				r = append(r, cell(d.at(l.workload, l.handler, l.mix, b, c), l.workload == wlMix))
			}
			t.rows = append(t.rows, r)
		}
	}
	return []block{para(title), t}
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

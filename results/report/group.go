package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/asyncbench/asyncbench/results"
)

// groupKey identifies rows that belong in one table: a config without its
// connection count (config.group).
type groupKey config

// Title is the heading of the group.
func (k groupKey) Title() string {
	parts := []string{k.proto + " " + k.workload}
	if us, err := strconv.ParseFloat(k.handler, 64); err == nil {
		parts[0] += " " + fmtMicros(us)
	}
	if k.mix != "" {
		parts[0] += " " + k.mix
	}
	if k.payload > 0 {
		parts = append(parts, fmt.Sprintf("%d B payload", k.payload))
	}
	parts = append(parts, fmt.Sprintf("pipeline %d", k.pipeline))
	if k.rate > 0 {
		parts = append(parts, fmt.Sprintf("open loop at %s req/s", strconv.FormatFloat(k.rate, 'f', -1, 64)))
	} else if k.fraction > 0 {
		parts = append(parts, fmt.Sprintf("open loop at %s%% of closed-loop capacity", trimFloat(100*k.fraction)))
	} else {
		parts = append(parts, "closed loop")
	}
	if k.serverCPUs > 0 {
		parts = append(parts, cpusWords(k.serverCPUs))
	}
	return strings.Join(parts, ", ")
}

// Slug is the group's file-name stem for its plots.
func (k groupKey) Slug() string {
	s := fmt.Sprintf("%s-%s-p%d", k.proto, k.workload, k.pipeline)
	if k.handler != "" {
		s += "-" + k.handler + "us"
	}
	if k.mix != "" {
		s += "-" + mixSlug(k.mix)
	}
	if k.payload > 0 {
		s += fmt.Sprintf("-b%d", k.payload)
	}
	if k.rate > 0 {
		s += "-r" + strconv.FormatFloat(k.rate, 'f', -1, 64)
	} else if k.fraction > 0 {
		s += "-f" + strconv.FormatFloat(100*k.fraction, 'f', -1, 64) + "pct"
	} else {
		s += "-closed"
	}
	if k.serverCPUs > 0 {
		s += "-s" + strconv.Itoa(k.serverCPUs)
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, s)
}

func compareKeys(a, b groupKey) int {
	return cmp.Or(
		cmp.Compare(a.proto, b.proto),
		cmp.Compare(a.workload, b.workload),
		cmp.Compare(a.pipeline, b.pipeline),
		cmp.Compare(a.rate, b.rate),
		cmp.Compare(a.payload, b.payload),
		cmp.Compare(a.handler, b.handler),
		cmp.Compare(a.mix, b.mix),
		cmp.Compare(a.fraction, b.fraction),
		cmp.Compare(a.serverCPUs, b.serverCPUs),
	)
}

// cellKey is one point of a group: a backend at a connection count.
type cellKey struct {
	backend string
	conns   int
}

// cellRows holds the repetitions of one point, split by status.
type cellRows struct {
	ok, saturated, failed, noisy []results.Row
}

// group is the rows of one groupKey, indexed by backend and connections.
type group struct {
	key      groupKey
	backends []string // sorted
	conns    []int    // ascending
	cells    map[cellKey]*cellRows
}

// at returns the rows of one point; never nil.
func (g *group) at(backend string, conns int) *cellRows {
	if c, ok := g.cells[cellKey{backend, conns}]; ok {
		return c
	}
	return &cellRows{}
}

// okSample summarises metric f over the ok repetitions of one point.
func (g *group) okSample(backend string, conns int, f func(results.Row) float64) sample {
	return summarize(values(g.at(backend, conns).ok, f))
}

// groupRows splits rows into groups in a stable order.
func groupRows(rows []results.Row) []*group {
	byKey := map[groupKey]*group{}
	for _, r := range rows {
		k := configOf(r).group()
		g, ok := byKey[k]
		if !ok {
			g = &group{key: k, cells: map[cellKey]*cellRows{}}
			byKey[k] = g
		}
		ck := cellKey{r.Backend, r.Conns}
		c, ok := g.cells[ck]
		if !ok {
			c = &cellRows{}
			g.cells[ck] = c
			if !slices.Contains(g.backends, r.Backend) {
				g.backends = append(g.backends, r.Backend)
			}
			if !slices.Contains(g.conns, r.Conns) {
				g.conns = append(g.conns, r.Conns)
			}
		}
		switch r.Status {
		case results.StatusOK, results.StatusBacklog:
			c.ok = append(c.ok, r)
		case results.StatusSaturated:
			c.saturated = append(c.saturated, r)
		case results.StatusNoisy:
			c.noisy = append(c.noisy, r)
		default:
			c.failed = append(c.failed, r)
		}
	}
	groups := make([]*group, 0, len(byKey))
	for _, g := range byKey {
		slices.Sort(g.backends)
		slices.Sort(g.conns)
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b *group) int { return compareKeys(a.key, b.key) })
	return groups
}

// Getters of the metrics shown in the report; NaN when not measured.
var (
	getRPS    = func(r results.Row) float64 { return r.RPS }
	getP99    = func(r results.Row) float64 { return float64(r.P99Us) }
	getRSSMiB = func(r results.Row) float64 { return optional(r.RSSPeakKiB) / 1024 }
	getReqCPU = func(r results.Row) float64 { return optional(r.ReqPerServerCPUSecond) }
)

// optional is *p as a float64, NaN when p is nil (not measured).
func optional[T int64 | uint64 | float64](p *T) float64 {
	if p == nil {
		return math.NaN()
	}
	return float64(*p)
}

// judgeConns is the connection count a group's verdict speaks about: the
// largest at which at least two backends have ok rows, else the largest
// with any ok row. It returns 0 when no point is ok.
func (g *group) judgeConns() (conns, backends int) {
	best, bestN := 0, 0
	for _, c := range g.conns {
		n := 0
		for _, b := range g.backends {
			if len(g.at(b, c).ok) > 0 {
				n++
			}
		}
		if n >= 2 || (n == 1 && bestN < 2) {
			best, bestN = c, n
		}
	}
	return best, bestN
}

// ranked is one backend's sample of a metric at the judged connections.
type ranked struct {
	backend string
	s       sample
}

// verdicts returns the group's one-line findings on throughput and p99.
func (g *group) verdicts() []string {
	conns, n := g.judgeConns()
	switch {
	case conns == 0:
		return []string{"No ok measurement in this group."}
	case n == 1:
		for _, b := range g.backends {
			if len(g.at(b, conns).ok) > 0 {
				return []string{fmt.Sprintf("Only %s has ok measurements at %d connections; nothing to compare.", b, conns)}
			}
		}
	}
	var rk []ranked
	single := false
	for _, b := range g.backends {
		if len(g.at(b, conns).ok) == 0 {
			continue
		}
		rk = append(rk, ranked{b, g.okSample(b, conns, getRPS)})
		if len(g.at(b, conns).ok) < 2 {
			single = true
		}
	}
	caveat := ""
	if single {
		caveat = "; a single repetition, so no spread to judge by"
	}
	out := []string{
		verdictLine(rk, conns, true, "throughput", "req/s", caveat),
	}
	for i := range rk {
		rk[i].s = g.okSample(rk[i].backend, conns, getP99)
	}
	out = append(out, verdictLine(rk, conns, false, "p99 latency", "µs", caveat))
	return out
}

// verdictLine names the best backend of rk when its min–max range does not
// overlap the runner-up's, else says there is no clear difference.
func verdictLine(rk []ranked, conns int, higherBetter bool, what, unit, caveat string) string {
	rk = slices.Clone(rk)
	slices.SortStableFunc(rk, func(a, b ranked) int {
		if higherBetter {
			return cmp.Compare(b.s.median, a.s.median)
		}
		return cmp.Compare(a.s.median, b.s.median)
	})
	best, next := rk[0], rk[1]
	if best.s.overlaps(next.s) {
		return fmt.Sprintf("At %d connections, %s: no clear difference between %s (%s %s) and %s (%s %s); their ranges overlap%s.",
			conns, what, best.backend, fmtCount(best.s.median), unit, next.backend, fmtCount(next.s.median), unit, caveat)
	}
	adj := "highest"
	if !higherBetter {
		adj = "lowest"
	}
	ratio := ""
	if next.s.median != 0 {
		ratio = fmt.Sprintf(" (%.2f×)", best.s.median/next.s.median)
	}
	return fmt.Sprintf("At %d connections, %s has the %s median %s: %s %s against %s %s for %s, the next best%s%s.",
		conns, best.backend, adj, what, fmtCount(best.s.median), unit, fmtCount(next.s.median), unit, next.backend, ratio, caveat)
}

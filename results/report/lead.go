package report

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchmath"

	"github.com/asyncbench/asyncbench/results"
)

// The top of a report: a title, a paragraph with the run's answer, the
// headline table and its plot, and one line per reason rows were left
// out. All of it is rendered from a lead, computed once from the rows.

// statusCounts counts rows by status.
type statusCounts struct {
	ok, backlog, saturated, noisy, failed int
}

func countStatuses(rows []results.Row) statusCounts {
	var c statusCounts
	for _, r := range rows {
		switch r.Status {
		case results.StatusOK:
			c.ok++
		case results.StatusBacklog:
			c.backlog++
		case results.StatusSaturated:
			c.saturated++
		case results.StatusNoisy:
			c.noisy++
		default:
			c.failed++
		}
	}
	return c
}

// lead is what the top of a report says.
type lead struct {
	plan, run string
	rows      int
	counts    statusCounts
	labels    []string
	reference string
	verdicts  []Verdict
	checks    []calCheck // of a calibration run
	// tailChecks are the outcomes of the latency calibration checks
	// (tailCalibrationBlocks): calExpected, calNotExpected or calTooEarly.
	tailChecks []string
	head       *headline // nil when no group has an ok row
	leftOut    []leftOut
}

// headline is the run's main comparison: one group at one connection
// count, one metric, every label with an ok row there.
type headline struct {
	g            *group
	conns        int
	metric       string // "rps" or "p99_us", as in verdicts.csv
	higherBetter bool
	lines        []headlineLine // best first
	plot         *plotRef       // the group's first plot; nil until drawn
}

// headlineLine is one label of the headline.
type headlineLine struct {
	label   string
	s       sample
	ci      benchmath.Summary // 95% interval of the median; infinite ends when too few rounds
	verdict *Verdict          // against the reference; nil for the reference or without one
}

// leftOut is the rows of one status left out for one reason.
type leftOut struct {
	status results.Status
	reason string // the rows' reason, figures masked where they differ
	key    string // reason with figures masked
	rows   int
	cells  []string // "label workload cN", in order of appearance
}

// newLead computes the top of a report from rows (labels as backends),
// the run's groups and verdicts.
func newLead(rows []results.Row, groups []*group, vs []Verdict, reference string) *lead {
	l := &lead{
		rows:      len(rows),
		counts:    countStatuses(rows),
		labels:    distinct(rows, func(r results.Row) string { return r.LabelOf() }),
		reference: reference,
		verdicts:  vs,
		leftOut:   leftOutByReason(rows),
	}
	l.plan, l.run = runName(rows)
	l.checks, _ = calibrationChecks(rows, vs, reference)
	if g := headlineGroup(groups); g != nil {
		l.head = newHeadline(g, vs, reference)
	}
	return l
}

// headlineGroup picks the group a run's answer speaks about: closed-loop
// plaintext when the run has it, else the group with the most ok rows
// (the first of equals). It returns nil when no group has an ok row.
func headlineGroup(groups []*group) *group {
	var best *group
	bestOK := 0
	for _, g := range groups {
		n := 0
		for _, c := range g.cells {
			n += len(c.ok)
		}
		if n == 0 {
			continue
		}
		k := g.key
		if k.workload == wlPlaintext && k.rate == 0 && k.fraction == 0 && k.payload == 0 {
			return g
		}
		if n > bestOK {
			best, bestOK = g, n
		}
	}
	return best
}

// newHeadline summarises g at the connection count where the most labels
// have an ok row (the largest of equals): throughput in closed loop, p99
// in open loop.
func newHeadline(g *group, vs []Verdict, reference string) *headline {
	conns, most := 0, 0
	for _, c := range g.conns {
		n := 0
		for _, b := range g.backends {
			if len(g.at(b, c).ok) > 0 {
				n++
			}
		}
		if n > 0 && n >= most {
			conns, most = c, n
		}
	}
	h := &headline{g: g, conns: conns, metric: "rps", higherBetter: true}
	get := getRPS
	if g.key.rate > 0 || g.key.fraction > 0 {
		h.metric, h.higherBetter, get = "p99_us", false, getP99
	}
	th := benchmath.DefaultThresholds
	for _, b := range g.backends {
		ok := g.at(b, conns).ok
		xs := values(ok, get)
		if len(xs) == 0 {
			continue
		}
		line := headlineLine{label: b, s: summarize(xs),
			ci: benchmath.AssumeNothing.Summary(benchmath.NewSample(xs, &th), Confidence)}
		if b != reference {
			line.verdict = findVerdict(vs, ok[0], h.metric)
		}
		h.lines = append(h.lines, line)
	}
	slices.SortStableFunc(h.lines, func(a, b headlineLine) int {
		if h.higherBetter {
			return cmp.Compare(b.s.median, a.s.median)
		}
		return cmp.Compare(a.s.median, b.s.median)
	})
	return h
}

// findVerdict is the verdict on metric for r's label in r's
// configuration; nil when there is none, as for every row whose rate was
// a share of capacity (see pairRounds).
func findVerdict(vs []Verdict, r results.Row, metric string) *Verdict {
	c := configOf(r)
	if c.fraction > 0 {
		return nil
	}
	for i, v := range vs {
		if v.Label == r.LabelOf() && v.Metric == metric && v.cfg == c {
			return &vs[i]
		}
	}
	return nil
}

// numberRe matches a figure inside a reason: "9176", "12ms", "1%".
var numberRe = regexp.MustCompile(`\b\d[\d.]*(ms|µs|us|s|%)?(\b|$)`)

// reasonHead is the part of a row's reason its left-out line shows: the
// text before the first ";", so that "connections failed; 9176 errors" and
// "connections failed; 11640 errors" are one reason. key is head with
// its figures masked: "send lag p99 12ms > 1ms" and "send lag p99 30ms >
// 1ms" are one reason too.
func reasonHead(r results.Row) (head, key string) {
	head, _, _ = strings.Cut(r.Reason, ";")
	head = strings.TrimSpace(head)
	if head == "" {
		head = "no reason recorded"
	}
	return head, numberRe.ReplaceAllString(head, "…")
}

// leftOutByReason groups the rows that do not count by status and reason,
// failed first, then noisy, then saturated; in order of appearance within
// each.
func leftOutByReason(rows []results.Row) []leftOut {
	var out []leftOut
	for _, r := range rows {
		if r.Status.Counts() {
			continue
		}
		st := r.Status
		if st == "" {
			st = "(none)"
		}
		head, key := reasonHead(r)
		i := slices.IndexFunc(out, func(l leftOut) bool { return l.status == st && l.key == key })
		if i < 0 {
			out = append(out, leftOut{status: st, reason: head, key: key})
			i = len(out) - 1
		}
		if out[i].reason != head {
			out[i].reason = key // the rows' figures differ
		}
		out[i].rows++
		cell := fmt.Sprintf("%s %s c%d", r.LabelOf(), workloadID(r), r.Conns)
		if !slices.Contains(out[i].cells, cell) {
			out[i].cells = append(out[i].cells, cell)
		}
	}
	rank := func(s results.Status) int {
		switch s {
		case results.StatusSaturated:
			return 2
		case results.StatusNoisy:
			return 1
		}
		return 0
	}
	slices.SortStableFunc(out, func(a, b leftOut) int { return cmp.Compare(rank(a.status), rank(b.status)) })
	return out
}

// blocks are the top of the report: the title, the answer, the headline
// table and plot and the left-out lines.
func (l *lead) blocks() []block {
	out := []block{titleHeading(l.plan, l.run), para(l.answer())}
	if h := l.head; h != nil && len(h.lines) > 0 {
		out = append(out, para(fmt.Sprintf("**%s, %d connections**", h.g.key.Title(), h.conns)), h.table(l.reference))
		if h.plot != nil {
			out = append(out, figure(*h.plot))
		}
	}
	if len(l.leftOut) > 0 {
		out = append(out, para("Left out (every row in the last section):"), leftOutList(l.leftOut))
	}
	return out
}

// answer is the run's finding in short sentences.
func (l *lead) answer() string {
	s := []string{fmt.Sprintf("%d labels, %d rows: %d ok.", len(l.labels), l.rows, l.counts.ok+l.counts.backlog)}
	if h := l.head; h != nil && len(h.lines) > 0 {
		s = append(s, h.sentences()...)
	}
	if v := l.verdictSentence(); v != "" {
		s = append(s, v)
	}
	if c := l.calibrationSentence(); c != "" {
		s = append(s, c)
	}
	var out []string
	for _, c := range []struct {
		n    int
		what string
	}{{l.counts.saturated, "saturated"}, {l.counts.noisy, "noisy"}, {l.counts.failed, "failed"}} {
		if c.n > 0 {
			out = append(out, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	if len(out) > 0 {
		s = append(s, fmt.Sprintf("Left out of every number: %s rows.", strings.Join(out, ", ")))
	}
	return strings.Join(s, " ")
}

// sentences name the best and the worst label of the headline.
func (h *headline) sentences() []string {
	most, least, unit := "served the most", "served the least", "req/s"
	if !h.higherBetter {
		most, least, unit = "had the lowest p99", "had the highest p99", "µs"
	}
	best, worst := h.lines[0], h.lines[len(h.lines)-1]
	out := []string{fmt.Sprintf("On %s at %d connections, %s %s: %s %s.",
		h.g.key.Title(), h.conns, mdEscape(best.label), most, fmtCount(best.s.median), unit)}
	if len(h.lines) > 1 {
		out = append(out, fmt.Sprintf("%s %s: %s %s.", mdEscape(worst.label), least, fmtCount(worst.s.median), unit))
	}
	return out
}

// verdictSentence counts the throughput verdicts against the reference.
func (l *lead) verdictSentence() string {
	var higher, lower, same, few int
	for _, v := range l.verdicts {
		if v.Metric != "rps" {
			continue
		}
		switch v.Verdict {
		case VerdictHigher:
			higher++
		case VerdictLower:
			lower++
		case VerdictNoDifference:
			same++
		default:
			few++
		}
	}
	switch {
	case higher+lower+same+few == 0:
		return ""
	case higher+lower+same == 0:
		return fmt.Sprintf("No comparison with %s has a verdict: each has fewer than %d paired rounds.", mdEscape(l.reference), MinRounds)
	}
	return fmt.Sprintf("Throughput against %s: %d higher, %d lower, %d no clear difference, %d with too few rounds.",
		mdEscape(l.reference), higher, lower, same, few)
}

// calibrationSentence counts the calibration checks by outcome; empty
// for a run that is not a calibration.
func (l *lead) calibrationSentence() string {
	if len(l.checks)+len(l.tailChecks) == 0 {
		return ""
	}
	n := map[string]int{}
	for _, c := range l.checks {
		n[c.mark]++
	}
	for _, mark := range l.tailChecks {
		n[mark]++
	}
	s := fmt.Sprintf("Calibration: %d of %d checks as expected", n[calExpected], len(l.checks)+len(l.tailChecks))
	if k := n[calNotExpected]; k > 0 {
		s += fmt.Sprintf(", **%d not as expected**", k)
	}
	if k := n[calTooEarly]; k > 0 {
		s += fmt.Sprintf(", %d cannot tell yet", k)
	}
	return s + "."
}

// table is the headline table: one line per label, best first.
func (h *headline) table(reference string) table {
	col := "req/s"
	if h.metric == "p99_us" {
		col = "p99 µs"
	}
	t := table{head: []string{"label", "rounds", col, "95% CI, or min–max", "vs " + mdEscape(reference)},
		right: []bool{false, true, true, false, false}}
	for _, l := range h.lines {
		interval := fmt.Sprintf("%s–%s", fmtCount(l.ci.Lo), fmtCount(l.ci.Hi))
		if math.IsInf(l.ci.Lo, 0) || math.IsInf(l.ci.Hi, 0) {
			interval = fmt.Sprintf("min–max %s–%s", fmtCount(l.s.min), fmtCount(l.s.max))
		}
		t.rows = append(t.rows, []string{mdEscape(l.label), strconv.Itoa(l.s.n), fmtCount(l.s.median), interval, verdictCell(l, reference)})
	}
	return t
}

// verdictCell is a headline line's verdict against the reference.
func verdictCell(l headlineLine, reference string) string {
	v := l.verdict
	switch {
	case l.label == reference:
		return "reference"
	case v == nil:
		return "not paired"
	case v.Bound != "":
		return fmt.Sprintf("**%s**, bound", v.Verdict)
	case v.Verdict == VerdictHigher || v.Verdict == VerdictLower:
		return fmt.Sprintf("**%s** ×%.3f (%.3f–%.3f)", v.Verdict, v.Ratio, v.CILow, v.CIHigh)
	case v.Verdict == VerdictNoDifference:
		return fmt.Sprintf("no clear difference ×%.3f (%.3f–%.3f)", v.Ratio, v.CILow, v.CIHigh)
	}
	return fmt.Sprintf("too few rounds (%d)", v.Rounds)
}

// leftOutCells is how many cells a left-out line names before "N more".
const leftOutCells = 6

// leftOutList is one line per status and reason; the full list is at
// the end of the report.
func leftOutList(los []leftOut) list {
	var out list
	for _, l := range los {
		cells := l.cells
		more := ""
		if len(cells) > leftOutCells {
			more = fmt.Sprintf("; %d more", len(cells)-leftOutCells)
			cells = cells[:leftOutCells]
		}
		out = append(out, fmt.Sprintf("%d %s: %s (%s%s)", l.rows, l.status, mdEscape(l.reason), mdEscape(strings.Join(cells, ", ")), more))
	}
	return out
}

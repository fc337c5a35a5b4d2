package report

import (
	"fmt"
	"strings"

	"github.com/asyncbench/asyncbench/results"
)

// metricWords says what a ratio above 1 means for each metric, for the
// report.
var metricWords = map[string]string{
	"rps":                       "throughput",
	"p99_us":                    "p99 latency",
	"rss_peak_kib":              "peak RSS",
	"requests_per_server_cpu_s": "requests per server CPU-second",
}

// glanceBlocks is the "At a glance" text from the verdicts: per
// configuration, one line per label and metric that differs, and a count
// of those with no clear difference or too few rounds.
func glanceBlocks(vs []Verdict, reference string) []block {
	if len(vs) == 0 {
		return []block{para(fmt.Sprintf("No paired comparison with the reference %s: it has no rows, or nothing else was measured.", reference))}
	}
	if allTooFew(vs) {
		return []block{para(allTooFewWords(vs, reference))}
	}
	out := []block{para(fmt.Sprintf("Each backend against **%s**, round by round: the median of the per-round ratios with its 95%% "+
		"distribution-free (sign-test) interval, from the rounds where both rows are ok. "+
		"Also in `verdicts.csv`.", mdEscape(reference)))}
	type cfg struct {
		title string
		conns int
	}
	var order []cfg
	by := map[cfg][]Verdict{}
	for _, v := range vs {
		k := cfg{v.cfg.group().Title(), v.Conns}
		if _, ok := by[k]; !ok {
			order = append(order, k)
		}
		by[k] = append(by[k], v)
	}
	for _, k := range order {
		out = append(out, para(fmt.Sprintf("**%s, %d connections**", k.title, k.conns)), glanceList(by[k]))
	}
	return out
}

// allTooFewWords says that no comparison with reference had enough
// rounds, and how many were left undecided by generator-bound rounds.
func allTooFewWords(vs []Verdict, reference string) string {
	s := fmt.Sprintf("No paired verdict: every comparison with **%s** has fewer than %d rounds in which both rows "+
		"are ok (a 95%% sign-test interval needs %d). The sections below give medians and spreads; "+
		"run more rounds (`repetitions`) for verdicts.", mdEscape(reference), MinRounds, MinRounds)
	bound := 0
	for _, v := range vs {
		if v.BoundRounds > 0 {
			bound++
		}
	}
	if bound > 0 {
		s += fmt.Sprintf(" Generator-bound rounds left %d throughput comparisons undecided: "+
			"there the bound side's figure is a lower bound, `≥ N` in the tables.", bound)
	}
	return s
}

// glanceList is the lines of one configuration's verdicts: one per
// difference, then those with no clear difference and those with too few
// rounds, each gathered on one line.
func glanceList(vs []Verdict) list {
	var out list
	var same, few []string
	for _, v := range vs {
		what := v.Label + " " + metricWords[v.Metric]
		switch {
		case v.Bound != "":
			out = append(out, fmt.Sprintf("%s: %s is %s than %s's, %s",
				mdEscape(v.Label), metricWords[v.Metric], v.Verdict, mdEscape(v.Reference), boundWords(v)))
		case v.Verdict == VerdictHigher || v.Verdict == VerdictLower:
			out = append(out, fmt.Sprintf("%s: %s is %s than %s's, ×%.3f (95%% CI %.3f–%.3f, %d rounds%s)",
				mdEscape(v.Label), metricWords[v.Metric], v.Verdict, mdEscape(v.Reference), v.Ratio, v.CILow, v.CIHigh, v.Rounds, remeasuredWords(v)))
		case v.Verdict == VerdictNoDifference:
			same = append(same, fmt.Sprintf("%s (×%.3f, %.3f–%.3f%s)", what, v.Ratio, v.CILow, v.CIHigh, remeasuredWords(v)))
		case v.BoundRounds > 0:
			few = append(few, fmt.Sprintf("%s (%d, and %d with one side generator-bound: its figure is a lower bound, ≥ in the table)", what, v.Rounds, v.BoundRounds))
		default:
			few = append(few, fmt.Sprintf("%s (%d)", what, v.Rounds))
		}
	}
	if len(same) > 0 {
		out = append(out, "no clear difference: "+mdEscape(joinOr(same, "")))
	}
	if len(few) > 0 {
		out = append(out, fmt.Sprintf("too few paired rounds (fewer than %d) to judge: %s", MinRounds, mdEscape(joinOr(few, ""))))
	}
	return out
}

// boundWords renders a verdict decided from generator-bound rounds, e.g.
// "≥ ×1.400 (95% CI from 1.210, open above: gnet was generator-bound in
// 2 of 6 rounds, so its throughput there is a lower bound)".
func boundWords(v Verdict) string {
	side, cmp, end, open := v.Label, "≥", fmt.Sprintf("from %.3f", v.CILow), "above"
	if v.Bound == BoundUpper {
		side, cmp, end, open = v.Reference, "≤", fmt.Sprintf("up to %.3f", v.CIHigh), "below"
	}
	return fmt.Sprintf("%s ×%.3f (95%% CI %s, open %s: %s was generator-bound in %d of %d rounds, so its throughput there is a lower bound)",
		cmp, v.Ratio, end, open, mdEscape(side), v.BoundRounds, v.Rounds)
}

// remeasuredWords notes the rounds of a verdict that rest on a re-run.
func remeasuredWords(v Verdict) string {
	if v.Remeasured == 0 {
		return ""
	}
	return fmt.Sprintf(", %d re-measured", v.Remeasured)
}

// bottleneckBlocks says how many ok cells were limited by what, and what
// to do about co-limited and generator-bound ones; nothing when no row
// says.
func bottleneckBlocks(rows []results.Row) []block {
	counts := map[string]int{}
	genBound, known := 0, 0
	for _, r := range rows {
		if r.GeneratorBound() {
			genBound++
		}
		if !r.Status.Counts() || r.Bottleneck == "" {
			continue
		}
		counts[r.Bottleneck]++
		known++
	}
	if known == 0 && genBound == 0 {
		return nil
	}
	s := fmt.Sprintf("**Bottleneck** (a side counts as CPU-bound at ≥ 90%% of its pinned CPUs): of %d ok rows, "+
		"%d server-bound, %d co-limited (server and generator both busy), %d latency-bound (neither busy)",
		known, counts["server"], counts["both"], counts["neither"])
	if genBound > 0 {
		s += fmt.Sprintf("; %d more were generator-bound and are marked saturated: in closed loop the server "+
			"served at least their throughput, shown as `≥ N` in the tables", genBound)
	}
	s += "."
	if counts["both"] > 0 || genBound > 0 {
		s += " Co-limited and generator-bound cells measure the generator as much as the server. " +
			"To lift the limit, give the generator less work per request or more CPU: pipeline requests " +
			"(loadgen `-P`, plan key `pipeline`), give it more CPUs (`bench run -gen-cpus`, e.g. `-gen-cpus 1-3` " +
			"on a larger machine), or drive the server from several machines (the compose profile `distributed`, " +
			"then `bench merge`)."
	}
	return []block{para(s)}
}

// calCheck is one calibration check: a verdict, the verdict it should
// be, and how it came out.
type calCheck struct {
	v    Verdict
	mark string // calExpected, calTooEarly or calNotExpected
}

// Outcomes of a calibration check.
const (
	calExpected    = "as expected"
	calTooEarly    = "cannot tell yet"
	calNotExpected = "NOT as expected: the instrument cannot be trusted here"
)

// calibrationChecks judges a calibration run — one with a label
// containing "handicap" — from its throughput and server-CPU verdicts:
// every other label on the reference's server must show no clear
// difference (the instrument does not invent differences), and the
// handicapped one must come out lower (it finds a known one). ok is false
// for other runs.
func calibrationChecks(rows []results.Row, vs []Verdict, reference string) (checks []calCheck, ok bool) {
	backendOf := map[string]string{}
	delayed := map[string]bool{} // labels with a latency handicap: see tailCalibrationBlocks
	handicap := false
	for _, r := range rows {
		backendOf[r.LabelOf()] = serverOf(r)
		handicap = handicap || strings.Contains(r.LabelOf(), "handicap")
		if d, _ := delayHandicap(r.ServerCommand); d > 0 {
			delayed[r.LabelOf()] = true
		}
	}
	if !handicap {
		return nil, false
	}
	for _, v := range vs {
		if v.Metric != "rps" && v.Metric != "requests_per_server_cpu_s" || delayed[v.Label] || v.Rounds == 0 {
			continue // v.Rounds 0: not measured
		}
		var want string
		switch {
		case strings.Contains(v.Label, "handicap"):
			want = VerdictLower
		case backendOf[v.Label] == backendOf[reference]:
			want = VerdictNoDifference
		default:
			continue
		}
		mark := calExpected
		switch {
		case v.Verdict == VerdictTooFewRounds:
			mark = calTooEarly
		case v.Verdict != want:
			mark = calNotExpected
		}
		checks = append(checks, calCheck{v, mark})
	}
	return checks, true
}

// calibrationBlocks is the calibration checks of a calibration run;
// nothing for other runs.
func calibrationBlocks(rows []results.Row, vs []Verdict, reference string) []block {
	checks, ok := calibrationChecks(rows, vs, reference)
	if !ok {
		return nil
	}
	var l list
	for _, c := range checks {
		v := c.v
		l = append(l, fmt.Sprintf("%s, %d connections, %s vs %s, %s: %s (×%.3f, %d rounds) — %s",
			v.Workload, v.Conns, mdEscape(v.Label), mdEscape(v.Reference), metricWords[v.Metric], v.Verdict, v.Ratio, v.Rounds, c.mark))
	}
	return []block{para("**Calibration** (same server against itself must show no clear difference; the handicap must be found):"), l}
}

// allTooFew reports whether no verdict had enough rounds to judge, so that
// "At a glance" says so once instead of once per comparison.
func allTooFew(vs []Verdict) bool {
	for _, v := range vs {
		if v.Verdict == VerdictHigher || v.Verdict == VerdictLower || v.Verdict == VerdictNoDifference {
			return false
		}
	}
	return true
}

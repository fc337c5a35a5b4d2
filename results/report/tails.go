package report

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncbench/asyncbench/results"
)

// Latency tails of open-loop cells: each label's p99 and p99.9 from its
// rounds' histograms summed, with the 95% interval of results.Tails (a
// two-stage bootstrap over rounds and 1 s intervals), and each label's p99
// against the reference's where both were offered the same rate, with the
// runtime's GC and scheduling figures beside it.

// tailMinRounds is the fewest paired rounds a tail comparison is judged
// from: fewer cannot show how much server processes differ.
const tailMinRounds = 3

// tailKey is an open-loop configuration: a rate as requests/s or, for
// rates given as shares of capacity, the share.
type tailKey config

// String names k by its workload with its parameter, its pipeline when
// not 1, its connections and its rate; not by its protocol or payload.
func (k tailKey) String() string {
	rate := fmtCount(k.rate) + " req/s"
	if k.fraction > 0 {
		rate = strconv.FormatFloat(k.fraction*100, 'f', -1, 64) + "% of capacity"
	}
	s := config(k).workloadID()
	if k.pipeline != 1 {
		s += fmt.Sprintf(", pipeline %d", k.pipeline)
	}
	return fmt.Sprintf("%s, %d conns, %s", s, k.conns, rate)
}

// tailCell is one label at one open-loop configuration: its counted rows
// by round and their interval histograms.
type tailCell struct {
	label string
	key   tailKey
	name  string // key's String, with the payload, then the protocol, where that alone would not tell cells apart (nameTails)
	rows  map[int]results.Row
	ivs   map[int][]*hdrhistogram.Histogram
}

// tailComparison is a label's p99 against the reference's at one key.
type tailComparison struct {
	key               tailKey
	name              string // the label's cell's
	label, reference  string
	rounds            int
	ratio, lo, hi     float64    // p99
	p90               [3]float64 // ratio, lo, hi at p90; zeros when not computed
	verdict           string
	cause             string
	refCell, labelCel *tailCell
}

// collectTails reads the interval histograms of every counted open-loop
// row. Rows whose .hlog cannot be read are left out and named in skipped.
func collectTails(dir string, rows []results.Row) (cells []*tailCell, skipped []string) {
	type labelled struct {
		label string
		key   tailKey
	}
	byKey := map[labelled]*tailCell{}
	for _, r := range rows {
		if r.Rate <= 0 || !r.Status.Counts() || r.Errors > 0 || r.Hlog == "" || r.Workload == "idle" {
			continue
		}
		k := tailKey(configOf(r))
		id := labelled{r.LabelOf(), k}
		c := byKey[id]
		if c == nil {
			c = &tailCell{label: r.LabelOf(), key: k, rows: map[int]results.Row{}, ivs: map[int][]*hdrhistogram.Histogram{}}
			byKey[id] = c
			cells = append(cells, c)
		}
		ivs, err := results.ReadIntervals(hlogPath(dir, r))
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s round %d: %v", r.Cell, r.Rep, err))
			continue
		}
		c.rows[r.Rep], c.ivs[r.Rep] = r, ivs // a later attempt replaces an earlier one
	}
	slices.SortFunc(cells, func(a, b *tailCell) int {
		return cmp.Or(compareConfigs(config(a.key), config(b.key)), cmp.Compare(a.label, b.label))
	})
	nameTails(cells)
	return cells, skipped
}

// nameTails names each cell by its key's String, adding the payload, then
// the protocol, where cells of different keys would read the same.
func nameTails(cells []*tailCell) {
	name := func(k tailKey, payload, proto bool) string {
		s := k.String()
		if payload {
			s += fmt.Sprintf(", %d B payload", k.payload)
		}
		if proto {
			s += ", " + k.proto
		}
		return s
	}
	clash := func(payload, proto bool) map[string]bool {
		keys := map[string]map[tailKey]bool{}
		for _, c := range cells {
			n := name(c.key, payload, proto)
			if keys[n] == nil {
				keys[n] = map[tailKey]bool{}
			}
			keys[n][c.key] = true
		}
		out := map[string]bool{}
		for n, ks := range keys {
			out[n] = len(ks) > 1
		}
		return out
	}
	plain, withPayload := clash(false, false), clash(true, false)
	for _, c := range cells {
		switch {
		case !plain[name(c.key, false, false)]:
			c.name = name(c.key, false, false)
		case !withPayload[name(c.key, true, false)]:
			c.name = name(c.key, true, false)
		default:
			c.name = name(c.key, true, true)
		}
	}
}

// tails returns c's rounds listed in reps (all when nil), as results.Tails.
func (c *tailCell) tails(reps []int) (*results.Tails, error) {
	if reps == nil {
		for rep := range c.ivs {
			reps = append(reps, rep)
		}
		slices.Sort(reps)
	}
	rounds := make([][]*hdrhistogram.Histogram, 0, len(reps))
	for _, rep := range reps {
		rounds = append(rounds, c.ivs[rep])
	}
	return results.NewTails(rounds)
}

// compareTails compares every label with the reference at each key, over
// the rounds both measured at the same rate (within 1%).
func compareTails(cells []*tailCell, reference string) []tailComparison {
	ref := map[tailKey]*tailCell{}
	for _, c := range cells {
		if c.label == reference {
			ref[c.key] = c
		}
	}
	var out []tailComparison
	for _, c := range cells {
		rc := ref[c.key]
		if c.label == reference || rc == nil {
			continue
		}
		var reps []int
		for rep, r := range c.rows {
			if rr, ok := rc.rows[rep]; ok && math.Abs(r.Rate-rr.Rate) <= 0.01*rr.Rate {
				reps = append(reps, rep)
			}
		}
		slices.Sort(reps)
		tc := tailComparison{key: c.key, name: c.name, label: c.label, reference: reference, rounds: len(reps), refCell: rc, labelCel: c}
		if len(reps) < tailMinRounds {
			tc.verdict = VerdictTooFewRounds
			out = append(out, tc)
			continue
		}
		ta, errA := rc.tails(reps)
		tb, errB := c.tails(reps)
		if errA != nil || errB != nil {
			continue
		}
		var ok bool
		tc.ratio, tc.lo, tc.hi, ok = results.RatioCI(ta, tb, 99, rand.New(rand.NewPCG(uint64(len(reps)), 99)))
		if !ok {
			continue
		}
		if r, lo, hi, ok := results.RatioCI(ta, tb, 90, rand.New(rand.NewPCG(uint64(len(reps)), 90))); ok {
			tc.p90 = [3]float64{r, lo, hi}
		}
		switch {
		case tc.lo > 1:
			tc.verdict = VerdictHigher
		case tc.hi < 1:
			tc.verdict = VerdictLower
		default:
			tc.verdict = VerdictNoDifference
		}
		tc.cause = tailCause(tc, reps)
		out = append(out, tc)
	}
	return out
}

// runtimeMedians are a cell's medians over rounds of its runtime figures;
// ok is false for a server without them (not Go, or not reported).
func runtimeMedians(c *tailCell, reps []int) (gcCycles, gcPause, sched float64, ok bool) {
	var cyc, pause, lat []float64
	for _, rep := range reps {
		r := c.rows[rep]
		if r.GCCycles == nil || r.GCPauseP99Us == nil || r.SchedLatencyP99Us == nil {
			continue
		}
		cyc = append(cyc, float64(*r.GCCycles))
		pause = append(pause, *r.GCPauseP99Us)
		lat = append(lat, *r.SchedLatencyP99Us)
	}
	if len(lat) == 0 {
		return 0, 0, 0, false
	}
	return summarize(cyc).median, summarize(pause).median, summarize(lat).median, true
}

// tailMoves is the share by which a runtime figure must move, in the
// direction the tail moved, to be named as moving with it.
const tailMoves = 1.25

// tailCause says whether a difference in p99 goes with a difference in
// the servers' scheduling latency or GC (medians over the paired rounds).
func tailCause(tc tailComparison, reps []int) string {
	ac, ap, as, okA := runtimeMedians(tc.refCell, reps)
	bc, bp, bs, okB := runtimeMedians(tc.labelCel, reps)
	if !okA || !okB {
		return "no runtime figures (not a Go server on both sides)"
	}
	figures := fmt.Sprintf("scheduling latency p99 %s → %s µs, GC pause p99 %s → %s µs, GC cycles %s → %s",
		fmtUs(as), fmtUs(bs), fmtUs(ap), fmtUs(bp), fmtCount(ac), fmtCount(bc))
	if tc.verdict == VerdictNoDifference {
		return figures
	}
	up := tc.verdict == VerdictHigher
	moved := func(a, b float64) bool {
		if up {
			return b > a*tailMoves
		}
		return b*tailMoves < a
	}
	var with []string
	if moved(as, bs) {
		with = append(with, "scheduling delay")
	}
	if moved(ap, bp) || moved(ac, bc) {
		with = append(with, "GC")
	}
	if len(with) == 0 {
		return figures + ": the tail moves with neither the runtime's scheduling delay nor its GC"
	}
	return figures + ": the tail moves with " + strings.Join(with, " and ")
}

func fmtUs(x float64) string { return strconv.FormatFloat(x, 'f', 0, 64) }

// tailBlocks is the section "Latency tails" for the open-loop cells of
// rows (nothing when there are none), with the outcomes of its latency
// calibration checks (see tailCalibrationBlocks).
func tailBlocks(dir string, rows []results.Row, reference string) (out []block, calibration []string) {
	cells, skipped := collectTails(dir, rows)
	if len(cells) == 0 {
		return nil, nil
	}
	out = []block{heading{2, "Latency tails (open loop)"},
		para(fmt.Sprintf("p99 and p99.9 of each label's rounds summed (exact: histograms added, never averaged), with a 95%% interval from a two-stage bootstrap: rounds drawn with replacement, then each drawn round's 1 s intervals. Rounds carry the differences between server processes, intervals keep a burst (a GC cycle, a scheduling stall) whole. ⚠ marks a percentile with fewer than "+
			"%d samples beyond it.", results.MinBeyond)),
		tailTable(cells)}
	all := compareTails(cells, reference)
	var cmps []tailComparison
	unpaired := 0
	for _, tc := range all {
		if tc.rounds == 0 {
			unpaired++ // never offered the reference's rate: nothing to pair
			continue
		}
		cmps = append(cmps, tc)
	}
	if unpaired > 0 {
		out = append(out, para(fmt.Sprintf("%d configurations are not compared with %s: their labels were never offered the same rate in the same round (a share of each label's own capacity; `shared_capacity: true` offers every label the reference's).", unpaired, mdEscape(reference))))
	}
	if len(cmps) > 0 {
		out = append(out, para(fmt.Sprintf("p99 against %s at the same offered rate, paired by round (ratio label ÷ %s, 95%% interval from the paired bootstrap; at least %d rounds), with p90 the same way: "+
			"where a millisecond-scale delay meets about 1%% of requests, p99 sits on its edge and moves from round to round, p90 does not (README, *Repeatability*):", mdEscape(reference), mdEscape(reference), tailMinRounds)))
		var l list
		for _, tc := range cmps {
			if tc.verdict == VerdictTooFewRounds {
				l = append(l, fmt.Sprintf("%s, %s: %s (%d rounds at the same rate)", tc.name, mdEscape(tc.label), tc.verdict, tc.rounds))
				continue
			}
			l = append(l, fmt.Sprintf("%s, %s: p99 %s (×%.2f [%.2f, %.2f], %d rounds)%s. %s.", tc.name, mdEscape(tc.label), tc.verdict, tc.ratio, tc.lo, tc.hi, tc.rounds, tc.p90Text(), tc.cause))
		}
		out = append(out, l)
	}
	cal, calibration := tailCalibrationBlocks(cmps)
	out = append(out, cal...)
	for _, s := range skipped {
		out = append(out, quote("not read: "+s))
	}
	return out, calibration
}

// tailTable is the p99 and p99.9 of each cell's label.
func tailTable(cells []*tailCell) table {
	t := table{head: []string{"configuration", "label", "rounds", "requests", "p99 µs [95%]", "p99.9 µs [95%]"},
		right: []bool{false, false, true, true, false, false}}
	for _, c := range cells {
		tl, err := c.tails(nil)
		if err != nil {
			continue
		}
		rng := rand.New(rand.NewPCG(uint64(tl.Count()), 1))
		t.rows = append(t.rows, []string{c.name, mdEscape(c.label), strconv.Itoa(tl.Rounds()), fmtCount(float64(tl.Count())),
			fmtPercentile(tl.Percentile(99, rng)), fmtPercentile(tl.Percentile(99.9, rng))})
	}
	return t
}

// calibrationBounds is where the A/A p99 ratio's interval must lie for the
// tail comparison to be called calibrated.
var calibrationBounds = [2]float64{0.85, 1.18}

// tailCalibrationBlocks checks the calibration plan's latency cells: a
// label on the reference's own server (no handicap) must show no clear
// difference with its interval inside calibrationBounds; a label with a
// latency handicap (server -handicap-delay-us D -handicap-delay-every N)
// must come out higher, near the p99 computed from the reference's
// distribution: with one request in N delayed by D and N < 100, the
// slowest 1% are delayed ones, so p99 ≈ D + the reference's percentile
// 100·(1 − N/100) (the delayed requests' own latency, at the share of them
// that the top 1% leaves below). It returns the checks' paragraph and
// list, and each check's outcome (calExpected, calNotExpected, or
// calTooEarly for too few rounds) for the report's lead; both nil when no
// check has enough rounds.
func tailCalibrationBlocks(cmps []tailComparison) (out []block, outcomes []string) {
	var lines list
	for _, tc := range cmps {
		lr := anyRow(tc.labelCel)
		rr := anyRow(tc.refCell)
		delay, every := delayHandicap(lr.ServerCommand)
		handicapped := delay > 0 && every > 0 && every < 100
		sameServer := serverOf(lr) == serverOf(rr) && !strings.Contains(tc.label, "handicap") && !strings.Contains(lr.ServerCommand, "-handicap")
		if tc.verdict == VerdictTooFewRounds {
			if handicapped || sameServer {
				outcomes = append(outcomes, calTooEarly)
			}
			continue
		}
		switch {
		case handicapped:
			ref, err := tc.refCell.tails(nil)
			lab, err2 := tc.labelCel.tails(nil)
			if err != nil || err2 != nil {
				continue
			}
			rng := rand.New(rand.NewPCG(7, 7))
			want := float64(delay) + float64(ref.Percentile(100*(1-float64(every)/100), rng).Us)
			got := lab.Percentile(99, rng)
			mark, outcome := calExpected, calExpected
			if tc.verdict != VerdictHigher {
				mark, outcome = "NOT as expected: the instrument misses a known latency cost", calNotExpected
			}
			outcomes = append(outcomes, outcome)
			lines = append(lines, fmt.Sprintf("%s, %s (one request in %d waits %d µs): p99 %s, ×%.2f [%.2f, %.2f]; computed p99 ≈ %s µs, measured %s — %s",
				tc.name, mdEscape(tc.label), every, delay, tc.verdict, tc.ratio, tc.lo, tc.hi, fmtUs(want), fmtPercentile(got), mark))
		case sameServer:
			mark, outcome := calExpected, calExpected
			if tc.verdict != VerdictNoDifference || tc.lo < calibrationBounds[0] || tc.hi > calibrationBounds[1] {
				mark = fmt.Sprintf("NOT as expected (want no clear difference with the interval inside [%.2f, %.2f])", calibrationBounds[0], calibrationBounds[1])
				outcome = calNotExpected
			}
			outcomes = append(outcomes, outcome)
			lines = append(lines, fmt.Sprintf("%s, %s vs %s (same server): p99 %s, ×%.2f [%.2f, %.2f] — %s",
				tc.name, mdEscape(tc.label), mdEscape(tc.reference), tc.verdict, tc.ratio, tc.lo, tc.hi, mark))
			if line, outcome, ok := tc.p90Check(); ok {
				outcomes = append(outcomes, outcome)
				lines = append(lines, line)
			}
		}
	}
	if len(lines) == 0 {
		return nil, nil
	}
	return []block{para("**Latency calibration** (the same server against itself must show no clear p99 difference, and its p90 ratio's interval must lie inside the same bounds; a known latency cost must be found):"), lines}, outcomes
}

// p90Text is the p90 ratio as the comparison lists it, empty without one.
func (tc tailComparison) p90Text() string {
	if tc.p90[0] == 0 {
		return ""
	}
	return fmt.Sprintf("; p90 ×%.2f [%.2f, %.2f]", tc.p90[0], tc.p90[1], tc.p90[2])
}

// p90Check is the A/A check at p90 of a same-server comparison: its
// interval inside calibrationBounds. ok is false without a p90 ratio.
func (tc tailComparison) p90Check() (line, outcome string, ok bool) {
	r, lo, hi := tc.p90[0], tc.p90[1], tc.p90[2]
	if r == 0 {
		return "", "", false
	}
	mark, outcome := calExpected, calExpected
	if lo < calibrationBounds[0] || hi > calibrationBounds[1] {
		mark = fmt.Sprintf("NOT as expected (want the interval inside [%.2f, %.2f])", calibrationBounds[0], calibrationBounds[1])
		outcome = calNotExpected
	}
	return fmt.Sprintf("%s, %s vs %s (same server): p90 ×%.2f [%.2f, %.2f] — %s",
		tc.name, mdEscape(tc.label), mdEscape(tc.reference), r, lo, hi, mark), outcome, true
}

// anyRow returns one of c's rows (the lowest round).
func anyRow(c *tailCell) results.Row {
	best := -1
	for rep := range c.rows {
		if best < 0 || rep < best {
			best = rep
		}
	}
	return c.rows[best]
}

// delayHandicap reads -handicap-delay-us and -handicap-delay-every from a
// server command line; zeros when absent.
func delayHandicap(command string) (delayUs, every int) {
	delayUs, _ = strconv.Atoi(commandFlag(command, "-handicap-delay-us"))
	every, _ = strconv.Atoi(commandFlag(command, "-handicap-delay-every"))
	return delayUs, every
}

// commandFlag is the value of flag in a server command line as a row
// records it, written "-flag value", "-flag=value" or with two dashes as
// Go's flag package and the C servers accept ("" when absent).
func commandFlag(command, flag string) string {
	f := strings.Fields(command)
	name := strings.TrimLeft(flag, "-")
	for i, w := range f {
		w, ok := strings.CutPrefix(w, "-")
		if !ok {
			continue
		}
		w = strings.TrimPrefix(w, "-") // --flag, as Go's flag package
		if v, ok := strings.CutPrefix(w, name+"="); ok {
			return v
		}
		if w == name && i+1 < len(f) {
			return f[i+1]
		}
	}
	return ""
}

// hlogPath is the path of r's .hlog (Row.Hlog is relative to the run
// directory unless absolute).
func hlogPath(dir string, r results.Row) string {
	if filepath.IsAbs(r.Hlog) {
		return r.Hlog
	}
	return filepath.Join(dir, r.Hlog)
}

// fmtPercentile writes a percentile with its interval and a warning when
// few samples lie beyond it.
func fmtPercentile(p results.Percentile) string {
	s := fmt.Sprintf("%s [%s, %s]", fmtCount(float64(p.Us)), fmtCount(float64(p.LoUs)), fmtCount(float64(p.HiUs)))
	if p.Few() {
		s += fmt.Sprintf(" ⚠ %d beyond", p.Beyond)
	}
	return s
}

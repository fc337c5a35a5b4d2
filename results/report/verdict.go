package report

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/asyncbench/asyncbench/results"
)

// Verdict values: how a label compares with the reference on one metric.
const (
	VerdictHigher       = "higher"              // the whole 95% interval of the ratio is above 1
	VerdictLower        = "lower"               // the whole interval is below 1
	VerdictNoDifference = "no clear difference" // the interval contains 1
	VerdictTooFewRounds = "too few rounds"      // fewer than MinRounds paired rounds: no 95% interval exists
)

// MinRounds is the fewest paired rounds for which a distribution-free 95%
// interval for the median exists: with n rounds the widest such interval,
// from the smallest to the largest ratio, covers the median with
// probability 1 − 2·(1/2)^n, which first reaches 95% at n = 6.
const MinRounds = 6

// Metrics compared in verdicts.csv, with their getters.
var verdictMetrics = []struct {
	name string
	get  func(results.Row) float64
}{
	{"rps", getRPS},
	{"p99_us", getP99},
	{"rss_peak_kib", func(r results.Row) float64 { return optional(r.RSSPeakKiB) }},
	{"requests_per_server_cpu_s", getReqCPU},
}

// Verdict compares one label with the reference on one metric within one
// configuration, from the rounds in which both had an ok row: Ratio is the
// median of the per-round ratios label ÷ reference, [CILow, CIHigh] its
// 95% sign-test interval. One line of verdicts.csv.
type Verdict struct {
	Workload  string
	Proto     string
	Conns     int
	Pipeline  int
	Rate      float64
	Payload   int
	Metric    string
	Label     string // the backend column of verdicts.csv
	Reference string
	Rounds    int
	Ratio     float64 // NaN when Rounds is 0
	CILow     float64 // NaN without an interval
	CIHigh    float64
	Verdict   string
	// Bound is BoundLower or BoundUpper when the verdict was decided from
	// rounds in which one side was generator-bound (see judgeBound): Ratio
	// and the one end of the interval are then bounds, the other end is
	// NaN. Empty for an exact verdict.
	Bound string
	// BoundRounds counts the rounds in which one side of the pair was
	// generator-bound in closed loop and the other ok (throughput only).
	BoundRounds int
	// Remeasured counts the rounds used whose label or reference row was
	// a re-run (results.Row.Attempt > 1).
	Remeasured int
	// cfg is the configuration judged, of which Workload to Payload are
	// the columns verdicts.csv keeps.
	cfg config
}

// Values of Verdict.Bound.
const (
	BoundLower = "lower" // the label was generator-bound: the true ratio is at least Ratio
	BoundUpper = "upper" // the reference was generator-bound: the true ratio is at most Ratio
)

// VerdictsHeader is the header of verdicts.csv.
var VerdictsHeader = []string{"workload", "proto", "conns", "pipeline", "rate", "payload_bytes", "metric",
	"backend", "reference", "rounds", "ratio", "ci_low", "ci_high", "verdict",
	"bound", "bound_rounds", "remeasured_rounds"}

// DefaultReference picks the reference label when none is given: stdlib
// if measured, else the first label in sorted order.
func DefaultReference(rows []results.Row) string {
	var labels []string
	for _, r := range rows {
		if l := r.LabelOf(); !slices.Contains(labels, l) {
			labels = append(labels, l)
		}
	}
	if slices.Contains(labels, "stdlib") || len(labels) == 0 {
		return "stdlib"
	}
	slices.Sort(labels)
	return labels[0]
}

// Verdicts compares every label with reference, configuration by
// configuration and round by round (Row.Rep is the round). A round counts
// for a metric only when both rows of the pair are ok and both values are
// measured, finite and the reference's is positive; rows that are noisy,
// saturated or failed drop their round's pair. A throughput comparison
// left with too few rounds may still be decided one way from rounds in
// which one side was generator-bound (judgeBound).
func Verdicts(rows []results.Row, reference string) []Verdict {
	p := pairRounds(rows)
	var out []Verdict
	for _, k := range p.keys {
		ref, ok := p.ok[side{reference, k}]
		if !ok {
			continue
		}
		for _, l := range p.labels {
			other, ok := p.ok[side{l, k}]
			if l == reference || !ok {
				continue
			}
			for _, m := range verdictMetrics {
				v := judgePair(k, l, reference, m.name, m.get, other, ref)
				if m.name == "rps" {
					judgeBound(&v.Verdict, v.ratios, other, ref, p.bound[side{l, k}], p.bound[side{reference, k}])
				}
				out = append(out, v.Verdict)
			}
		}
	}
	return out
}

// side is one label's rows in one configuration.
type side struct {
	label string
	key   config
}

// pairing holds a run's rows by side and round: ok are the rows that
// count, bound the generator-bound closed-loop ones; labels are sorted,
// keys in report order.
type pairing struct {
	ok, bound map[side]map[int]results.Row
	labels    []string
	keys      []config
}

// pairRounds indexes rows for Verdicts, leaving out rows whose rate was a
// share of capacity: each backend at its own share, no equal load to pair.
func pairRounds(rows []results.Row) pairing {
	p := pairing{ok: map[side]map[int]results.Row{}, bound: map[side]map[int]results.Row{}}
	for _, r := range rows {
		if r.RateFraction != nil {
			continue
		}
		k := configOf(r)
		s := side{r.LabelOf(), k}
		if p.ok[s] == nil {
			p.ok[s] = map[int]results.Row{}
			if !slices.Contains(p.labels, s.label) {
				p.labels = append(p.labels, s.label)
			}
			if !slices.Contains(p.keys, k) {
				p.keys = append(p.keys, k)
			}
		}
		if r.Status.Counts() {
			p.ok[s][r.Rep] = r
		}
		if r.GeneratorBound() && r.Rate == 0 {
			if p.bound[s] == nil {
				p.bound[s] = map[int]results.Row{}
			}
			p.bound[s][r.Rep] = r
		}
	}
	slices.Sort(p.labels)
	slices.SortFunc(p.keys, func(a, b config) int {
		return cmp.Or(cmp.Compare(a.proto, b.proto), cmp.Compare(a.workloadID(), b.workloadID()),
			cmp.Compare(a.pipeline, b.pipeline), cmp.Compare(a.rate, b.rate),
			cmp.Compare(a.payload, b.payload), cmp.Compare(a.conns, b.conns))
	})
	return p
}

// judgedPair is a Verdict with the per-round ratios it was judged from.
type judgedPair struct {
	Verdict
	ratios []float64
}

// judgePair compares label l with reference on one metric in configuration
// k from the rounds in which both have a measured, finite value and the
// reference's is positive.
func judgePair(k config, l, reference, metric string, get func(results.Row) float64, other, ref map[int]results.Row) judgedPair {
	var ratios []float64
	remeasured := 0
	for _, rd := range slices.Sorted(maps.Keys(other)) {
		rr, ok := ref[rd]
		if !ok {
			continue
		}
		a, b := get(other[rd]), get(rr)
		if finite(a) && finite(b) && b > 0 {
			ratios = append(ratios, a/b)
			if other[rd].AttemptOf() > 1 || rr.AttemptOf() > 1 {
				remeasured++
			}
		}
	}
	v := Verdict{
		Workload: k.workloadID(), Proto: k.proto, Conns: k.conns, Pipeline: k.pipeline,
		Rate: k.rate, Payload: k.payload, Metric: metric, Label: l, Reference: reference,
		Remeasured: remeasured, cfg: k,
	}
	v.Rounds, v.Ratio, v.CILow, v.CIHigh, v.Verdict = judgeRatios(ratios)
	return judgedPair{v, ratios}
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// judgeRatios returns the median of the per-round ratios, its sign-test
// interval and the verdict.
func judgeRatios(ratios []float64) (n int, median, lo, hi float64, verdict string) {
	n = len(ratios)
	lo, hi = math.NaN(), math.NaN()
	if n == 0 {
		return 0, math.NaN(), lo, hi, VerdictTooFewRounds
	}
	median = summarize(ratios).median
	var ok bool
	lo, hi, ok = SignTestInterval(ratios, Confidence) // the level Compare uses too
	switch {
	case !ok:
		return n, median, math.NaN(), math.NaN(), VerdictTooFewRounds
	case lo > 1:
		verdict = VerdictHigher
	case hi < 1:
		verdict = VerdictLower
	default:
		verdict = VerdictNoDifference
	}
	return n, median, lo, hi, verdict
}

// judgeBound decides a throughput verdict left at too few rounds from the
// rounds in which one side was generator-bound (in bound and refBound by
// round) and the other ok (in ok and refOK). A generator-bound server's
// throughput is at least its measured figure, so such a round's ratio is
// a lower bound on the true one when the label was bound, an upper bound
// when the reference was. Raising some of the values can only raise every
// order statistic, so the sign-test interval of the exact ratios and the
// lower bounds together starts at or below the true interval's start:
// when that start is above 1, the label is higher whatever the bound
// servers could have done, and v says so with Bound BoundLower and no
// upper end. Likewise below 1 with upper bounds. Rounds with bounds in
// both directions decide nothing; v only counts them.
func judgeBound(v *Verdict, exact []float64, ok, refOK, bound, refBound map[int]results.Row) {
	var lower, upper []float64
	for rd, r := range bound {
		if rr, found := refOK[rd]; found && rr.RPS > 0 {
			lower = append(lower, r.RPS/rr.RPS)
		}
	}
	for rd, rr := range refBound {
		if r, found := ok[rd]; found && rr.RPS > 0 {
			upper = append(upper, r.RPS/rr.RPS)
		}
	}
	v.BoundRounds = len(lower) + len(upper)
	if v.Verdict != VerdictTooFewRounds || (len(lower) > 0) == (len(upper) > 0) {
		return
	}
	vals := slices.Concat(exact, lower, upper)
	lo, hi, found := SignTestInterval(vals, Confidence)
	switch {
	case !found:
		return
	case len(lower) > 0 && lo > 1:
		v.Verdict, v.Bound, v.CILow, v.CIHigh = VerdictHigher, BoundLower, lo, math.NaN()
	case len(upper) > 0 && hi < 1:
		v.Verdict, v.Bound, v.CILow, v.CIHigh = VerdictLower, BoundUpper, math.NaN(), hi
	default:
		return
	}
	v.Rounds, v.Ratio = len(vals), summarize(vals).median
}

// SignTestInterval returns the distribution-free confidence interval for
// the median of xs from its order statistics: [x(k), x(n−k+1)] with the
// largest k for which 2·P(B ≤ k−1) ≤ 1 − conf, B ~ Binomial(n, 1/2). Its
// coverage is at least conf for any continuous distribution; it assumes
// only that the values are independent draws (the rounds). ok is false
// when n is too small for any such interval. xs is not modified.
func SignTestInterval(xs []float64, conf float64) (lo, hi float64, ok bool) {
	n := len(xs)
	alpha := 1 - conf
	k := 0
	cdf := 0.0 // P(B ≤ j−1) as j grows
	for j := 1; j <= n/2; j++ {
		cdf += binomHalf(n, j-1)
		if 2*cdf > alpha+1e-12 {
			break
		}
		k = j
	}
	if k == 0 {
		return math.NaN(), math.NaN(), false
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[k-1], s[n-k], true
}

// binomHalf is P(B = j) for B ~ Binomial(n, 1/2), computed in logs so that
// large n does not overflow.
func binomHalf(n, j int) float64 {
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	return math.Exp(lg(n) - lg(j) - lg(n-j) - float64(n)*math.Ln2)
}

// WriteVerdictsCSV writes vs as verdicts.csv: a header, then one line per
// verdict. An interval that does not exist is an empty field.
func WriteVerdictsCSV(w io.Writer, vs []Verdict) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(VerdictsHeader); err != nil {
		return err
	}
	num := func(x float64) string {
		if !finite(x) {
			return ""
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	for _, v := range vs {
		rec := []string{v.Workload, v.Proto, strconv.Itoa(v.Conns), strconv.Itoa(v.Pipeline),
			strconv.FormatFloat(v.Rate, 'f', -1, 64), strconv.Itoa(v.Payload), v.Metric, v.Label, v.Reference,
			strconv.Itoa(v.Rounds), num(v.Ratio), num(v.CILow), num(v.CIHigh), v.Verdict,
			v.Bound, strconv.Itoa(v.BoundRounds), strconv.Itoa(v.Remeasured)}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Options change what WriteWith writes.
type Options struct {
	// Reference is the label the verdicts compare every other with;
	// empty = DefaultReference.
	Reference string
	// Warn receives warnings about the directory's other files (a torn
	// slo.csv); nil = discard.
	Warn io.Writer
	// Reruns and RerunsOK count the re-runs of the run (rows with attempt
	// above 1, of every attempt, not only those kept) and those that came
	// out ok; see Reruns.
	Reruns, RerunsOK int
}

// Reruns counts the re-runs among all rows of a run (every attempt, as in
// summary.csv): rows with an attempt above 1, and those of them that are
// ok.
func Reruns(all []results.Row) (reruns, ok int) {
	for _, r := range all {
		if r.AttemptOf() > 1 {
			reruns++
			if r.Status == results.StatusOK {
				ok++
			}
		}
	}
	return reruns, ok
}

// serverOf names the server that answered r for the calibration checks:
// its server command without the handicap flags, so that labels running
// the same command are the same server and a handicapped label is that
// server with a handicap (rows in a report have their label as Backend,
// see byLabel); its Backend when the command is unknown.
func serverOf(r results.Row) string {
	f := strings.Fields(r.ServerCommand)
	if len(f) == 0 {
		return r.Backend
	}
	var out []string
	for i := 0; i < len(f); i++ {
		if strings.HasPrefix(f[i], "-handicap-") {
			if !strings.Contains(f[i], "=") {
				i++ // and its value
			}
			continue
		}
		out = append(out, f[i])
	}
	return strings.Join(out, " ")
}

// byLabel returns rows with each Backend replaced by its label, so that
// tables, plots and verdicts group by variant; rows without a label keep
// their backend.
func byLabel(rows []results.Row) []results.Row {
	out := slices.Clone(rows)
	for i := range out {
		out[i].Backend = out[i].LabelOf()
	}
	return out
}

// writeVerdictsFile writes dir/verdicts.csv.
func writeVerdictsFile(dir string, vs []Verdict) error {
	var b bytes.Buffer
	if err := WriteVerdictsCSV(&b, vs); err != nil {
		return fmt.Errorf("report: verdicts: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "verdicts.csv"), b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

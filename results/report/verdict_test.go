package report

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/results"
)

func TestSignTestInterval(t *testing.T) {
	xs := func(n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = float64(n - i) // descending: the function must sort
		}
		return out
	}
	tests := []struct {
		n      int
		ok     bool
		lo, hi float64 // order statistics x(k), x(n−k+1), 1-based values here
	}{
		{1, false, 0, 0},
		{5, false, 0, 0}, // 2·(1/2)^5 = 6.25% > 5%
		{6, true, 1, 6},  // 2·(1/2)^6 = 3.1%: min to max
		{8, true, 1, 8},  // k=2 would cover only 93%
		{9, true, 2, 8},  // 2·10/512 = 3.9%
		{10, true, 2, 9},
		{20, true, 6, 15}, // P(B ≤ 5) = 2.07%, P(B ≤ 6) = 5.77%
	}
	for _, tt := range tests {
		in := xs(tt.n)
		lo, hi, ok := SignTestInterval(in, 0.95)
		if ok != tt.ok || ok && (lo != tt.lo || hi != tt.hi) {
			t.Errorf("n=%d: got [%v, %v] %v, want [%v, %v] %v", tt.n, lo, hi, ok, tt.lo, tt.hi, tt.ok)
		}
		if in[0] != float64(tt.n) {
			t.Errorf("n=%d: input modified", tt.n)
		}
	}
	if _, _, ok := SignTestInterval(nil, 0.95); ok {
		t.Error("empty input gave an interval")
	}
}

// driftRows makes rounds of two labels, "ref" and "b", on a host whose
// speed drifts a lot between rounds (shared by both rows of a round: a
// random walk plus ±25% per round) and a little within a round (3%
// independent noise per row). b's true throughput is ratio × ref's.
func driftRows(rng *rand.Rand, rounds int, ratio float64) []results.Row {
	var rows []results.Row
	walk := 0.0
	for rd := 1; rd <= rounds; rd++ {
		walk += 0.1 * rng.NormFloat64()
		host := 50000 * math.Exp(walk+0.25*rng.NormFloat64())
		for _, l := range []struct {
			label string
			f     float64
		}{{"ref", 1}, {"b", ratio}} {
			rows = append(rows, results.Row{
				Backend: "stdlib", Label: l.label, Proto: "http", Workload: "plaintext", Conns: 64, Pipeline: 1,
				Rep: rd, Status: results.StatusOK, RPS: host * l.f * math.Exp(0.03*rng.NormFloat64()), P99Us: 1000,
			})
		}
	}
	// Shuffle the order the rows come in: pairing must not depend on it.
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	return rows
}

func rpsVerdict(t *testing.T, rows []results.Row) Verdict {
	t.Helper()
	for _, v := range Verdicts(rows, "ref") {
		if v.Metric == "rps" && v.Label == "b" {
			return v
		}
	}
	t.Fatal("no rps verdict")
	return Verdict{}
}

// TestVerdictsAA: the same server against itself, 10 rounds under heavy
// drift. The sign-test interval at n = 10 is [x(2), x(9)] with coverage
// 1 − 2·11/1024 = 97.9%, so about 2% of seeds may give a false verdict;
// the test allows 5%.
func TestVerdictsAA(t *testing.T) {
	const seeds, rounds = 1000, 10
	falses := 0
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 1))
		v := rpsVerdict(t, driftRows(rng, rounds, 1))
		if v.Rounds != rounds {
			t.Fatalf("seed %d: %d rounds", seed, v.Rounds)
		}
		if v.Verdict != VerdictNoDifference {
			falses++
		}
	}
	t.Logf("A/A: %d false verdicts in %d seeds", falses, seeds)
	if falses > seeds*5/100 {
		t.Errorf("A/A: %d false verdicts in %d seeds, want at most 5%%", falses, seeds)
	}
}

// TestVerdictsPower: a 10% handicap, same drift and noise, 10 rounds.
// With 3% noise per row the per-round log ratio has sd 0.042, so a round
// shows the wrong sign with probability Φ(−ln 1.1 / 0.042) ≈ 1.2%; the
// verdict needs at most one such round of ten: ≈ 99%. The test asks 95%.
func TestVerdictsPower(t *testing.T) {
	const seeds, rounds = 1000, 10
	found := 0
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 2))
		v := rpsVerdict(t, driftRows(rng, rounds, 0.9))
		if v.Verdict == VerdictLower {
			found++
		}
		if v.Verdict == VerdictHigher {
			t.Fatalf("seed %d: a 10%% handicap judged higher: %+v", seed, v)
		}
	}
	t.Logf("10%% lower: found in %d of %d seeds", found, seeds)
	if found < seeds*95/100 {
		t.Errorf("10%% difference found in %d of %d seeds, want at least 95%%", found, seeds)
	}
}

func TestVerdictsPairing(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	rows := driftRows(rng, 7, 0.5)
	v := rpsVerdict(t, rows)
	if v.Rounds != 7 || v.Verdict != VerdictLower || !(v.CILow <= v.Ratio && v.Ratio <= v.CIHigh) {
		t.Fatalf("%+v", v)
	}
	// A noisy row drops its round's pair: 6 left, still judged; a
	// saturated one more: 5, too few.
	mark := func(rd int, s results.Status) {
		for i := range rows {
			if rows[i].Rep == rd && rows[i].Label == "b" {
				rows[i].Status = s
			}
		}
	}
	mark(3, results.StatusNoisy)
	if v := rpsVerdict(t, rows); v.Rounds != 6 || v.Verdict != VerdictLower {
		t.Fatalf("after one noisy row: %+v", v)
	}
	// A server backlog is a result: its round still counts.
	mark(4, results.StatusBacklog)
	if v := rpsVerdict(t, rows); v.Rounds != 6 || v.Verdict != VerdictLower {
		t.Fatalf("after a backlog row: %+v", v)
	}
	mark(5, results.StatusSaturated)
	v = rpsVerdict(t, rows)
	if v.Rounds != 5 || v.Verdict != VerdictTooFewRounds || !math.IsNaN(v.CILow) {
		t.Fatalf("after a saturated row too: %+v", v)
	}
	// Unmeasured RSS gives no pairs at all for that metric.
	for _, v := range Verdicts(rows, "ref") {
		if v.Metric == "rss_peak_kib" && (v.Rounds != 0 || v.Verdict != VerdictTooFewRounds) {
			t.Fatalf("rss: %+v", v)
		}
	}
	// No reference rows: no verdicts.
	if vs := Verdicts(rows, "nobody"); len(vs) != 0 {
		t.Fatalf("verdicts without the reference: %+v", vs)
	}
}

func TestWriteVerdictsCSV(t *testing.T) {
	vs := []Verdict{
		{Workload: "plaintext", Proto: "http", Conns: 64, Pipeline: 1, Metric: "rps", Label: "gnet", Reference: "stdlib",
			Rounds: 9, Ratio: 1.25, CILow: 1.1, CIHigh: 1.4, Verdict: VerdictHigher},
		{Workload: "echo", Proto: "echo", Conns: 16, Pipeline: 1, Payload: 64, Metric: "p99_us", Label: "gnet", Reference: "stdlib",
			Rounds: 3, Ratio: 0.9, CILow: math.NaN(), CIHigh: math.NaN(), Verdict: VerdictTooFewRounds},
		{Workload: "plaintext", Proto: "http", Conns: 1024, Pipeline: 1, Metric: "rps", Label: "gnet", Reference: "stdlib",
			Rounds: 6, Ratio: 1.45, CILow: 1.2, CIHigh: math.NaN(), Verdict: VerdictHigher, Bound: BoundLower, BoundRounds: 2, Remeasured: 1},
	}
	var b bytes.Buffer
	if err := WriteVerdictsCSV(&b, vs); err != nil {
		t.Fatal(err)
	}
	want := "workload,proto,conns,pipeline,rate,payload_bytes,metric,backend,reference,rounds,ratio,ci_low,ci_high,verdict,bound,bound_rounds,remeasured_rounds\n" +
		"plaintext,http,64,1,0,0,rps,gnet,stdlib,9,1.25,1.1,1.4,higher,,0,0\n" +
		"echo,echo,16,1,0,64,p99_us,gnet,stdlib,3,0.9,,,too few rounds,,0,0\n" +
		"plaintext,http,1024,1,0,0,rps,gnet,stdlib,6,1.45,1.2,,higher,lower,2,1\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// boundRows is six rounds of stdlib and gnet plaintext, closed loop, at
// the given req/s per round; a negative figure marks a generator-bound
// row (its throughput the absolute value).
func boundRows(stdlib, gnet []float64) []results.Row {
	var rows []results.Row
	for i := range stdlib {
		for _, side := range []struct {
			label string
			rps   float64
		}{{"stdlib", stdlib[i]}, {"gnet", gnet[i]}} {
			r := results.Row{Backend: side.label, Proto: "http", Workload: "plaintext", Conns: 1024, Pipeline: 1,
				Rep: i + 1, Status: results.StatusOK, RPS: math.Abs(side.rps), P99Us: 1000, Bottleneck: "server"}
			if side.rps < 0 {
				r.Status, r.Bottleneck = results.StatusSaturated, "generator"
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// TestVerdictsGeneratorBound: rounds where one side was generator-bound
// decide a throughput verdict one way when the bounds already do, and
// only count otherwise; exact verdicts are left as they are.
func TestVerdictsGeneratorBound(t *testing.T) {
	ref := []float64{100, 100, 100, 100, 100, 100}
	tests := []struct {
		name           string
		stdlib, gnet   []float64
		verdict, bound string
		ratio, lo, hi  float64 // NaN: no such end
		rounds, nBound int
	}{
		// Exact ratios 1.5 1.6 1.4 1.55, lower bounds 1.2 1.3: the
		// interval of all six runs from 1.2 (min) and has no upper end.
		{"label bound, decided", ref, []float64{150, -120, 160, 140, -130, 155},
			VerdictHigher, BoundLower, 1.45, 1.2, math.NaN(), 6, 2},
		// A lower bound of 0.9 does not show gnet ahead.
		{"label bound, not decided", ref, []float64{150, -90, 160, 140, -130, 155},
			VerdictTooFewRounds, "", math.NaN(), math.NaN(), math.NaN(), 4, 2},
		// The reference bound: gnet/stdlib 0.5 0.6 0.55 0.45 exact, at
		// most 0.7 and 0.8 where stdlib was held back by the generator.
		{"reference bound, decided", []float64{100, -100, 100, 100, -100, 100}, []float64{50, 70, 60, 55, 80, 45},
			VerdictLower, BoundUpper, 0.575, math.NaN(), 0.8, 6, 2},
		// Bounds both ways decide nothing.
		{"both bound", []float64{100, -100, 100, 100, 100, 100}, []float64{150, 70, 160, 140, -130, 155},
			VerdictTooFewRounds, "", math.NaN(), math.NaN(), math.NaN(), 4, 2},
		// Six exact rounds: the verdict is the exact one.
		{"exact", append(slices.Clone(ref), 100), []float64{150, 120, 160, 140, 130, 155, -50},
			VerdictHigher, "", 1.45, 1.2, 1.6, 6, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := rpsVerdictOf(t, Verdicts(boundRows(tt.stdlib, tt.gnet), "stdlib"))
			same := func(a, b float64) bool { return math.IsNaN(a) && math.IsNaN(b) || math.Abs(a-b) < 1e-12 }
			if v.Verdict != tt.verdict || v.Bound != tt.bound || v.Rounds != tt.rounds || v.BoundRounds != tt.nBound ||
				(tt.verdict != VerdictTooFewRounds && !same(v.Ratio, tt.ratio)) || !same(v.CILow, tt.lo) || !same(v.CIHigh, tt.hi) {
				t.Fatalf("got %+v", v)
			}
		})
	}
	// The glance says what the bound means.
	var b bytes.Buffer
	b.WriteString(mdOf(glanceBlocks(Verdicts(boundRows(ref, tests[0].gnet), "stdlib"), "stdlib")))
	if want := "- gnet: throughput is higher than stdlib's, ≥ ×1.450 (95% CI from 1.200, open above: gnet was generator-bound in 2 of 6 rounds, so its throughput there is a lower bound)"; !strings.Contains(b.String(), want) {
		t.Fatalf("glance:\n%s\nwant %s", b.String(), want)
	}
	b.Reset()
	b.WriteString(mdOf(glanceBlocks(Verdicts(boundRows(ref, tests[1].gnet), "stdlib"), "stdlib")))
	if want := "Generator-bound rounds left 1 throughput comparisons undecided"; !strings.Contains(b.String(), want) {
		t.Fatalf("glance:\n%s\nwant %s", b.String(), want)
	}
	vs := []Verdict{
		{Label: "gnet", Reference: "stdlib", Metric: "rps", Verdict: VerdictTooFewRounds, Rounds: 4, BoundRounds: 2, Proto: "http", Workload: "plaintext", Conns: 64, Pipeline: 1, cfg: plain64},
		{Label: "gnet", Reference: "stdlib", Metric: "p99_us", Verdict: VerdictNoDifference, Rounds: 6, Ratio: 1, CILow: 0.9, CIHigh: 1.1, Remeasured: 2, Proto: "http", Workload: "plaintext", Conns: 64, Pipeline: 1, cfg: plain64},
	}
	b.Reset()
	b.WriteString(mdOf(glanceBlocks(vs, "stdlib")))
	for _, want := range []string{
		"too few paired rounds (fewer than 6) to judge: gnet throughput (4, and 2 with one side generator-bound: its figure is a lower bound, ≥ in the table)",
		"no clear difference: gnet p99 latency (×1.000, 0.900–1.100, 2 re-measured)",
		"**http plaintext, pipeline 1, closed loop, 64 connections**",
	} {
		if !strings.Contains(b.String(), want) {
			t.Fatalf("glance:\n%s\nwant %s", b.String(), want)
		}
	}
}

func rpsVerdictOf(t *testing.T, vs []Verdict) Verdict {
	t.Helper()
	for _, v := range vs {
		if v.Metric == "rps" {
			return v
		}
	}
	t.Fatal("no throughput verdict")
	return Verdict{}
}

func TestWriteWithVerdicts(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 3))
	rows := driftRows(rng, 8, 0.8)
	rows = append(rows, results.Row{Backend: "stdlib", Label: "b", Proto: "http", Workload: "plaintext", Conns: 64,
		Pipeline: 1, Rep: 9, Status: results.StatusNoisy, Reason: "other processes used 12.0% of the pinned CPUs (limit 5%)"})
	for i := range rows {
		if rows[i].Status == results.StatusOK {
			rows[i].Bottleneck = "both"
		}
	}
	if err := WriteWith(dir, rows, Options{Reference: "ref", Reruns: 3, RerunsOK: 2}); err != nil {
		t.Fatal(err)
	}
	csvText, err := os.ReadFile(filepath.Join(dir, "verdicts.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(csvText), ",rps,b,ref,8,") {
		t.Fatalf("verdicts.csv:\n%s", csvText)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Each backend against **ref**",
		"**http plaintext, pipeline 1, closed loop, 64 connections**",
		"- b: throughput is lower than ref's, ×0.8",
		"no clear difference: b p99 latency",
		"16 co-limited",
		"-gen-cpus",
		"(loadgen `-P`, plan key `pipeline`)",
		"`distributed`, then `bench merge`",
		"| re-runs | 3 of noisy or generator-bound cells, at the end of their round; 2 came out ok",
		"| noisy rows | 1 ",
		"| **noisy** |",
		"(1 noisy)",
		"| b ",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}

func TestWriteCalibration(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	var rows []results.Row
	// stdlib-a (reference) and stdlib-b: the same server; stdlib-handicap
	// 15% slower; 12 rounds on a drifting host.
	for rd := 1; rd <= 12; rd++ {
		host := 50000 * math.Exp(0.25*rng.NormFloat64())
		for i, label := range []string{"stdlib-a", "stdlib-b", "stdlib-handicap"} {
			f := []float64{1, 1, 0.85}[i]
			rows = append(rows, results.Row{Backend: "stdlib", Label: label, Proto: "http", Workload: "plaintext",
				Conns: 64, Pipeline: 1, Rep: rd, Status: results.StatusOK, RPS: host * f * math.Exp(0.03*rng.NormFloat64()),
				ServerCommand: "server -backend stdlib -proto http -addr 127.0.0.1:0"})
		}
	}
	rows = byLabel(rows) // as WriteWith passes them: Backend = label
	var b bytes.Buffer
	vs := Verdicts(rows, "stdlib-a")
	b.WriteString(mdOf(calibrationBlocks(rows, vs, "stdlib-a")))
	out := b.String()
	for _, want := range []string{
		"stdlib-b vs stdlib-a, throughput: no clear difference",
		"stdlib-handicap vs stdlib-a, throughput: lower",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("calibration lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "NOT as expected") {
		t.Errorf("a calibration that worked was flagged:\n%s", out)
	}
	// A broken instrument: the handicap not found.
	for i := range vs {
		vs[i].Verdict = VerdictNoDifference
	}
	b.Reset()
	b.WriteString(mdOf(calibrationBlocks(rows, vs, "stdlib-a")))
	if !strings.Contains(b.String(), "stdlib-handicap vs stdlib-a, throughput: no clear difference (") || !strings.Contains(b.String(), "NOT as expected") {
		t.Errorf("missed handicap not flagged:\n%s", b.String())
	}
	// Not a calibration run: nothing.
	b.Reset()
	b.WriteString(mdOf(calibrationBlocks(driftRows(rng, 6, 1), nil, "ref")))
	if b.Len() != 0 {
		t.Errorf("wrote %q for a plain run", b.String())
	}
}

// TestGlanceAllTooFew checks that a run with too few rounds for any verdict
// says so in one line instead of listing every comparison.
func TestGlanceAllTooFew(t *testing.T) {
	vs := []Verdict{
		{Label: "gnet", Reference: "stdlib", Metric: "rps", Verdict: VerdictTooFewRounds, Rounds: 3, Proto: "http", Workload: "plaintext", Conns: 64, Pipeline: 1, cfg: plain64},
		{Label: "gnet", Reference: "stdlib", Metric: "p99_us", Verdict: VerdictTooFewRounds, Rounds: 3, Proto: "http", Workload: "plaintext", Conns: 64, Pipeline: 1, cfg: plain64},
	}
	var b bytes.Buffer
	b.WriteString(mdOf(glanceBlocks(vs, "stdlib")))
	want := "No paired verdict: every comparison with **stdlib** has fewer than 6 rounds in which both rows are ok (a 95% sign-test interval needs 6). The sections below give medians and spreads; run more rounds (`repetitions`) for verdicts.\n\n"
	if b.String() != want {
		t.Fatalf("glance:\n%q\nwant\n%q", b.String(), want)
	}
	vs[1].Verdict = VerdictNoDifference
	b.Reset()
	b.WriteString(mdOf(glanceBlocks(vs, "stdlib")))
	if !strings.Contains(b.String(), "too few paired rounds") || !strings.Contains(b.String(), "no clear difference") {
		t.Fatalf("mixed verdicts lost a line:\n%s", b.String())
	}
}

// TestGlanceTitles: "At a glance" titles a configuration as the tables
// do, handler time and mix included, and keeps apart what differs only
// in them.
func TestGlanceTitles(t *testing.T) {
	var rows []results.Row
	for rep := 1; rep <= 6; rep++ {
		for _, us := range []int64{1000, 50} {
			for _, l := range []string{"stdlib", "gnet"} {
				rows = append(rows, results.Row{Backend: l, Proto: "http", Workload: "delay", HandlerUs: new(us), Conns: 64, Pipeline: 1,
					Rate: 2000, Rep: rep, Status: results.StatusOK, RPS: 2000, P99Us: us + int64(rep)})
			}
		}
	}
	md := mdOf(glanceBlocks(Verdicts(rows, "stdlib"), "stdlib"))
	for _, want := range []string{
		"**" + configOf(rows[0]).group().Title() + ", 64 connections**",
		"**" + configOf(rows[2]).group().Title() + ", 64 connections**",
		"**http delay 1 ms, pipeline 1, open loop at 2000 req/s, 64 connections**",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("glance lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "delay-") {
		t.Errorf("glance names a workload by its id:\n%s", md)
	}
}

// plain64 is the configuration of the hand-made verdicts above.
var plain64 = config{proto: "http", workload: "plaintext", conns: 64, pipeline: 1}

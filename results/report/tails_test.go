package report

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncbench/asyncbench/results"
)

// tailRun writes 8 rounds of three open-loop labels at 2,000 req/s, each
// round two 1 s intervals: stdlib-a and stdlib-b from one distribution,
// stdlib-delay the same with one request in 50 delayed by 5 ms.
func tailRun(t *testing.T, dir string) []results.Row {
	t.Helper()
	rng := rand.New(rand.NewPCG(4, 2))
	var rows []results.Row
	for rep := 1; rep <= 8; rep++ {
		for _, label := range []string{"stdlib-a", "stdlib-b", "stdlib-delay"} {
			var ivs []*hdrhistogram.Histogram
			for range 2 {
				h := newHist()
				for i := 1; i <= 2000; i++ {
					v := int64(200 * (1 + 0.5*rng.NormFloat64()*0.3))
					if label == "stdlib-delay" && i%50 == 0 {
						v += 5000
					}
					h.RecordValue(max(v, 1))
				}
				ivs = append(ivs, h)
			}
			name := fmt.Sprintf("%s_rep%d.hlog", label, rep)
			writeHlog(t, filepath.Join(dir, name), ivs...)
			cmd := "server -backend stdlib -proto http -addr 127.0.0.1:0"
			if label == "stdlib-delay" {
				cmd += " -handicap-delay-us 5000 -handicap-delay-every 50"
			}
			frac := 0.5
			rows = append(rows, results.Row{
				Cell: label + "/http/plaintext/c64/p1/r50pct/b0", Rep: rep, Backend: "stdlib", Label: label,
				Proto: "http", Workload: "plaintext", Conns: 64, Pipeline: 1, Rate: 2000, RateFraction: &frac,
				Status: results.StatusOK, Requests: 4000, RPS: 2000, Hlog: name, ServerCommand: cmd,
			})
		}
	}
	return rows
}

func TestWriteTails(t *testing.T) {
	dir := t.TempDir()
	rows := tailRun(t, dir)
	bs, _ := tailBlocks(dir, byLabel(rows), "stdlib-a") // as WriteWith passes them: Backend = label
	md := mdOf(bs)
	for _, want := range []string{
		"## Latency tails (open loop)",
		"| plaintext, 64 conns, 50% of capacity | stdlib-a | 8 | 32,000 |",
		"plaintext, 64 conns, 50% of capacity, stdlib-b: p99 no clear difference",
		"plaintext, 64 conns, 50% of capacity, stdlib-delay: p99 higher",
		"**Latency calibration**",
		"stdlib-b vs stdlib-a (same server): p99 no clear difference",
		"stdlib-b vs stdlib-a (same server): p90 ×",
		"(one request in 50 waits 5000 µs): p99 higher",
		"no runtime figures",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "NOT as expected") {
		t.Errorf("calibration failed on made-up data:\n%s", md)
	}
	// The p99 shown is that of all rounds' histograms added.
	all := newHist()
	for _, r := range rows {
		if r.Label != "stdlib-a" {
			continue
		}
		ivs, err := results.ReadIntervals(filepath.Join(dir, r.Hlog))
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range ivs {
			all.Merge(h)
		}
	}
	if want := fmt.Sprintf("| stdlib-a | 8 | 32,000 | %s [", fmtCount(float64(all.ValueAtQuantile(99)))); !strings.Contains(md, want) {
		t.Errorf("report lacks the merged p99 %q", want)
	}
	// Rates that differ by more than 1% are not paired.
	for i := range rows {
		if rows[i].Label == "stdlib-b" {
			rows[i].Rate = 2100
		}
	}
	bs, _ = tailBlocks(dir, rows, "stdlib-a")
	if md := mdOf(bs); !strings.Contains(md, "1 configurations are not compared with stdlib-a") || strings.Contains(md, "stdlib-b: p99") {
		t.Errorf("unequal rates paired:\n%s", md)
	}
}

// TestP90Check: the A/A check at p90 passes with its interval inside
// calibrationBounds and fails with either end outside; without a p90
// ratio there is no check.
func TestP90Check(t *testing.T) {
	tc := tailComparison{key: tailKey{}, label: "b", reference: "a"}
	if _, _, ok := tc.p90Check(); ok {
		t.Fatal("a check without a p90 ratio")
	}
	for _, c := range []struct {
		p90     [3]float64
		outcome string
	}{
		{[3]float64{0.97, 0.91, 1.05}, calExpected},
		{[3]float64{1, 0.85, 1.18}, calExpected},
		{[3]float64{1, 0.84, 1.10}, calNotExpected},
		{[3]float64{1, 0.90, 1.19}, calNotExpected},
	} {
		tc.p90 = c.p90
		line, outcome, ok := tc.p90Check()
		if !ok || outcome != c.outcome || !strings.Contains(line, fmt.Sprintf("b vs a (same server): p90 ×%.2f [%.2f, %.2f] — ", c.p90[0], c.p90[1], c.p90[2])) {
			t.Errorf("p90 %v: %q, %q, %v; want outcome %q", c.p90, line, outcome, ok, c.outcome)
		}
	}
}

func TestDelayHandicapParse(t *testing.T) {
	d, n := delayHandicap("server -backend stdlib -handicap-delay-us 2000 -handicap-delay-every 50 -addr x")
	if d != 2000 || n != 50 {
		t.Errorf("got %d %d", d, n)
	}
	if d, n := delayHandicap("server -backend stdlib"); d != 0 || n != 0 {
		t.Errorf("got %d %d, want zeros", d, n)
	}
}

// TestServerOf: labels running the same command are the same server, with
// or without a handicap; another backend or program is another server.
func TestServerOf(t *testing.T) {
	row := func(backend, cmd string) results.Row { return results.Row{Backend: backend, ServerCommand: cmd} }
	a := serverOf(row("cthreads-a", "cthreads -proto http -addr 127.0.0.1:0"))
	for _, same := range []results.Row{
		row("cthreads-b", "cthreads -proto http -addr 127.0.0.1:0"),
		row("cthreads-delay", "cthreads -proto http -addr 127.0.0.1:0 -handicap-delay-us 1000 -handicap-delay-every 50"),
		row("cthreads-cpu", "cthreads -proto http -handicap-cpu-us=3 -addr 127.0.0.1:0"),
	} {
		if got := serverOf(same); got != a {
			t.Errorf("serverOf(%q) = %q, want %q", same.ServerCommand, got, a)
		}
	}
	for _, other := range []results.Row{
		row("cepoll", "cepoll -proto http -addr 127.0.0.1:0"),
		row("stdlib", "server -backend stdlib -proto http -addr 127.0.0.1:0"),
		row("cthreads-a", ""),
	} {
		if got := serverOf(other); got == a {
			t.Errorf("serverOf(%q) = %q, the same as cthreads", other.ServerCommand, got)
		}
	}
	if got := serverOf(row("x", "")); got != "x" {
		t.Errorf("serverOf without a command = %q, want its Backend", got)
	}
}

// TestCommandFlag: a flag's value in each form Go's flag package and the C
// servers accept.
func TestCommandFlag(t *testing.T) {
	for _, cmd := range []string{
		"cthreads -proto http -handicap-delay-us 1000 -addr x",
		"cthreads -proto http -handicap-delay-us=1000 -addr x",
		"cthreads --handicap-delay-us 1000",
		"cthreads --handicap-delay-us=1000",
	} {
		if got := commandFlag(cmd, "-handicap-delay-us"); got != "1000" {
			t.Errorf("%q: %q, want 1000", cmd, got)
		}
	}
	for _, cmd := range []string{"cthreads -handicap-delay-usx 5", "cthreads handicap-delay-us 5", "cthreads -handicap-delay-us"} {
		if got := commandFlag(cmd, "-handicap-delay-us"); got != "" {
			t.Errorf("%q: %q, want none", cmd, got)
		}
	}
}

// Rows that differ only in handler time, mix, server CPU count or pipeline
// are different configurations: each gets its own tail cell, none
// replacing another's rounds.
func TestCollectTailsSeparatesConfigurations(t *testing.T) {
	dir := t.TempDir()
	writeHlog(t, filepath.Join(dir, "x.hlog"), newHist())
	base := results.Row{Rep: 1, Backend: "stdlib", Proto: "http", Workload: "delay", HandlerUs: new(int64(1000)),
		Conns: 64, Pipeline: 1, Rate: 2000, Status: results.StatusOK, Requests: 2000, RPS: 2000, Hlog: "x.hlog"}
	rows := []results.Row{base}
	for _, f := range []func(*results.Row){
		func(r *results.Row) { r.HandlerUs = new(int64(5000)) },
		func(r *results.Row) { r.Mix = "a:1,b:2" },
		func(r *results.Row) { r.ServerCPUCount = new(2) },
		func(r *results.Row) { r.Pipeline = 16 },
		func(r *results.Row) { r.Payload = 1024 },
		func(r *results.Row) { r.Payload = 1024; r.Proto = "h2" },
	} {
		r := base
		f(&r)
		rows = append(rows, r)
	}
	cells, skipped := collectTails(dir, rows)
	if len(skipped) > 0 {
		t.Fatalf("skipped: %v", skipped)
	}
	if len(cells) != len(rows) {
		t.Fatalf("%d cells from %d configurations", len(cells), len(rows))
	}
	seen := map[string]bool{}
	for _, c := range cells {
		if len(c.rows) != 1 {
			t.Errorf("%s: %d rounds, want 1", c.key, len(c.rows))
		}
		if seen[c.name] {
			t.Errorf("two cells named %q", c.name)
		}
		seen[c.name] = true
	}
	// The payload and the protocol are named only where they tell cells
	// apart.
	for _, want := range []string{
		"delay-1000us, 64 conns, 2,000 req/s, 0 B payload",
		"delay-1000us, 64 conns, 2,000 req/s, 1024 B payload, http",
		"delay-1000us, 64 conns, 2,000 req/s, 1024 B payload, h2",
		"delay-5000us, 64 conns, 2,000 req/s",
	} {
		if !seen[want] {
			t.Errorf("no cell named %q in %v", want, seen)
		}
	}
}

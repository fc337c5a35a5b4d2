package report

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/results"
)

// cpuRows is a closed-loop run along server_cpus 1, 2 and 4 for gnet and
// stdlib, three rounds each: gnet's throughput doubles with every
// doubling, stdlib's grows by half; each round used CPU in proportion.
func cpuRows() []results.Row {
	var rows []results.Row
	for rep := 1; rep <= 3; rep++ {
		for _, n := range []int{1, 2, 4} {
			for _, b := range []string{"gnet", "stdlib"} {
				rps := 100_000 * float64(n)
				if b == "stdlib" {
					rps = 50_000 * (1 + 0.5*float64(n-1))
				}
				rps += float64(rep-2) * 1000 // rounds 99,000, 100,000 and 101,000 at one CPU
				cpuS := 10 * float64(n)      // every server CPU busy for the 10 s window
				rows = append(rows, results.Row{
					RunID: "x", Cell: fmt.Sprintf("%s/http/plaintext/c64/p1/r0/b0/s%d", b, n), Rep: rep, Backend: b,
					Proto: "http", Workload: "plaintext", Conns: 64, Pipeline: 1, Status: results.StatusOK,
					DurationS: 10, Requests: uint64(rps * 10), RPS: rps, P50Us: 100, P90Us: 200, P99Us: 400, P999Us: 800,
					ServerCPUSeconds: new(cpuS), ReqPerServerCPUSecond: new(rps * 10 / cpuS),
					GOMAXPROCS: n, ServerCPUCount: new(n), StartTime: "2026-01-01T00:00:00Z",
				})
			}
		}
	}
	return rows
}

func TestCPUSeries(t *testing.T) {
	series := buildCPUSeries(cpuRows())
	if len(series) != 1 {
		t.Fatalf("%d series, want 1", len(series))
	}
	s := series[0]
	if got := s.key.title(); got != "http plaintext, pipeline 1, closed loop, 64 connections" {
		t.Errorf("title %q", got)
	}
	want := map[string][][3]float64{ // cpus, median req/s, median req per server CPU-s
		"gnet":   {{1, 100_000, 100_000}, {2, 200_000, 100_000}, {4, 400_000, 100_000}},
		"stdlib": {{1, 50_000, 50_000}, {2, 75_000, 37_500}, {4, 125_000, 31_250}},
	}
	for l, w := range want {
		pts := s.points[l]
		if len(pts) != len(w) {
			t.Fatalf("%s: %d points", l, len(pts))
		}
		for i, p := range pts {
			if float64(p.cpus) != w[i][0] || p.rps.median != w[i][1] || p.perCPU.median != w[i][2] || p.rps.n != 3 ||
				p.rps.max-p.rps.min != 2000 {
				t.Errorf("%s point %d: cpus %d, rps %+v, per CPU %+v; want %v", l, i, p.cpus, p.rps, p.perCPU, w[i])
			}
		}
	}
}

func TestReportServerCPUs(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, cpuRows()); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"## Against server CPUs\n",
		"### http plaintext, pipeline 1, closed loop, 64 connections\n",
		"| stdlib | 4 | 125,000 | 31,250 | 3 |\n",
		"| gnet | 2 | 200,000 | 100,000 | 3 |\n",
		"(plots/http-plaintext-p1-closed-c64-cpus-rps.png)",
		"(plots/http-plaintext-p1-closed-c64-cpus-per-cpu.png)",
		// The per-configuration sections keep the counts apart.
		"## http plaintext, pipeline 1, closed loop, 1 server CPU\n",
		"## http plaintext, pipeline 1, closed loop, 4 server CPUs\n",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, f := range []string{"rps", "per-cpu"} {
		for _, ext := range []string{".png", ".svg"} {
			checkPlotFile(t, filepath.Join(dir, "plots", "http-plaintext-p1-closed-c64-cpus-"+f+ext))
		}
	}
	// Verdicts pair gnet with stdlib at the same count only.
	verdicts, err := os.ReadFile(filepath.Join(dir, "verdicts.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"s1", "s2", "s4"} {
		if !strings.Contains(string(verdicts), "plaintext-"+n+",") {
			t.Errorf("verdicts.csv has no plaintext-%s rows:\n%s", n, verdicts)
		}
	}
}

func TestReportNoServerCPUsSection(t *testing.T) {
	rows := cpuRows()
	var one []results.Row
	for _, r := range rows {
		if *r.ServerCPUCount == 2 {
			one = append(one, r)
		}
	}
	dir := t.TempDir()
	if err := Write(dir, one); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(md), "Against server CPUs") {
		t.Error("a single server CPU count drew the section")
	}
}

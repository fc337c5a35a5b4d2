package report

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/results"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files under testdata")

// schedFixture is a small scheduling run: stdlib, gnet and gnet-pool at 64
// and 1024 connections, plaintext, a 1 ms wait, 50 µs of CPU and a 99:1
// mix, two repetitions each. gnet with the wait at 1024 connections mostly
// times out (failed rows that still measured); stdlib's wait cell at 64
// connections failed once without measuring (server crash).
func schedFixture() ([]results.Row, []results.EndpointRow) {
	var rows []results.Row
	var eps []results.EndpointRow
	type perf struct{ rps, p99 float64 }
	// base numbers per backend and workload at 64 connections; 1024
	// connections get 90% of the throughput and 10× the p99.
	table := map[string]map[string]perf{
		"stdlib":    {"plaintext": {40000, 900}, "delay": {36000, 3000}, "cpu": {15000, 9000}, "mix": {30000, 2500}},
		"gnet":      {"plaintext": {60000, 600}, "delay": {950, 70000}, "cpu": {17000, 5000}, "mix": {9000, 12000}},
		"gnet-pool": {"plaintext": {55000, 700}, "delay": {30000, 4000}, "cpu": {14000, 8000}, "mix": {25000, 3000}},
	}
	mix := "/plaintext:99,/cpu?us=1000:1"
	for rep := 1; rep <= 2; rep++ {
		for _, b := range []string{"gnet", "gnet-pool", "stdlib"} {
			for _, wl := range []string{"plaintext", "delay", "cpu", "mix"} {
				for _, c := range []int{64, 1024} {
					pf := table[b][wl]
					if c == 1024 {
						pf.rps, pf.p99 = pf.rps*0.9, pf.p99*10
					}
					spread := 1 + 0.02*float64(rep-1) // rep 2 is 2% faster
					r := results.Row{
						RunID: "sched1", Cell: fmt.Sprintf("%s/http/%s/c%d", b, wl, c), Rep: rep, Backend: b,
						Proto: "http", Workload: wl, Conns: c, Pipeline: 1, Status: results.StatusOK,
						DurationS: 3, RPS: pf.rps * spread, Requests: uint64(3 * pf.rps * spread), P99Us: int64(pf.p99),
						GOMAXPROCS: 1,
					}
					if b == "stdlib" || b == "gnet-pool" {
						r.SchedLatencyP99Us, r.GCPauseP99Us = new(pf.p99/10), new(float64(40))
					}
					switch wl {
					case "delay":
						r.HandlerUs = new(int64(1000))
					case "cpu":
						r.HandlerUs = new(int64(50))
					case "mix":
						r.Mix, r.Seed = mix, new(uint64(rep))
						cheapP99 := int64(pf.p99 * 0.8)
						eps = append(eps,
							results.EndpointRow{RunID: "sched1", Cell: r.Cell, Rep: rep, Backend: b, Workload: wl, Conns: c,
								Path: "/plaintext", Weight: 99, Requests: r.Requests * 99 / 100, P99Us: cheapP99},
							results.EndpointRow{RunID: "sched1", Cell: r.Cell, Rep: rep, Backend: b, Workload: wl, Conns: c,
								Path: "/cpu?us=1000", Weight: 1, Requests: r.Requests / 100, P99Us: int64(pf.p99 * 3)})
					}
					if b == "gnet" && wl == "delay" && c == 1024 {
						r.Status, r.Reason = results.StatusFailed, "more than 1% of requests failed; 24000 errors (timeout=24000)"
						r.Errors = 8 * r.Requests
					}
					if b == "stdlib" && wl == "delay" && c == 64 && rep == 2 {
						r = results.Row{RunID: "sched1", Cell: r.Cell, Rep: rep, Backend: b, Proto: "http", Workload: wl, Conns: c,
							Pipeline: 1, HandlerUs: r.HandlerUs, Status: results.StatusFailed, Reason: "server exited during the run"}
					}
					rows = append(rows, r)
				}
			}
		}
	}
	return rows, eps
}

// TestSchedulingText checks the section's sentences and table byte for
// byte against testdata/scheduling.golden.md (go test -update rewrites it).
func TestSchedulingText(t *testing.T) {
	rows, eps := schedFixture()
	bs, data := schedulingText(rows, eps)
	b := bytes.NewBufferString(mdOf(bs))
	if len(data) != 1 {
		t.Fatalf("%d regimes", len(data))
	}
	golden := filepath.Join("testdata", "scheduling.golden.md")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./results/report -run TestSchedulingText -update creates it)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("section differs from %s:\ngot:\n%s\nwant:\n%s", golden, b.Bytes(), want)
	}
	// What the golden file must say, whatever its wording.
	for _, s := range []string{
		"At 1,024 connections with a 1 ms wait per request, stdlib served the most",
		"gnet the least, 38× less: 864 req/s (p99 700 ms; 89% of requests failed; 2 of 2 repetitions failed)",
		"Handlers on the loop against a pool: gnet 864 req/s (p99 700 ms; 89% of requests failed; 2 of 2 repetitions failed), gnet-pool 27,270 req/s (p99 40 ms).",
		"The CPU bound is 20,000 req/s (1 server CPU ÷ 50 µs)",
		"the cheap /plaintext requests' p99 was lowest on stdlib",
		"| delay 1 ms | 64 |",
		"scheduling latency p99, runtime/metrics",
		"| plaintext | 1024 | – | sched 700 µs (GC pause 40 µs) | sched 900 µs (GC pause 40 µs) |",
	} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("section lacks %q", s)
		}
	}
}

// TestSchedulingOnlyWithItsWorkloads: a run without delay, cpu or mix
// rows gets no such section.
func TestSchedulingOnlyWithItsWorkloads(t *testing.T) {
	rows, _ := schedFixture()
	var plain []results.Row
	for _, r := range rows {
		if r.Workload == "plaintext" {
			plain = append(plain, r)
		}
	}
	if bs, err := schedulingBlocks(t.TempDir(), plain, newStyles(plain)); err != nil || len(bs) != 0 {
		t.Fatalf("err %v, section %q", err, mdOf(bs))
	}
}

// TestWriteScheduling writes a whole report from the fixture: the section
// is there with its plots, the failed gnet cells are in it with numbers.
func TestWriteScheduling(t *testing.T) {
	dir := t.TempDir()
	if *keepReport != "" {
		dir = *keepReport
	}
	rows, eps := schedFixture()
	w, _, err := results.OpenEndpoints(filepath.Join(dir, results.EndpointsFile), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(eps); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := Write(dir, rows); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"## Threads, goroutines or an event loop",
		"## http delay 1 ms, pipeline 1, closed loop",
		"## http cpu 50 µs, pipeline 1, closed loop",
		"| delay 1 ms | 1024 | 864 req/s, p99 700 ms (**89% err, 2/2 failed**) | 27,270 req/s, p99 40 ms |",
	} {
		if !strings.Contains(string(md), s) {
			t.Errorf("report lacks %q", s)
		}
	}
	for _, base := range []string{"sched1-wait-c64", "sched1-wait-c1024", "sched1-cpu-c1024", "sched1-mix1-cheap-p99"} {
		for _, ext := range []string{".png", ".svg"} {
			if _, err := os.Stat(filepath.Join(dir, "plots", base+ext)); err != nil {
				t.Error(err)
			}
		}
		if !strings.Contains(string(md), "(plots/"+base+".png)") {
			t.Errorf("report does not show %s", base)
		}
	}
}

// TestSchedulingNothingCompleted: cells where no request completed read
// as such, with no p99 of 0 and no "served the most".
func TestSchedulingNothingCompleted(t *testing.T) {
	var rows []results.Row
	for _, b := range []string{"gnet", "stdlib"} {
		rows = append(rows,
			results.Row{Backend: b, Proto: "http", Workload: "plaintext", Conns: 8, Pipeline: 1, Status: results.StatusOK, DurationS: 1, RPS: 1000, Requests: 1000, P99Us: 500},
			results.Row{Backend: b, Proto: "http", Workload: "delay", HandlerUs: new(int64(1000)), Conns: 8, Pipeline: 1, Status: results.StatusFailed, DurationS: 1, Errors: 50})
	}
	bs, _ := schedulingText(rows, nil)
	b := bytes.NewBufferString(mdOf(bs))
	want := "- At 8 connections with a 1 ms wait per request, no backend completed requests: gnet 0 req/s (no request completed; 100% of requests failed; 1 of 1 repetitions failed), stdlib 0 req/s (no request completed; 100% of requests failed; 1 of 1 repetitions failed)."
	if !strings.Contains(b.String(), want) || strings.Contains(b.String(), "p99 0 µs") {
		t.Fatalf("section:\n%s", b.String())
	}
}

// TestHeaviestEndpointsByAttempt: a re-run's endpoint rows stand beside
// the first attempt's; each attempt keeps its own cheap requests.
func TestHeaviestEndpointsByAttempt(t *testing.T) {
	eps := []results.EndpointRow{
		{Cell: "c", Rep: 1, Attempt: 1, Path: "/plaintext", Weight: 99, P99Us: 5000},
		{Cell: "c", Rep: 1, Attempt: 1, Path: "/cpu", Weight: 1, P99Us: 9000},
		{Cell: "c", Rep: 1, Attempt: 2, Path: "/plaintext", Weight: 99, P99Us: 900},
		{Cell: "c", Rep: 1, Attempt: 2, Path: "/cpu", Weight: 1, P99Us: 2000},
		{Cell: "old", Rep: 1, Path: "/plaintext", Weight: 9, P99Us: 700}, // before the attempt column
	}
	cheap := heaviestEndpoints(eps)
	rerun := results.Row{Cell: "c", Rep: 1, Attempt: 2}
	old := results.Row{Cell: "old", Rep: 1}
	if len(cheap) != 3 || cheap[schedRep{"c", 1, rerun.AttemptOf()}].P99Us != 900 || cheap[schedRep{"old", 1, old.AttemptOf()}].P99Us != 700 {
		t.Fatalf("cheap %+v", cheap)
	}
}

// TestWriteSchedulingFailedAtZero: a repetition that failed with 0 req/s
// beside one that measured draws a bar down to the log axis' floor
// instead of refusing to plot (it once panicked in gonum's log scale).
func TestWriteSchedulingFailedAtZero(t *testing.T) {
	var rows []results.Row
	for _, b := range []string{"gnet", "stdlib"} {
		rows = append(rows,
			results.Row{Backend: b, Proto: "http", Workload: "plaintext", Conns: 8, Pipeline: 1, Rep: 1, Status: results.StatusOK, DurationS: 1, RPS: 1000, Requests: 1000, P99Us: 500},
			results.Row{Backend: b, Proto: "http", Workload: "cpu", HandlerUs: new(int64(50)), Conns: 8, Pipeline: 1, Rep: 1, Status: results.StatusOK, DurationS: 1, RPS: 900, Requests: 900, P99Us: 600},
			results.Row{Backend: b, Proto: "http", Workload: "cpu", HandlerUs: new(int64(50)), Conns: 8, Pipeline: 1, Rep: 2, Status: results.StatusFailed, DurationS: 1, RPS: 0, Errors: 50})
	}
	dir := t.TempDir()
	if err := Write(dir, rows); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "plots", "sched1-cpu-c8.png")); err != nil {
		t.Fatal(err)
	}
}

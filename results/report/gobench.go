package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"

	"github.com/asyncbench/asyncbench/results"
)

// benchName returns the Go benchmark name of r's cell, built only from its
// backend and configuration so that repetitions and other runs of the same
// cell share it: a rate given as a share of capacity is named by the share
// ("rate=25pct"). The -N suffix is the server's GOMAXPROCS.
func benchName(r results.Row) string {
	procs := r.GOMAXPROCS
	if procs < 1 {
		procs = 1
	}
	c := configOf(r)
	rate := strconv.FormatFloat(c.rate, 'f', -1, 64)
	if c.fraction > 0 {
		rate = strconv.FormatFloat(100*c.fraction, 'f', -1, 64) + "pct"
	}
	return fmt.Sprintf("BenchmarkCell/backend=%s/proto=%s/workload=%s/conns=%d/pipeline=%d/rate=%s/payload=%d-%d",
		r.Backend, c.proto, c.workloadID(), c.conns, c.pipeline, rate, c.payload, procs)
}

// Units of WriteGoBench, with the direction that is better. Latency and
// CPU time carry the "ns" unit so that benchstat scales them (to µs, ms…);
// memory carries "B".
var goBenchUnits = []struct{ unit, better string }{
	{"req/s", "higher"},
	{"p50-ns", "lower"},
	{"p99-ns", "lower"},
	{"server-cpu-ns/req", "lower"},
	{"rss-peak-B", "lower"},
}

// WriteGoBench writes rows in the Go benchmark format, one result line per
// ok row with its request count as iterations, so that benchstat can
// compare two runs: throughput (req/s), latency (p50-ns, p99-ns) and, when
// measured, server CPU time per request and peak RSS. Failed and saturated
// rows are left out. Unit lines tell benchstat which direction is better.
func WriteGoBench(w io.Writer, rows []results.Row) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "goos: linux")
	fmt.Fprintln(bw, "pkg: github.com/asyncbench/asyncbench")
	for _, u := range goBenchUnits {
		fmt.Fprintf(bw, "Unit %s better=%s\n", u.unit, u.better)
	}
	cpu := ""
	for _, r := range rows {
		if !r.Status.Counts() || r.Requests == 0 {
			continue
		}
		if r.CPUModel != "" && r.CPUModel != cpu {
			cpu = r.CPUModel
			fmt.Fprintf(bw, "cpu: %s\n", cpu)
		}
		fmt.Fprintf(bw, "%s\t%d\t%s req/s\t%d p50-ns\t%d p99-ns", benchName(r), r.Requests,
			strconv.FormatFloat(r.RPS, 'f', 1, 64), r.P50Us*1000, r.P99Us*1000)
		if cpuS, ok := results.Value(r.ServerCPUSeconds); ok {
			fmt.Fprintf(bw, "\t%s server-cpu-ns/req", strconv.FormatFloat(cpuS*1e9/float64(r.Requests), 'f', 1, 64))
		}
		if kib, ok := results.Value(r.RSSPeakKiB); ok {
			fmt.Fprintf(bw, "\t%d rss-peak-B", kib*1024)
		}
		fmt.Fprintln(bw)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write go bench: %w", err)
	}
	return nil
}

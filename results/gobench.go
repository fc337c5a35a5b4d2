package results

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// BenchName returns the Go benchmark name of r's cell, built only from its
// configuration so that repetitions and other runs of the same cell share
// it. The -N suffix is the server's GOMAXPROCS.
func BenchName(r Row) string {
	procs := r.GOMAXPROCS
	if procs < 1 {
		procs = 1
	}
	return fmt.Sprintf("BenchmarkCell/backend=%s/proto=%s/workload=%s/conns=%d/pipeline=%d/rate=%s/payload=%d-%d",
		r.Backend, r.Proto, r.Workload, r.Conns, r.Pipeline,
		strconv.FormatFloat(r.Rate, 'f', -1, 64), r.Payload, procs)
}

// WriteGoBench writes rows in the Go benchmark format, one result line per
// ok row with its request count as iterations and the units ns/op (wall
// time per request), req/s, p99-us and, when known, req/server-cpu-s, so
// that benchstat can compare two runs. Failed and saturated rows are left
// out. Unit lines tell benchstat which direction is better.
func WriteGoBench(w io.Writer, rows []Row) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "goos: linux")
	fmt.Fprintln(bw, "pkg: github.com/asyncbench/asyncbench")
	fmt.Fprintln(bw, "Unit req/s better=higher")
	fmt.Fprintln(bw, "Unit req/server-cpu-s better=higher")
	fmt.Fprintln(bw, "Unit p99-us better=lower")
	cpu := ""
	for _, r := range rows {
		if r.Status != StatusOK || r.Requests == 0 || r.DurationS <= 0 {
			continue
		}
		if r.CPUModel != "" && r.CPUModel != cpu {
			cpu = r.CPUModel
			fmt.Fprintf(bw, "cpu: %s\n", cpu)
		}
		nsPerOp := r.DurationS * 1e9 / float64(r.Requests)
		fmt.Fprintf(bw, "%s\t%d\t%s ns/op\t%s req/s\t%d p99-us",
			BenchName(r), r.Requests, strconv.FormatFloat(nsPerOp, 'f', 2, 64),
			strconv.FormatFloat(r.RPS, 'f', 1, 64), r.P99us)
		if r.ReqPerServerCPU > 0 {
			fmt.Fprintf(bw, "\t%s req/server-cpu-s", strconv.FormatFloat(r.ReqPerServerCPU, 'f', 1, 64))
		}
		fmt.Fprintln(bw)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write go bench: %w", err)
	}
	return nil
}

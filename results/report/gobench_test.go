package report

import (
	"bytes"
	"testing"

	"github.com/asyncbench/asyncbench/results"
)

func TestWriteGoBench(t *testing.T) {
	rows := []results.Row{
		{Backend: "gnet", Proto: "http", Workload: "plaintext", Conns: 64, Pipeline: 1, GOMAXPROCS: 1,
			Status: results.StatusOK, DurationS: 10, Requests: 1_000_000, RPS: 100000, P99Us: 950,
			ServerCPUSeconds: new(9.5), RSSPeakKiB: new(int64(9000)), CPUModel: "Test CPU"},
		{Backend: "stdlib", Proto: "echo", Workload: "echo", Conns: 8, Pipeline: 16, Rate: 2500.5, Payload: 64,
			Status: results.StatusOK, DurationS: 4, Requests: 10002, RPS: 2500.5, P99Us: 120},
		{Backend: "fasthttp", Status: results.StatusFailed},
		{Backend: "gnet", Status: results.StatusSaturated, DurationS: 1, Requests: 5},
	}
	var buf bytes.Buffer
	if err := WriteGoBench(&buf, rows); err != nil {
		t.Fatal(err)
	}
	want := "goos: linux\n" +
		"pkg: github.com/asyncbench/asyncbench\n" +
		"Unit req/s better=higher\n" +
		"Unit p50-ns better=lower\n" +
		"Unit p99-ns better=lower\n" +
		"Unit server-cpu-ns/req better=lower\n" +
		"Unit rss-peak-B better=lower\n" +
		"cpu: Test CPU\n" +
		"BenchmarkCell/backend=gnet/proto=http/workload=plaintext/conns=64/pipeline=1/rate=0/payload=0-1\t1000000\t100000.0 req/s\t0 p50-ns\t950000 p99-ns\t9500.0 server-cpu-ns/req\t9216000 rss-peak-B\n" +
		"BenchmarkCell/backend=stdlib/proto=echo/workload=echo/conns=8/pipeline=16/rate=2500.5/payload=64-1\t10002\t2500.5 req/s\t0 p50-ns\t120000 p99-ns\n"
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestBenchNameWorkloadParams: cells that differ only in the handler time
// or the mix get different benchmark names.
func TestBenchNameWorkloadParams(t *testing.T) {
	a := results.Row{Backend: "gnet", Proto: "http", Workload: "delay", HandlerUs: new(int64(1000)), Conns: 64, Pipeline: 1, GOMAXPROCS: 1}
	b := a
	b.HandlerUs = new(int64(50))
	m1 := results.Row{Backend: "gnet", Proto: "http", Workload: "mix", Mix: "/a:1,/b:2", Conns: 64, Pipeline: 1}
	m2 := m1
	m2.Mix = "/a:1,/b:3"
	if benchName(a) == benchName(b) || benchName(m1) == benchName(m2) {
		t.Fatalf("names collide: %s %s %s %s", benchName(a), benchName(b), benchName(m1), benchName(m2))
	}
	if want := "BenchmarkCell/backend=gnet/proto=http/workload=delay-1000us/conns=64/pipeline=1/rate=0/payload=0-1"; benchName(a) != want {
		t.Fatalf("name %s, want %s", benchName(a), want)
	}
}

// Rounds of a cell whose rate is a share of capacity resolve to different
// rates; they share one benchmark name, named by the share.
func TestBenchNameRateFraction(t *testing.T) {
	a := results.Row{Backend: "gnet", Proto: "http", Workload: "plaintext", Conns: 64, Pipeline: 1, Rate: 41000, RateFraction: new(0.25), GOMAXPROCS: 2}
	b := a
	b.Rate = 43500
	want := "BenchmarkCell/backend=gnet/proto=http/workload=plaintext/conns=64/pipeline=1/rate=25pct/payload=0-2"
	if benchName(a) != want || benchName(b) != want {
		t.Fatalf("names %s and %s, want %s", benchName(a), benchName(b), want)
	}
}

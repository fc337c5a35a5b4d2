package results

import (
	"bytes"
	"testing"
)

func TestWriteGoBench(t *testing.T) {
	rows := []Row{
		{Backend: "gnet", Proto: "http", Workload: "plaintext", Conns: 64, Pipeline: 1, GOMAXPROCS: 1,
			Status: StatusOK, DurationS: 10, Requests: 1_000_000, RPS: 100000, P99us: 950,
			ReqPerServerCPU: 105263.2, CPUModel: "Test CPU"},
		{Backend: "stdlib", Proto: "echo", Workload: "echo", Conns: 8, Pipeline: 16, Rate: 2500.5, Payload: 64,
			Status: StatusOK, DurationS: 4, Requests: 10002, RPS: 2500.5, P99us: 120},
		{Backend: "fasthttp", Status: StatusFailed},
		{Backend: "gnet", Status: StatusSaturated, DurationS: 1, Requests: 5},
	}
	var buf bytes.Buffer
	if err := WriteGoBench(&buf, rows); err != nil {
		t.Fatal(err)
	}
	want := "goos: linux\n" +
		"pkg: github.com/asyncbench/asyncbench\n" +
		"Unit req/s better=higher\n" +
		"Unit req/server-cpu-s better=higher\n" +
		"Unit p99-us better=lower\n" +
		"cpu: Test CPU\n" +
		"BenchmarkCell/backend=gnet/proto=http/workload=plaintext/conns=64/pipeline=1/rate=0/payload=0-1\t1000000\t10000.00 ns/op\t100000.0 req/s\t950 p99-us\t105263.2 req/server-cpu-s\n" +
		"BenchmarkCell/backend=stdlib/proto=echo/workload=echo/conns=8/pipeline=16/rate=2500.5/payload=64-1\t10002\t399920.02 ns/op\t2500.5 req/s\t120 p99-us\n"
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

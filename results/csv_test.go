package results

import (
	"bytes"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

// sampleRows are fixed rows that exercise every column kind.
func sampleRows() []Row {
	return []Row{
		{
			RunID: "r1", Cell: "gnet/http/plaintext/c64/p1", Rep: 1, Backend: "gnet", Proto: "http",
			Workload: "plaintext", Conns: 64, Pipeline: 1, Rate: 0, Payload: 0, Status: StatusOK,
			DurationS: 10, Requests: 1234567, RPS: 123456.7, P50Us: 210, P90Us: 380, P99Us: 950,
			P999Us: 2100, MaxUs: 15023, MeanUs: 251.25, Errors: 0, Saturated: false,
			RSSIdleKiB: new(int64(6000)), RSSPeakKiB: new(int64(9000)), RSSMeanKiB: new(int64(8500)), RSSPerConnBytes: new(int64(48000)),
			ServerCPUSeconds: new(9.5), ReqPerServerCPUSecond: new(129954.4210526316), CtxSwitches: new(uint64(4242)), ThreadsPeak: new(5),
			GeneratorCPUSeconds: new(9.9), ReqPerGeneratorCPUSecond: new(124703.7373737374), GoVersion: "go1.26.0", Kernel: "6.8.0-45-generic",
			CPUModel: "AMD EPYC 7B13, 2 cores", GOMAXPROCS: 1, ServerCPUSet: "0", GeneratorCPUSet: "1",
			Commit: "abc1234", Plan: "quick", StartTime: "2025-01-01T00:00:00Z", Hlog: "hlog/gnet-c64-rep1.hlog",
			HostStealPct: new(0.25), HostOtherCPUPct: new(1.5), QuietWaitS: new(1.0), ServerCPUPct: new(97.5),
			GeneratorCPUPct: new(88.0), Bottleneck: "server", Label: "gnet-a", HostCPUs: new(2),
			ServerCommand: "server -backend gnet -proto http -addr 127.0.0.1:0", ServerSHA256: "0123456789ab", ServerEnv: "GOGC=off GOMAXPROCS=1", Attempt: 2, ServerCPUCount: new(1),
			HostStallP99Us: new(int64(180)), HostStallMaxUs: new(int64(1200)),
		},
		{
			RunID: "r1", Cell: "stdlib/http/plaintext/c64/p1/r5000", Rep: 2, Backend: "stdlib", Proto: "http",
			Workload: "plaintext", Conns: 64, Pipeline: 1, Rate: 5000.5, RateFraction: new(0.5), Status: StatusSaturated,
			Reason: "send lag p99 \"12ms\", over budget\nsee log", DurationS: 10, Requests: 49000, RPS: 4900,
			UncorrectedP99Us: new(int64(800)), SendLagP99Us: new(int64(12000)), Saturated: true, StartTime: "2025-01-01T00:01:00Z",
		},
		{RunID: "r1", Cell: "fasthttp/echo/echo/c1/p1", Backend: "fasthttp", Proto: "echo", Status: StatusFailed, Reason: "backend fasthttp: unsupported protocol"},
		{
			RunID: "r1", Cell: "gnet/http/delay-0us/c64/p1/r0/b0", Rep: 1, Backend: "gnet", Proto: "http",
			Workload: "delay", Conns: 64, Pipeline: 1, Status: StatusOK, HandlerUs: new(int64(0)),
		},
		{
			RunID: "r1", Cell: "gnet/http/mix-x/c64/p1/r0/b0", Rep: 3, Backend: "gnet", Proto: "http",
			Workload: "mix", Conns: 64, Pipeline: 1, Status: StatusFailed, Reason: "timeouts",
			Mix: "/plaintext:99,/cpu?us=1000:1", Seed: new(uint64(3)),
		},
		{
			RunID: "r1", Cell: "threads/http/idle/c1000/p1/r0/b0", Rep: 1, Backend: "threads", Proto: "http",
			Workload: "idle", Conns: 1000, Pipeline: 1, Status: StatusOK, RSSPerConnBytes: new(int64(10240)),
			VmPTEKiB: new(int64(2048)), KernelStackKiB: new(int64(16080)), SocketKiB: new(2500.5),
			KernelPerConnBytes: new(int64(21000)), TotalPerConnBytes: new(int64(31240)),
		},
	}
}

func writeAll(t *testing.T, rows []Row) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewCSVWriter(&buf)
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestHeader(t *testing.T) {
	h := Header()
	if got, want := len(h), reflect.TypeFor[Row]().NumField(); got != want {
		t.Fatalf("Header has %d columns, Row has %d fields", got, want)
	}
	// hlog was the last column of the first published schema; later
	// columns are appended after it.
	if h[0] != "run_id" || h[44] != "hlog" || h[14] != "rps" || h[61] != "rate_fraction" || h[70] != "attempt" || h[71] != "server_cpu_count" || h[len(h)-1] != "host_stall_max_us" {
		t.Errorf("unexpected order: first %q, rps at 14 is %q, rate_fraction at 61 is %q, last %q", h[0], h[14], h[61], h[len(h)-1])
	}
	seen := map[string]bool{}
	for _, name := range h {
		if seen[name] {
			t.Errorf("duplicate column %q", name)
		}
		seen[name] = true
	}
}

func TestCSVGolden(t *testing.T) {
	got := writeAll(t, sampleRows())
	golden := filepath.Join("testdata", "summary.golden.csv")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./results -run TestCSVGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("CSV differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}

func TestCSVRoundTrip(t *testing.T) {
	rows := sampleRows()
	got, err := ReadCSV(bytes.NewReader(writeAll(t, rows)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rows) {
		t.Errorf("round trip changed rows:\ngot  %+v\nwant %+v", got, rows)
	}
}

func TestReadCSVToleratesSchemaDrift(t *testing.T) {
	// A newer file: an unknown column in the middle and one at the end;
	// an older file: the trailing columns from host_cpus on missing.
	in := "run_id,future_a,cell,rps,status,future_b\n" +
		"r9,x,c1,1.5,ok,y\n" +
		"r9,x,c2,,failed,y\n"
	rows, err := ReadCSV(strings.NewReader(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{
		{RunID: "r9", Cell: "c1", RPS: 1.5, Status: StatusOK},
		{RunID: "r9", Cell: "c2", Status: StatusFailed},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("got %+v, want %+v", rows, want)
	}

	full := string(writeAll(t, sampleRows()[:1]))
	lines := strings.SplitN(full, "\n", 3)
	cut := func(s string) string { return s[:strings.LastIndexByte(s, ',')] }
	// Cut every column from host_cpus on (the last ones hold no commas).
	fromHostCPUs := len(Header()) - slices.Index(Header(), "host_cpus")
	cutOld := func(s string) string {
		for range fromHostCPUs {
			s = cut(s)
		}
		return s
	}
	older := cutOld(lines[0]) + "\n" + cutOld(lines[1]) + "\n"
	rows, err = ReadCSV(strings.NewReader(older), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantRow := sampleRows()[0]
	wantRow.HostCPUs, wantRow.Attempt, wantRow.ServerCPUCount = nil, 0, nil
	wantRow.HostStallP99Us, wantRow.HostStallMaxUs = nil, nil
	wantRow.ServerCommand, wantRow.ServerSHA256, wantRow.ServerEnv = "", "", ""
	if len(rows) != 1 || !reflect.DeepEqual(rows[0], wantRow) {
		t.Errorf("older schema: got %+v, want %+v", rows, wantRow)
	}
}

func TestReadCSVErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"bad int", "cell,conns\nc1,lots\n", "line 2 column conns"},
		{"bad bool", "cell,saturated\nc1,maybe\n", "column saturated"},
		{"duplicate column", "cell,cell\n", `duplicate column "cell"`},
		{"foreign file", "a,b\n1,2\n", "not a summary CSV"},
		{"bad quote", "cell\n\"c1\n", "read csv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tt.in), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if rows, err := ReadCSV(strings.NewReader(""), nil); err != nil || rows != nil {
		t.Errorf("empty input: %v, %v", rows, err)
	}
}

func TestOpenCSVAppendsAndResumes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.csv")
	rows := sampleRows()[:3]

	w, existing, err := OpenCSV(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(existing) != 0 {
		t.Fatalf("new file has %d rows", len(existing))
	}
	for _, r := range rows[:2] {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	w, existing, err = OpenCSV(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(existing, rows[:2]) {
		t.Fatalf("resume read %+v", existing)
	}
	if err := w.Write(rows[2]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, writeAll(t, rows)) {
		t.Errorf("file after append differs from one continuous write:\n%s", data)
	}
}

func TestOpenCSVCutsPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.csv")
	whole := writeAll(t, sampleRows()[:1])
	if err := os.WriteFile(path, append(bytes.Clone(whole), "r1,half-a-row,3"...), 0o644); err != nil {
		t.Fatal(err)
	}
	w, rows, err := OpenCSV(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if len(rows) != 1 {
		t.Errorf("got %d rows, want 1", len(rows))
	}
	data, _ := os.ReadFile(path)
	if !bytes.Equal(data, whole) {
		t.Errorf("partial line not cut:\n%s", data)
	}
}

func TestOpenCSVUpgradesOlderSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.csv")
	h := Header()
	older := strings.Join(h[:len(h)-1], ",") + "\nr0,c0" + strings.Repeat(",", len(h)-3) + "\n"
	if err := os.WriteFile(path, []byte(older), 0o644); err != nil {
		t.Fatal(err)
	}
	w, rows, err := OpenCSV(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].RunID != "r0" || rows[0].Cell != "c0" {
		t.Fatalf("rows = %+v", rows)
	}
	if err := w.Write(Row{RunID: "r0", Cell: "c1", Hlog: "x.hlog"}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	f, _ := os.Open(path)
	defer f.Close()
	hdr, all, err := rowTable.read(f, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(hdr, ",") != strings.Join(h, ",") || len(all) != 2 || all[1].Hlog != "x.hlog" {
		t.Errorf("after upgrade: header %v, rows %+v", hdr, all)
	}
}

func TestOpenCSVRejectsForeignHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.csv")
	if err := os.WriteFile(path, []byte("run_id,cell,something_else\nr,c,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenCSV(path, nil); err == nil || !strings.Contains(err.Error(), "header does not match") {
		t.Errorf("err = %v", err)
	}
}

// TestReadCSVDropsTornLastLine: a run killed while writing its last row
// leaves a line cut inside a field; read as a row it looked like an ok
// cell with rps 999 and p99 0.
func TestReadCSVDropsTornLastLine(t *testing.T) {
	rows := sampleRows()
	whole := writeAll(t, rows)
	lastStart := bytes.LastIndexByte(whole[:len(whole)-1], '\n') + 1
	rec := rows[len(rows)-1].Record()
	rpsAt := lastStart + len(strings.Join(rec[:indexOf(t, "rps")], ",")) + 1
	tests := []struct {
		name string
		in   []byte
	}{
		{"cut inside rps, no newline", append(whole[:rpsAt:rpsAt], "999"...)},
		{"cut inside rps, with newline", append(whole[:rpsAt:rpsAt], "999\n"...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warn bytes.Buffer
			got, err := ReadCSV(bytes.NewReader(tt.in), &warn)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(rows)-1 {
				t.Fatalf("read %d rows, want %d (torn line dropped)", len(got), len(rows)-1)
			}
			if !strings.Contains(warn.String(), "partial last line") {
				t.Errorf("warning = %q, want one about the partial last line", warn.String())
			}
		})
	}
}

func TestReadCSVSkipsNonFinite(t *testing.T) {
	rows := sampleRows()
	rows[0].RPS = math.NaN()
	rows[1].MeanUs = math.Inf(1)
	var warn bytes.Buffer
	got, err := ReadCSV(bytes.NewReader(writeAll(t, rows)), &warn)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows)-2 {
		t.Errorf("read %d rows, want %d", len(got), len(rows)-2)
	}
	if !strings.Contains(warn.String(), "rps is not a finite number") || !strings.Contains(warn.String(), "mean_us") {
		t.Errorf("warnings = %q", warn.String())
	}
}

func TestOpenCSVRemovesTornLineWithNewline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.csv")
	rows := sampleRows()
	whole := writeAll(t, rows)
	torn := append(whole[:len(whole):len(whole)], "r1,cell,1,gnet\n"...)
	if err := os.WriteFile(path, torn, 0o644); err != nil {
		t.Fatal(err)
	}
	w, got, err := OpenCSV(path, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rows[0]); err != nil {
		t.Fatal(err)
	}
	w.Close()
	data, _ := os.ReadFile(path)
	all, err := ReadCSV(bytes.NewReader(data), nil)
	if err != nil || len(got) != len(rows) || len(all) != len(rows)+1 {
		t.Errorf("got %d prior rows, %d after append, err %v", len(got), len(all), err)
	}
}

func indexOf(t *testing.T, col string) int {
	for i, h := range Header() {
		if h == col {
			return i
		}
	}
	t.Fatalf("no column %s", col)
	return 0
}

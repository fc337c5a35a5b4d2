package runner

import (
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/results"
)

func TestFillRow(t *testing.T) {
	s := summary.Summary{
		Requests: 120000, DurationSeconds: 2, RPS: 60000, Errors: 3,
		ErrorKinds:          map[string]uint64{"read": 2, "connect": 1, "timeout": 0},
		Latency:             summary.Percentiles{P50: 100, P90: 200, P99: 900, P999: 2000, Max: 5000, Mean: 123.5},
		Uncorrected:         &summary.Percentiles{P99: 700},
		SendLag:             &summary.LagPercentiles{P99: 40},
		GeneratorCPUSeconds: 0.8,
		Server: &summary.ServerStats{RSSIdleKiB: 8000, RSSPeakKiB: 10048, RSSMeanKiB: 9000,
			CPUSeconds: 1.5, CtxSwitches: 77, ThreadsPeak: 9},
	}
	r := results.Row{Conns: 64}
	fillRow(&r, &s)
	checks := []struct {
		name      string
		got, want any
	}{
		{"rss per conn", r.RSSPerConnBytes, int64(2048 * 1024 / 64)},
		{"req per server cpu", r.ReqPerServerCPU, 80000.0},
		{"req per gen cpu", r.ReqPerGenCPU, 150000.0},
		{"p99", r.P99us, int64(900)},
		{"uncorrected p99", r.UncorrP99, int64(700)},
		{"send lag p99", r.SendLagP99, int64(40)},
		{"mean", r.MeanUs, 123.5},
		{"status", r.Status, results.StatusOK},
		{"reason", r.Reason, "3 errors (connect=1 read=2)"},
		{"threads", r.ThreadsPeak, 9},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name       string
		s          summary.Summary
		want, text string
	}{
		{"ok", summary.Summary{Requests: 10}, results.StatusOK, ""},
		{"nothing", summary.Summary{Errors: 5}, results.StatusFailed, "no requests completed; 5 errors"},
		{"errors at 1%", summary.Summary{Requests: 99, Errors: 1}, results.StatusOK, "1 errors"},
		{"errors over 1%", summary.Summary{Requests: 98, Errors: 2}, results.StatusFailed, "2 errors"},
		{"saturated", summary.Summary{Requests: 10, Saturated: true, SaturatedReason: "send lag p99 5ms"}, results.StatusSaturated, "send lag p99 5ms"},
		{"saturated no reason", summary.Summary{Requests: 10, Saturated: true}, results.StatusSaturated, "generator fell behind"},
		{"server exited", summary.Summary{Requests: 10, StopReason: "server_exited"}, results.StatusFailed, "server exited"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, reason := status(&tt.s)
			if st != tt.want || !strings.HasPrefix(reason, tt.text) {
				t.Fatalf("status = %s %q, want %s %q…", st, reason, tt.want, tt.text)
			}
		})
	}
}

func TestRSSPerConnAndPerCPU(t *testing.T) {
	if got := rssPerConn(2000, 1000, 0); got != 0 {
		t.Errorf("rssPerConn with 0 conns = %d", got)
	}
	if got := rssPerConn(1000, 1100, 100); got != -1024 {
		t.Errorf("rssPerConn shrinking = %d, want -1024", got)
	}
	if got := perCPU(100, 0); got != 0 {
		t.Errorf("perCPU with 0 CPU = %v", got)
	}
}

func TestCompletedAndLatest(t *testing.T) {
	rows := []results.Row{
		{Cell: "a", Rep: 1, Status: "ok"},
		{Cell: "b", Rep: 1, Status: "failed"},
		{Cell: "c", Rep: 1, Status: "saturated"},
		{Cell: "a", Rep: 2, Status: "failed"},
		{Cell: "b", Rep: 1, Status: "ok", RPS: 7},
		{Cell: "a", Rep: 2, Status: "failed", Reason: "again"},
	}
	done := Completed(rows)
	for id, want := range map[string]bool{"a#1": true, "b#1": true, "c#1": true, "a#2": false} {
		if done[id] != want {
			t.Errorf("Completed[%s] = %v, want %v", id, done[id], want)
		}
	}
	latest := Latest(rows)
	var got []string
	for _, r := range latest {
		got = append(got, rowID(r.Cell, r.Rep)+":"+r.Status+r.Reason)
	}
	if want := "a#1:ok b#1:ok c#1:saturated a#2:failedagain"; strings.Join(got, " ") != want {
		t.Fatalf("Latest = %v, want %s", got, want)
	}
}

func TestParsers(t *testing.T) {
	cpuinfo := "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n\nprocessor\t: 1\nmodel name\t: other\n"
	if got := parseCPUModel(strings.NewReader(cpuinfo)); got != "Intel(R) Xeon(R) CPU @ 2.20GHz" {
		t.Errorf("parseCPUModel = %q", got)
	}
	if got := parseCPUModel(strings.NewReader("processor: 0\n")); got != "" {
		t.Errorf("parseCPUModel without model = %q", got)
	}
	for line, want := range map[string]string{
		"listening on 127.0.0.1:4321\n": "127.0.0.1:4321",
		"listening on [::1]:80":         "[::1]:80",
		"listening on ":                 "",
		"starting gnet":                 "",
		"listening on a b":              "",
	} {
		got, ok := parseListen(line)
		if got != want || ok != (want != "") {
			t.Errorf("parseListen(%q) = %q %v, want %q", line, got, ok, want)
		}
	}
}

func TestLoadgenArgs(t *testing.T) {
	cfg := &Config{Plan: Plan{Duration: 5e9, Warmup: 1e9}}
	tests := []struct {
		c    Cell
		want string
	}{
		{Cell{Workload: Workloads["plaintext"], Conns: 64, Pipeline: 1},
			"-c 64 -P 1 -d 5s -warmup 1s -json -hlog H -server-pid 42 http://127.0.0.1:9/plaintext"},
		{Cell{Workload: Workloads["echo-http"], Conns: 2, Pipeline: 16, Rate: 1000, Payload: 512},
			"-c 2 -P 16 -R 1000 -d 5s -warmup 1s -body 512 -json -hlog H -server-pid 42 http://127.0.0.1:9/echo"},
		{Cell{Workload: Workloads["echo"], Conns: 3, Pipeline: 1, Payload: 64},
			"-c 3 -P 1 -d 5s -warmup 1s -payload 64 -json -hlog H -server-pid 42 tcp://127.0.0.1:9"},
	}
	for _, tt := range tests {
		if got := strings.Join(loadgenArgs(cfg, tt.c, "127.0.0.1:9", "H", 42), " "); got != tt.want {
			t.Errorf("args = %s\nwant   %s", got, tt.want)
		}
	}
}

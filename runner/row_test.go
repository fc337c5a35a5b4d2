package runner

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/results"
)

func TestFillRow(t *testing.T) {
	s := summary.Summary{
		Requests: 120000, DurationSeconds: 2, RPS: 60000, Errors: 3, Rate: 60000,
		ErrorKinds:          map[string]uint64{"read": 2, "timeout": 1, "status": 0},
		Latency:             summary.Percentiles{P50: 100, P90: 200, P99: 900, P999: 2000, Max: 5000, Mean: 123.5},
		Uncorrected:         &summary.Percentiles{P99: 700},
		SendLag:             &summary.LagPercentiles{P99: 40},
		GeneratorCPUSeconds: 0.8,
		Server: &summary.ServerStats{RSSIdleKiB: 8000, RSSPeakKiB: 10048, RSSMeanKiB: 9000,
			CPUSeconds: 1.5, CtxSwitches: 77, ThreadsPeak: 9},
	}
	r := results.Row{Conns: 64}
	fillRow(&r, &s)
	status, reason := results.Judge(results.Evidence{Summary: &s, Rate: r.Rate})
	checks := []struct {
		name      string
		got, want any
	}{
		{"rss per conn", deref(r.RSSPerConnBytes), int64(2048 * 1024 / 64)},
		{"req per server cpu", deref(r.ReqPerServerCPUSecond), 80000.0},
		{"req per gen cpu", deref(r.ReqPerGeneratorCPUSecond), 150000.0},
		{"p99", r.P99Us, int64(900)},
		{"uncorrected p99", deref(r.UncorrectedP99Us), int64(700)},
		{"send lag p99", deref(r.SendLagP99Us), int64(40)},
		{"mean", r.MeanUs, 123.5},
		{"status", status, results.StatusOK},
		{"reason", reason, "3 errors (read=2 timeout=1)"},
		{"threads", deref(r.ThreadsPeak), 9},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// deref returns *p, or the string "nil" when not measured.
func deref[T any](p *T) any {
	if p == nil {
		return "nil"
	}
	return *p
}

// TestFillRowNotMeasured: what a cell does not measure is nil (an empty
// CSV field), never 0.
func TestFillRowNotMeasured(t *testing.T) {
	closed := summary.Summary{Requests: 10, DurationSeconds: 1,
		Uncorrected: &summary.Percentiles{P99: 5}, SendLag: &summary.LagPercentiles{P99: 1}}
	r := results.Row{Conns: results.MinConnsForRSSPerConn - 1}
	fillRow(&r, &closed)
	if r.UncorrectedP99Us != nil || r.SendLagP99Us != nil {
		t.Errorf("closed loop: uncorrected %v, send lag %v, want nil", r.UncorrectedP99Us, r.SendLagP99Us)
	}
	if r.RSSPeakKiB != nil || r.ServerCPUSeconds != nil || r.ReqPerServerCPUSecond != nil || r.ReqPerGeneratorCPUSecond != nil {
		t.Errorf("no server stats, no generator CPU: %+v", r)
	}
	closed.Server = &summary.ServerStats{RSSIdleKiB: 1000, RSSPeakKiB: 2000}
	fillRow(&r, &closed)
	if r.RSSPeakKiB == nil || r.RSSPerConnBytes != nil {
		t.Errorf("%d conns: rss peak %v, per conn %v; want peak, no per-conn", r.Conns, r.RSSPeakKiB, r.RSSPerConnBytes)
	}
}

func TestRSSPerConnAndPerCPU(t *testing.T) {
	if got := rssPerConn(2000, 1000, results.MinConnsForRSSPerConn-1); got != nil {
		t.Errorf("rssPerConn below the minimum = %d, want nil", *got)
	}
	if got := rssPerConn(1000, 1100, 128); got == nil || *got != -800 {
		t.Errorf("rssPerConn shrinking = %v, want -800", deref(got))
	}
	if got := perCPU(100, 0); got != nil {
		t.Errorf("perCPU with 0 CPU = %v, want nil", *got)
	}
}

func TestCompletedAndLatest(t *testing.T) {
	rows := []results.Row{
		{Cell: "a", Rep: 1, Status: results.StatusOK},
		{Cell: "b", Rep: 1, Status: results.StatusFailed},
		{Cell: "c", Rep: 1, Status: results.StatusSaturated},
		{Cell: "a", Rep: 2, Status: results.StatusFailed},
		{Cell: "b", Rep: 1, Status: results.StatusOK, RPS: 7},
		{Cell: "a", Rep: 2, Status: results.StatusFailed, Reason: "again"},
		// Re-runs within a run: noisy then ok; generator-bound then ok;
		// generator-bound then noisy (the bound stays); noisy every time.
		{Cell: "d", Rep: 1, Status: results.StatusNoisy, Attempt: 1},
		{Cell: "d", Rep: 1, Status: results.StatusOK, Attempt: 2},
		{Cell: "e", Rep: 1, Status: results.StatusSaturated, Attempt: 1},
		{Cell: "e", Rep: 1, Status: results.StatusOK, Attempt: 2},
		{Cell: "f", Rep: 1, Status: results.StatusSaturated, Attempt: 1},
		{Cell: "f", Rep: 1, Status: results.StatusNoisy, Attempt: 2},
		{Cell: "g", Rep: 1, Status: results.StatusNoisy, Attempt: 1},
		{Cell: "g", Rep: 1, Status: results.StatusNoisy, Attempt: 2},
		{Cell: "g", Rep: 1, Status: results.StatusNoisy, Attempt: 3},
		{Cell: "h", Rep: 1, Status: results.StatusBacklog},
		{Cell: "h", Rep: 1, Status: results.StatusFailed},
	}
	done := Completed(rows)
	for id, want := range map[string]bool{"a#1": true, "b#1": true, "c#1": true, "a#2": false, "d#1": true, "g#1": false, "h#1": true} {
		if done[id] != want {
			t.Errorf("Completed[%s] = %v, want %v", id, done[id], want)
		}
	}
	latest := Latest(rows)
	var got []string
	for _, r := range latest {
		got = append(got, fmt.Sprintf("%s:%s%s/%d", rowID(r.Cell, r.Rep), r.Status, r.Reason, r.AttemptOf()))
	}
	if want := "a#1:ok/1 b#1:ok/1 c#1:saturated/1 a#2:failedagain/1 d#1:ok/2 e#1:ok/2 f#1:saturated/1 g#1:noisy/3 h#1:backlog/1"; strings.Join(got, " ") != want {
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

func TestVCSCommit(t *testing.T) {
	rev := "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{nil, "unknown"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}, "0123456789ab"},
		{[]debug.BuildSetting{{Key: "vcs.modified", Value: "true"}, {Key: "vcs.revision", Value: rev}}, "0123456789ab+dirty"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}}, "abc"},
	}
	for _, tt := range tests {
		if got := vcsCommit(tt.settings); got != tt.want {
			t.Errorf("vcsCommit(%v) = %q, want %q", tt.settings, got, tt.want)
		}
	}
}

// TestDetectEnvReadsServerBinary: the Go version comes from the measured
// binary's build info (here the test binary), not from bench.
func TestDetectEnvReadsServerBinary(t *testing.T) {
	e := DetectEnv(os.Args[0])
	if e.GoVersion != runtime.Version() || e.Commit == "" || e.Kernel == "" {
		t.Errorf("env = %+v", e)
	}
	if e := DetectEnv("/nonexistent"); e.GoVersion != "unknown" || e.Commit != "unknown" {
		t.Errorf("env of a missing binary = %+v", e)
	}
}

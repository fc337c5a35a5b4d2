package loadgen

import (
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/loadgen/procstat"
	"github.com/asyncbench/asyncbench/loadgen/summary"
)

// TestSummarize builds a summary from hand-made histograms and counters,
// without sockets.
func TestSummarize(t *testing.T) {
	lat, unc, lag := newHist(), newHist(), newHist()
	for v := int64(1); v <= 100; v++ {
		_ = lat.RecordValue(v * 1000) // 1..100 ms
		_ = unc.RecordValue(v)
		_ = lag.RecordValue(50_000) // every send 50 ms late
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := measured{
		latency: lat, uncorrected: unc, lag: lag,
		start: start, end: start.Add(2 * time.Second),
		cpuSeconds: 0.5,
		server:     &procstat.Stats{RSSPeakKiB: 1000, Samples: 40},
		stop:       summary.StopDuration,
	}
	m.counts.requests, m.counts.slotsSent, m.counts.windowFull = 100, 100, 0
	m.counts.bytesRead, m.counts.bytesWritten = 1000, 500
	m.counts.dials = 7
	m.counts.errs[ErrStatus] = 2
	cfg := Config{Target: "http://127.0.0.1:1/", Conns: 4, Pipeline: 1, Rate: 50, Body: 0, Payload: 64}
	s := summarize(cfg, summary.WorkloadHTTP, summary.EngineEpoll, m).Summary

	if s.Requests != 100 || s.Errors != 2 || s.ErrorKinds["status"] != 2 || len(s.ErrorKinds) != int(numErrKinds) {
		t.Fatalf("counts %d %d %v", s.Requests, s.Errors, s.ErrorKinds)
	}
	if s.Dials != 7 || s.DialsPerSecond != 3.5 || s.Churn {
		t.Fatalf("dials %d, %v/s, churn %v", s.Dials, s.DialsPerSecond, s.Churn)
	}
	if s.DurationSeconds != 2 || s.RPS != 50 || s.StartTime != "2026-01-02T03:04:05Z" || s.StopReason != summary.StopDuration {
		t.Fatalf("window %v %v %q %q", s.DurationSeconds, s.RPS, s.StartTime, s.StopReason)
	}
	if s.Latency.P50 < 49_000 || s.Latency.P50 > 51_000 || s.Latency.Max < 99_900 || s.Uncorrected == nil || s.Uncorrected.Max != 100 {
		t.Fatalf("latency %+v uncorrected %+v", s.Latency, s.Uncorrected)
	}
	// 50 ms of lag is under the limit, max(10 ms, 10 × 1/50 s) = 200 ms.
	if s.Saturated || s.SendLag.P99 < 49_000 {
		t.Fatalf("saturated %v (%s), lag %+v", s.Saturated, s.SaturatedReason, s.SendLag)
	}
	// 2 errors of 102 attempts is 1.96 %: failed.
	if !s.Failed || s.ErrorPercent < 1.9 || s.ErrorPercent > 2 {
		t.Fatalf("failed %v %v %q", s.Failed, s.ErrorPercent, s.FailedReason)
	}
	if s.PayloadBytes != 0 || s.GeneratorCPUSeconds != 0.5 || s.Server == nil || s.Server.RSSPeakKiB != 1000 || s.Engine != summary.EngineEpoll {
		t.Fatalf("summary %+v", s)
	}
}

// TestSummarizeStartSkew checks start_at and start_skew_us: recorded only
// with a shared start, as warm-up start minus start_at.
func TestSummarizeStartSkew(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := measured{latency: newHist(), warmup: at.Add(1500 * time.Microsecond), start: at.Add(time.Second), end: at.Add(2 * time.Second)}
	cfg := Config{Target: "http://127.0.0.1:1/", Conns: 1, Pipeline: 1, Payload: 64}
	if s := summarize(cfg, summary.WorkloadHTTP, summary.EngineEpoll, m).Summary; s.StartAt != "" || s.StartSkewUs != nil {
		t.Fatalf("without -start-at: start_at %q, skew %v", s.StartAt, s.StartSkewUs)
	}
	cfg.StartAt = at
	s := summarize(cfg, summary.WorkloadHTTP, summary.EngineEpoll, m).Summary
	if s.StartAt != "2026-01-02T03:04:05Z" || s.StartSkewUs == nil || *s.StartSkewUs != 1500 {
		t.Fatalf("start_at %q, skew %v", s.StartAt, s.StartSkewUs)
	}
	m.warmup = at.Add(-2 * time.Millisecond) // a clock read just before the timer's instant
	if s := summarize(cfg, summary.WorkloadHTTP, summary.EngineEpoll, m).Summary; *s.StartSkewUs != -2000 {
		t.Fatalf("early skew %d, want -2000", *s.StartSkewUs)
	}
	m.warmup = time.Time{} // stopped before it began
	if s := summarize(cfg, summary.WorkloadHTTP, summary.EngineEpoll, m).Summary; s.StartSkewUs != nil {
		t.Fatalf("run that never began: skew %d", *s.StartSkewUs)
	}
}

func TestJudgeSchedule(t *testing.T) {
	const sat, backlog = "saturated", "backlog"
	for _, tc := range []struct {
		name string
		f    scheduleFacts
		want string // "", sat or backlog
	}{
		{"on schedule", scheduleFacts{rate: 1000, lagP99us: 500, ownLagP99us: 500, sent: 1000}, ""},
		{"own lag over the 10 ms floor", scheduleFacts{rate: 1000, lagP99us: 11_000, ownLagP99us: 11_000, sent: 1000}, sat},
		{"lag over the floor, waiting for the server", scheduleFacts{rate: 1000, lagP99us: 11_000, ownLagP99us: 200, sent: 1000}, backlog},
		{"lag under 10 intervals at a low rate", scheduleFacts{rate: 10, lagP99us: 900_000, ownLagP99us: 900_000, sent: 100}, ""},
		{"window full 1 %", scheduleFacts{rate: 1000, sent: 1000, windowFull: 10}, ""},
		{"window full over 1 %", scheduleFacts{rate: 1000, sent: 1000, windowFull: 11}, backlog},
		{"window full, nothing sent", scheduleFacts{rate: 1000, windowFull: 5}, backlog},
		{"window full, generator CPU busy", scheduleFacts{rate: 1000, sent: 1000, windowFull: 11, cpuPct: 95}, sat},
		{"generator CPU busy, on schedule", scheduleFacts{rate: 1000, sent: 1000, cpuPct: 99}, ""},
		{"own lag over, window full too", scheduleFacts{rate: 1000, lagP99us: 50_000, ownLagP99us: 20_000, sent: 1000, windowFull: 500}, sat},
	} {
		j := judgeSchedule(tc.f)
		got := ""
		switch {
		case j.saturated && j.backlog:
			t.Errorf("%s: both saturated and backlog", tc.name)
		case j.saturated:
			got = sat
		case j.backlog:
			got = backlog
		}
		if got != tc.want {
			t.Errorf("%s: %q (%s%s), want %q", tc.name, got, j.saturatedReason, j.backlogReason, tc.want)
		}
		if (j.saturated && j.saturatedReason == "") || (j.backlog && j.backlogReason == "") {
			t.Errorf("%s: no reason", tc.name)
		}
	}
}

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		requests, errors uint64
		want             bool
	}{{0, 0, true}, {0, 5, true}, {1000, 10, false}, {1000, 11, true}, {5, 0, false}} {
		if got, pct, reason := summary.Verdict(tc.requests, tc.errors); got != tc.want {
			t.Errorf("Verdict(%d, %d) = %v (%v%%, %s), want %v", tc.requests, tc.errors, got, pct, reason, tc.want)
		}
	}
}

func TestStopReason(t *testing.T) {
	for cause, want := range map[error]summary.StopReason{
		ErrDurationElapsed: summary.StopDuration,
		ErrRequestLimit:    summary.StopRequests,
		ErrServerExited:    summary.StopServerExited,
		nil:                summary.StopInterrupted,
	} {
		if got := stopReason(cause); got != want {
			t.Errorf("stopReason(%v) = %q, want %q", cause, got, want)
		}
	}
}

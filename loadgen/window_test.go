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

func TestSaturation(t *testing.T) {
	for _, tc := range []struct {
		name             string
		rate             float64
		lagP99us         int64
		sent, windowFull uint64
		want             bool
	}{
		{"on schedule", 1000, 500, 1000, 0, false},
		{"lag over the 10 ms floor", 1000, 11_000, 1000, 0, true},
		{"lag under 10 intervals at a low rate", 10, 900_000, 100, 0, false},
		{"window full 1 %", 1000, 0, 1000, 10, false},
		{"window full over 1 %", 1000, 0, 1000, 11, true},
		{"window full, nothing sent", 1000, 0, 0, 5, true},
	} {
		if got, reason := saturation(tc.rate, tc.lagP99us, tc.sent, tc.windowFull); got != tc.want {
			t.Errorf("%s: saturated %v (%s), want %v", tc.name, got, reason, tc.want)
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

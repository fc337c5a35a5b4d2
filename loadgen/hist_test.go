package loadgen

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncbench/asyncbench/loadgen/summary"
)

// TestMergeEqualsSingle records the same values once into one histogram and
// once spread over per-connection sparse histograms merged at the end.
func TestMergeEqualsSingle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	single := newHist()
	parts := make([]*hdr.PackedHistogram, 7)
	for i := range parts {
		parts[i] = newPacked()
	}
	for i := range 200_000 {
		v := usec(int64(rng.ExpFloat64() * 3e6)) // ns, mean 3ms
		if i%1000 == 0 {
			v = usec(int64(time.Duration(rng.IntN(120)) * time.Second)) // beyond the range: clamped
		}
		if err := single.RecordValue(v); err != nil {
			t.Fatal(err)
		}
		if err := parts[i%len(parts)].RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	merged := newHist()
	for _, p := range parts {
		if dropped := p.MergeInto(merged); dropped != 0 {
			t.Fatalf("dropped %d", dropped)
		}
	}
	if !merged.Equals(single) {
		t.Fatal("merged histogram differs from the single one")
	}
	for _, q := range []float64{0, 50, 90, 99, 99.9, 100} {
		if a, b := merged.ValueAtQuantile(q), single.ValueAtQuantile(q); a != b {
			t.Fatalf("p%v: merged %d, single %d", q, a, b)
		}
	}
}

func TestUsecClamps(t *testing.T) {
	tests := []struct{ ns, want int64 }{
		{-5, histMin}, {0, histMin}, {999, histMin}, {1000, 1}, {1_500_000, 1500},
		{int64(2 * time.Hour), histMax},
	}
	for _, tc := range tests {
		if got := usec(tc.ns); got != tc.want {
			t.Errorf("usec(%d) = %d, want %d", tc.ns, got, tc.want)
		}
	}
}

// TestHlogRoundTrip runs ~2.5s of load with an interval log, reads the log
// back with HdrHistogram's own reader and checks that the intervals add up
// to the in-memory total exactly.
func TestHlogRoundTrip(t *testing.T) {
	addr := httpServer(t, func(int, []byte) []byte { return []byte(okResp) })
	var log bytes.Buffer
	res, err := Run(context.Background(), Config{Target: "http://" + addr + "/", Conns: 3, Duration: 2500 * time.Millisecond, Warmup: 100 * time.Millisecond}, &log)
	if err != nil {
		t.Fatal(err)
	}
	text := log.String()
	for _, want := range []string{"#[Histogram log format version 1.3]", "#[StartTime: ", "#[BaseTime: ", `"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"`} {
		if !strings.Contains(text, want) {
			t.Fatalf("log lacks %q:\n%s", want, text)
		}
	}
	_, ivs, total := readHlog(t, log.Bytes())
	// 2.5 s in 1 s intervals: two full ones and a partial last one, give
	// or take one on a loaded machine.
	if len(ivs) < 2 || len(ivs) > 4 {
		t.Fatalf("intervals = %d, want about 3", len(ivs))
	}
	checkIntervals(t, ivs)
	if total.TotalCount() == 0 || uint64(total.TotalCount()) != res.Summary.Requests+res.Summary.ErrorKinds["timeout"] {
		t.Fatalf("log total %d, requests %d + timeouts %d", total.TotalCount(), res.Summary.Requests, res.Summary.ErrorKinds["timeout"])
	}
	if !total.Equals(res.Latency) {
		t.Fatal("merged log differs from the in-memory histogram")
	}
}

func TestWriteText(t *testing.T) {
	h := newHist()
	for v := int64(1); v <= 1000; v++ {
		_ = h.RecordValue(v)
	}
	r := &Result{Latency: h, Uncorrected: h, Lag: h, Summary: summary.Summary{
		Requests: 1000, DurationSeconds: 2, RPS: 500, BytesRead: 2048, Errors: 3, GeneratorCPUSeconds: 0.5,
		ErrorKinds:  map[string]uint64{"timeout": 2, "status": 1},
		Uncorrected: &summary.Percentiles{}, Saturated: true, SaturatedReason: "send lag p99 1s > 10ms", StopReason: summary.StopDuration,
		Failed: true, FailedReason: "3 errors are 0.30% of 1003 attempts",
	}}
	var b bytes.Buffer
	if err := WriteText(&b, r, true); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Latency (corrected)", "Latency (uncorrected)", "Send lag",
		"1000 requests in 2.00s, 2.00KB read",
		"Errors: 3: timeout 2 status 1",
		"Requests/sec:       500.00",
		"Saturated: the generator could not keep the schedule: send lag p99 1s > 10ms",
		"Failed: 3 errors are 0.30% of 1003 attempts",
		" Value\tPercentile\tTotalCount\t1/(1-Percentile)",
		"       0.500     0.500000          500         2.00",
		"#[Mean    =        0.500, StdDeviation   =        0.289]",
		"2000 requests per CPU-second",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

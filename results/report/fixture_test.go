package report

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/asyncbench/asyncbench/results"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// newHist returns a histogram with the generator's geometry: 1 µs to 60 s,
// three significant figures.
func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, 60_000_000, 3)
}

// writeHlog writes intervals to path with HistogramLogWriter, one second
// apart.
func writeHlog(t *testing.T, path string, intervals ...*hdrhistogram.Histogram) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lw := hdrhistogram.NewHistogramLogWriter(f)
	base := int64(1_700_000_000_000)
	if err := lw.OutputLogFormatVersion(); err != nil {
		t.Fatal(err)
	}
	if err := lw.OutputStartTime(base); err != nil {
		t.Fatal(err)
	}
	if err := lw.OutputLegend(); err != nil {
		t.Fatal(err)
	}
	lw.SetBaseTime(base)
	for i, h := range intervals {
		h.SetStartTimeMs(base + int64(i)*1000)
		h.SetEndTimeMs(base + int64(i+1)*1000)
		if err := lw.OutputIntervalHistogram(h); err != nil {
			t.Fatal(err)
		}
	}
}

// logNormal records n values around median µs with the given tail spread.
func logNormal(rng *rand.Rand, h *hdrhistogram.Histogram, n int, median, sigma float64) {
	for range n {
		v := int64(median * math.Exp(sigma*rng.NormFloat64()))
		if v < 1 {
			v = 1
		}
		if err := h.RecordValue(v); err != nil {
			panic(err)
		}
	}
}

// fixtureRun builds a small run in dir: three backends, three connection
// counts, three repetitions each, with .hlog files, plus one failed and
// one saturated row and an open-loop group at a single connection count.
func fixtureRun(t *testing.T, dir string) []results.Row {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "hlog"), 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	type perf struct {
		rps0, p99base float64
		rssBase       int64
	}
	backends := map[string]perf{
		"fasthttp": {95_000, 180, 9_000},
		"gnet":     {120_000, 140, 7_000},
		"stdlib":   {70_000, 260, 11_000},
	}
	var rows []results.Row
	add := func(r results.Row, median float64) {
		r.RunID = "20250101T000000Z"
		r.Plan = "quick"
		r.GoVersion = "go1.26.0"
		r.Kernel = "6.8.0"
		r.CPUModel = "Test CPU @ 3.0GHz"
		r.GOMAXPROCS = 1
		r.ServerCPUSet = "0"
		r.GeneratorCPUSet = "1"
		r.Commit = "abc1234"
		r.StartTime = fmt.Sprintf("2025-01-01T00:%02d:00Z", len(rows))
		r.DurationS = 5
		if r.Rate > 0 {
			r.Cell = fmt.Sprintf("%s/%s/%s/c%d/p%d/r%g", r.Backend, r.Proto, r.Workload, r.Conns, r.Pipeline, r.Rate)
		} else {
			r.Cell = fmt.Sprintf("%s/%s/%s/c%d/p%d", r.Backend, r.Proto, r.Workload, r.Conns, r.Pipeline)
		}
		if r.Status == results.StatusOK {
			r.Hlog = filepath.ToSlash(filepath.Join("hlog", fmt.Sprintf("%s-%s-c%d-r%g-rep%d.hlog", r.Backend, r.Workload, r.Conns, r.Rate, r.Rep)))
			var ivs []*hdrhistogram.Histogram
			all := newHist()
			for range 3 {
				h := newHist()
				logNormal(rng, h, 4000, median, 0.6)
				all.Merge(h)
				ivs = append(ivs, h)
			}
			writeHlog(t, filepath.Join(dir, r.Hlog), ivs...)
			r.Requests = uint64(r.RPS * r.DurationS)
			r.P50Us = all.ValueAtQuantile(50)
			r.P90Us = all.ValueAtQuantile(90)
			r.P99Us = all.ValueAtQuantile(99)
			r.P999Us = all.ValueAtQuantile(99.9)
			r.MaxUs = all.Max()
			r.MeanUs = all.Mean()
			r.ServerCPUSeconds = new(r.DurationS * 0.98)
			r.ReqPerServerCPUSecond = new(float64(r.Requests) / *r.ServerCPUSeconds)
			r.RSSPerConnBytes = new((*r.RSSPeakKiB - *r.RSSIdleKiB) * 1024 / int64(r.Conns))
		}
		rows = append(rows, r)
	}
	for _, b := range []string{"fasthttp", "gnet", "stdlib"} {
		pf := backends[b]
		for _, c := range []int{16, 64, 256} {
			for rep := 1; rep <= 3; rep++ {
				jitter := 1 + 0.02*float64(rep-2)
				r := results.Row{
					Backend: b, Proto: "http", Workload: "plaintext", Conns: c, Pipeline: 1, Rep: rep,
					Status:     results.StatusOK,
					RPS:        pf.rps0 * (1 + 0.1*math.Log2(float64(c)/16)) * jitter,
					RSSIdleKiB: new(pf.rssBase),
					RSSPeakKiB: new(pf.rssBase + int64(c)*int64(len(b))*4),
				}
				r.RSSMeanKiB = new((*r.RSSIdleKiB + *r.RSSPeakKiB) / 2)
				median := pf.p99base * float64(c) / 64 / 3 * jitter
				if b == "stdlib" && c == 256 && rep == 3 {
					r.Status = results.StatusFailed
					r.Reason = "connect: connection refused"
				}
				add(r, median)
			}
		}
	}
	for _, b := range []string{"gnet", "stdlib"} {
		for rep := 1; rep <= 2; rep++ {
			r := results.Row{
				Backend: b, Proto: "echo", Workload: "echo", Conns: 64, Pipeline: 1, Rate: 20000,
				Payload: 64, Rep: rep, Status: results.StatusOK, RPS: 20000 + float64(rep),
				RSSIdleKiB: new(int64(6000)), RSSPeakKiB: new(int64(6400)),
			}
			if b == "stdlib" && rep == 2 {
				r.Status = results.StatusSaturated
				r.Saturated = true
				r.Reason = "send lag p99 12ms > 1ms"
			}
			add(r, 90)
		}
	}
	return rows
}

package runner

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/results"
)

// genSummary is one generator's summary: conns connections at target,
// 1000 requests per connection over 2 s starting at start.
func genSummary(target, start string, conns, pipeline int, rate float64) summary.Summary {
	req := uint64(1000 * conns)
	return summary.Summary{
		Target: target, Workload: summary.WorkloadHTTP, Conns: conns, Pipeline: pipeline, Rate: rate,
		Requests: req, DurationSeconds: 2, RPS: float64(req) / 2, GeneratorCPUSeconds: 0.5,
		BytesRead: req * 130, BytesWritten: req * 40, StartTime: start, StopReason: summary.StopDuration,
		Server: &summary.ServerStats{RSSIdleKiB: 1, RSSPeakKiB: 2, CPUSeconds: 1},
	}
}

// writeGen writes s as dir/name.json with name.hlog beside it.
func writeGen(t *testing.T, dir, name string, s summary.Summary) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, name+".hlog"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := hdrhistogram.New(1, 60_000_000, 3)
	for i := range s.Requests {
		_ = h.RecordValue(int64(100 + i%100))
	}
	if err := hdrhistogram.NewHistogramLogWriter(f).OutputIntervalHistogram(h); err != nil {
		t.Fatal(err)
	}
	return path
}

const (
	mergeTarget = "http://127.0.0.1:8080/plaintext"
	t0          = "2026-11-28T04:00:00Z"
	t0half      = "2026-11-28T04:00:01Z" // overlaps a 2 s window from t0
	t0late      = "2026-11-28T04:00:05Z" // after it
)

func mergeInputs(t *testing.T, inputs ...string) (results.Row, error) {
	t.Helper()
	gens, err := FindGenerators(inputs)
	if err != nil {
		return results.Row{}, err
	}
	return MergeRow(gens, MergeMeta{RunID: "dist1", Backend: "gnet", Commit: "abc"})
}

func TestMergeRow(t *testing.T) {
	d := t.TempDir()
	a := writeGen(t, filepath.Join(d, "a"), "gen", genSummary(mergeTarget, t0, 8, 1, 0))
	b := writeGen(t, filepath.Join(d, "b"), "gen", genSummary(mergeTarget, t0half, 8, 1, 0))
	r, err := mergeInputs(t, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 16000 || r.Conns != 16 || r.RPS != 8000 || r.Status != results.StatusOK {
		t.Errorf("counts: requests %d conns %d rps %g status %s", r.Requests, r.Conns, r.RPS, r.Status)
	}
	if r.RunID != "dist1" || r.Backend != "gnet" || r.Workload != "plaintext" || r.Commit != "abc" || r.StartTime != t0 {
		t.Errorf("identity: %+v", r)
	}
	if r.Cell != "gnet/http/plaintext/c16/p1/r0/b0" {
		t.Errorf("cell = %s", r.Cell)
	}
	if r.RSSPeakKiB != nil || r.ServerCPUSeconds != nil || r.ReqPerServerCPUSecond != nil || r.UncorrectedP99Us != nil {
		t.Errorf("unmeasured columns set: %+v", r)
	}
	if g := r.GeneratorCPUSeconds; g == nil || *g != 1 {
		t.Errorf("generator CPU = %v, want 1", deref(g))
	}
	if r.P50Us < 100 || r.P50Us > 200 {
		t.Errorf("p50 = %d", r.P50Us)
	}
	rev, err := mergeInputs(t, b, a)
	if err != nil || rev.Cell != r.Cell {
		t.Errorf("reversed inputs: cell %s, %v", rev.Cell, err)
	}
	csv := strings.Join(r.Record(), ",")
	if !strings.Contains(csv, ",ok,,") || strings.Contains(csv, ",false,0,0,") {
		t.Errorf("unmeasured fields must be empty: %s", csv)
	}
}

// TestMergeRefuses: each input set once merged into a wrong "ok" row.
func TestMergeRefuses(t *testing.T) {
	d := t.TempDir()
	gen := func(sub string, s summary.Summary) string { return writeGen(t, filepath.Join(d, sub), "gen", s) }
	base := gen("base", genSummary(mergeTarget, t0, 8, 1, 0))
	tests := []struct {
		name   string
		inputs []string
		want   string
	}{
		{"two backends one after the other",
			[]string{base, gen("other", genSummary("http://127.0.0.1:9090/plaintext", t0late, 8, 1, 0))}, "target"},
		{"same server, windows apart",
			[]string{base, gen("late", genSummary(mergeTarget, t0late, 8, 1, 0))}, "do not overlap"},
		{"P=1 with P=16", []string{base, gen("p16", genSummary(mergeTarget, t0half, 8, 16, 0))}, "pipeline"},
		{"closed with open loop", []string{base, gen("open", genSummary(mergeTarget, t0half, 8, 1, 5000))}, "rate mode"},
		{"different conns per generator", []string{base, gen("c16", genSummary(mergeTarget, t0half, 16, 1, 0))}, "connections"},
		{"same directory twice", []string{filepath.Dir(base), filepath.Dir(base)}, "named twice"},
		{"same file twice", []string{base, base}, "named twice"},
		{"a copy of one generator", []string{base, func() string {
			data, _ := os.ReadFile(base)
			return writeGen(t, filepath.Join(d, "copy"), "gen", mustSummary(t, data))
		}()}, "same generator run"},
		{"a whole multi-cell run directory", func() []string {
			run := filepath.Join(d, "run")
			writeGen(t, run, "c1", genSummary("http://127.0.0.1:1001/plaintext", t0, 1, 1, 0))
			writeGen(t, run, "c2", genSummary("http://127.0.0.1:1002/plaintext", t0late, 2, 1, 0))
			return []string{run}
		}(), "not one cell"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mergeInputs(t, tt.inputs...)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line containing %q", err, tt.want)
			}
		})
	}
	if _, err := MergeRow(nil, MergeMeta{Backend: "gnet"}); err == nil {
		t.Error("no generators merged")
	}
	gens, _ := FindGenerators([]string{base})
	if _, err := MergeRow(gens, MergeMeta{Backend: "nosuch"}); err == nil {
		t.Error("unknown backend accepted")
	}
}

func mustSummary(t *testing.T, data []byte) summary.Summary {
	t.Helper()
	var s summary.Summary
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

package rtmetrics

import (
	"bufio"
	"io"
	"math"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func hist(counts ...uint64) Histogram {
	b := []float64{math.Inf(-1)}
	for i := 1; i < len(counts); i++ {
		b = append(b, float64(i)*1e-6) // bucket i is [i−1 µs, i µs)
	}
	return Histogram{Counts: counts, Bounds: append(b, math.Inf(1))}
}

func TestBetween(t *testing.T) {
	// Buckets: [−∞, 1 µs), [1, 2), [2, 3), [3, 4), [4 µs, ∞).
	a := Reading{GCCycles: 10, GCCPUSeconds: 1, TotalCPU: 10,
		GCPauses:       hist(0, 5, 0, 0, 0),
		SchedLatencies: hist(0, 100, 0, 0, 0)}
	// In the window: 3 cycles with 3 pauses of 2–3 µs; 1,000 scheduling
	// samples, 985 of 1–2 µs, 10 of 2–3 µs and 5 of 3–4 µs.
	b := Reading{GCCycles: 13, GCCPUSeconds: 1.5, TotalCPU: 12,
		GCPauses:       hist(0, 5, 3, 0, 0),
		SchedLatencies: hist(0, 1085, 10, 5, 0)}
	w, err := Between(a, b)
	if err != nil {
		t.Fatal(err)
	}
	// The 990th of 1,000 samples is in [2, 3) µs: reported as 3.
	if w.GCCycles != 3 || w.GCPauses != 3 || w.GCPauseP99Us != 3 || w.SchedSamples != 1000 || w.SchedLatencyP99Us != 3 {
		t.Fatalf("%+v", w)
	}
	if math.Abs(w.GCCPUPct-25) > 1e-9 { // 0.5 of 2 CPU-seconds
		t.Fatalf("gc cpu %v%%, want 25", w.GCCPUPct)
	}
	// Fewer in [2, 3): the 990th moves up a bucket.
	b.SchedLatencies = hist(0, 1085, 4, 5, 6)
	if w, _ := Between(a, b); w.SchedLatencyP99Us != 4 {
		t.Fatalf("p99 %v, want 4", w.SchedLatencyP99Us)
	}
	// In the open last bucket: its finite lower bound.
	b.SchedLatencies = hist(0, 1085, 4, 0, 11)
	if w, _ := Between(a, b); w.SchedLatencyP99Us != 4 {
		t.Fatalf("p99 %v, want 4 (lower bound of the open bucket)", w.SchedLatencyP99Us)
	}
	// Nothing happened: no pauses, no samples, no CPU estimate.
	w, err = Between(a, a)
	if err != nil || w.GCCycles != 0 || w.GCPauseP99Us != 0 || w.SchedLatencyP99Us != -1 || w.GCCPUPct != -1 {
		t.Fatalf("empty window %+v %v", w, err)
	}
	if _, err := Between(b, a); err == nil {
		t.Fatal("readings out of order accepted")
	}
	c := b
	c.SchedLatencies = hist(0, 1)
	if _, err := Between(b, c); err == nil {
		t.Fatal("different bucket layouts accepted")
	}
}

func TestServe(t *testing.T) {
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "m.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go Serve(ln)
	c, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	mark := func(cmd string) string {
		t.Helper()
		if _, err := io.WriteString(c, cmd+"\n"); err != nil {
			t.Fatal(err)
		}
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSuffix(line, "\n")
	}
	if got := mark(CmdOpen); got != "{}" {
		t.Fatalf("open: %q", got)
	}
	runtime.GC() // one cycle inside the window: the answer came after the reading
	w, err := Parse([]byte(mark(CmdClose)))
	if err != nil || w.GCCycles < 1 || w.GCPauses < 1 || w.GCPauseP99Us <= 0 {
		t.Fatalf("a window with runtime.GC in it: %+v %v", w, err)
	}
	for _, cmd := range []string{CmdClose, "bogus"} {
		if _, err := Parse([]byte(mark(cmd))); err == nil || !strings.Contains(err.Error(), "server:") {
			t.Fatalf("%s: %v, want the server's error", cmd, err)
		}
	}
	if _, err := Parse([]byte("{not json")); err == nil {
		t.Fatal("garbage accepted")
	}
}

package loadgen

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncbench/asyncbench/loadgen/summary"
)

// WriteHeader prints the wrk-style line that opens a run.
func WriteHeader(w io.Writer, cfg Config) error {
	cfg = cfg.withDefaults()
	d := "until stopped"
	if cfg.Duration > 0 {
		d = cfg.Duration.String()
	}
	mode := "closed loop"
	if cfg.RateEnd > 0 && cfg.Rate > 0 {
		mode = fmt.Sprintf("open loop ramping from %g to %g req/s over %v", cfg.Rate, cfg.RateEnd, cfg.Duration)
	} else if cfg.Rate > 0 {
		mode = fmt.Sprintf("open loop at %g req/s", cfg.Rate)
	}
	if cfg.Churn {
		mode = "a new connection per request, " + mode
	}
	if cfg.Idle {
		_, err := fmt.Fprintf(w, "Running %s idle test @ %s\n  %d connections, one request on each, then held open and silent\n",
			d, cfg.Target, cfg.Conns)
		return err
	}
	_, err := fmt.Fprintf(w, "Running %s test @ %s\n  %d connections, pipeline %d, %s, warm-up %v\n",
		d, cfg.Target, cfg.Conns, cfg.Pipeline, mode, cfg.Warmup)
	return err
}

// WriteText prints the wrk-style summary of r; with spectrum it adds the
// latency distribution and the percentile spectrum in the .hgrm layout.
func WriteText(w io.Writer, r *Result, spectrum bool) error {
	s := &r.Summary
	var b strings.Builder
	fmt.Fprintf(&b, "  %-22s %10s %10s %10s\n", "", "Avg", "Stdev", "Max")
	latName := "Latency"
	if s.Uncorrected != nil {
		latName = "Latency (corrected)"
	}
	statLine(&b, latName, r.Latency)
	if r.Uncorrected != nil {
		statLine(&b, "Latency (uncorrected)", r.Uncorrected)
		statLine(&b, "Send lag", r.Lag)
	}
	if spectrum {
		fmt.Fprintf(&b, "  Latency Distribution (HdrHistogram - Recorded Latency)\n")
		for _, q := range []float64{50, 75, 90, 99, 99.9, 99.99, 99.999, 100} {
			fmt.Fprintf(&b, " %7.3f%% %9s\n", q, fmtUsec(float64(r.Latency.ValueAtQuantile(q))))
		}
		fmt.Fprintf(&b, "\n  Detailed Percentile spectrum:\n")
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
		b.Reset()
		if err := WriteSpectrum(w, r.Latency); err != nil {
			return err
		}
		b.WriteString("----------------------------------------------------------\n")
	}
	if s.Mix != "" {
		writeEndpoints(&b, s)
	}
	fmt.Fprintf(&b, "  %d requests in %.2fs, %s read\n", s.Requests, s.DurationSeconds, fmtBytes(float64(s.BytesRead)))
	if s.Errors > 0 {
		fmt.Fprintf(&b, "  Errors: %d:", s.Errors)
		for k := range ErrKinds() {
			name := ErrKindName(k)
			if n := s.ErrorKinds[name]; n > 0 {
				fmt.Fprintf(&b, " %s %d", name, n)
			}
		}
		b.WriteString("\n")
	}
	if sv := s.Server; sv != nil {
		fmt.Fprintf(&b, "  Server: cpu %.2fs, rss idle %d KiB, peak %d KiB, mean %d KiB, threads %d, ctx switches %d, %d samples\n",
			sv.CPUSeconds, sv.RSSIdleKiB, sv.RSSPeakKiB, sv.RSSMeanKiB, sv.ThreadsPeak, sv.CtxSwitches, sv.Samples)
		if sv.Exited {
			b.WriteString("  Server exited during the run\n")
		}
	}
	if m := s.ServerIdle; m != nil {
		fmt.Fprintf(&b, "  Server idle (before dialling → held open): rss %d → %d KiB, page tables %d → %d KiB, threads %d → %d, TCP socket memory %d → %d KiB, TCP slab %d → %d KiB\n",
			m.RSSBaseKiB, m.RSSKiB, m.VmPTEBaseKiB, m.VmPTEKiB, m.ThreadsBase, m.Threads, m.SockMemBaseKiB, m.SockMemKiB, m.SlabBaseKiB, m.SlabKiB)
	}
	fmt.Fprintf(&b, "Requests/sec: %12.2f\n", s.RPS)
	if s.Churn || s.Dials > 0 {
		fmt.Fprintf(&b, "Dials/sec:    %12.2f (%d connections opened)\n", s.DialsPerSecond, s.Dials)
	}
	if s.DurationSeconds > 0 {
		fmt.Fprintf(&b, "Transfer/sec: %12s\n", fmtBytes(float64(s.BytesRead)/s.DurationSeconds))
	}
	fmt.Fprintf(&b, "Generator CPU: %.2fs", s.GeneratorCPUSeconds)
	if s.GeneratorCPUSeconds > 0 {
		fmt.Fprintf(&b, " (%.0f requests per CPU-second)", float64(s.Requests)/s.GeneratorCPUSeconds)
	}
	b.WriteString("\n")
	if s.StopReason != summary.StopDuration && s.StopReason != "" {
		fmt.Fprintf(&b, "Stopped early: %s\n", s.StopReason)
	}
	if s.Failed {
		fmt.Fprintf(&b, "Failed: %s\n", s.FailedReason)
	}
	if s.Saturated {
		fmt.Fprintf(&b, "Saturated: the generator could not keep the schedule: %s\n", s.SaturatedReason)
	}
	if s.ServerBacklog {
		fmt.Fprintf(&b, "Server backlog: %s\n", s.ServerBacklogReason)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeEndpoints prints the per-entry table of a mix run.
func writeEndpoints(b *strings.Builder, s *summary.Summary) {
	width := len("Endpoint")
	for _, e := range s.Endpoints {
		width = max(width, len(e.Path))
	}
	fmt.Fprintf(b, "  Mix (seed %d):\n", s.Seed)
	fmt.Fprintf(b, "    %-*s %7s %10s %8s %10s %10s %10s %10s\n", width, "Endpoint", "Weight", "Requests", "Errors", "p50", "p99", "Max", "Mean")
	for _, e := range s.Endpoints {
		l := e.Latency
		p50, p99, mx, mean := fmtUsec(float64(l.P50)), fmtUsec(float64(l.P99)), fmtUsec(float64(l.Max)), fmtUsec(l.Mean)
		if l.Max == 0 { // nothing recorded: no latency to show
			p50, p99, mx, mean = "-", "-", "-", "-"
		}
		fmt.Fprintf(b, "    %-*s %7d %10d %8d %10s %10s %10s %10s\n", width, e.Path, e.Weight, e.Requests, e.Errors, p50, p99, mx, mean)
	}
}

// LiveLine formats the live line printed once per second of the window:
// the time since the window opened, the responses per second and the p99
// latency (µs) of the last interval (count responses over length), and the
// errors so far. It starts with \r and pads to a fixed width, so each line
// overwrites the previous one in place on a terminal.
func LiveLine(elapsed time.Duration, count int64, length time.Duration, p99us int64, errors uint64) string {
	rps := 0.0
	if length > 0 {
		rps = float64(count) / length.Seconds()
	}
	p99 := "-"
	if count > 0 {
		p99 = fmtUsec(float64(p99us))
	}
	line := fmt.Sprintf("  %6s  %10.0f req/s  p99 %9s  errors %d", elapsed.Round(time.Second), rps, p99, errors)
	return fmt.Sprintf("\r%-60s", line)
}

// LiveClear erases the live line, before the summary is printed.
const LiveClear = "\r\033[K"

// WriteSpectrum prints h (µs) as HdrHistogram's percentile distribution in
// milliseconds, 5 ticks per half distance, as wrk2 and HistogramLogProcessor
// print it, ending with the #[Mean …] footer.
func WriteSpectrum(w io.Writer, h *hdr.Histogram) error {
	_, err := h.PercentilesPrint(w, 5, 1000)
	return err
}

func statLine(b *strings.Builder, name string, h *hdr.Histogram) {
	fmt.Fprintf(b, "  %-22s %10s %10s %10s\n", name, fmtUsec(h.Mean()), fmtUsec(h.StdDev()), fmtUsec(float64(h.Max())))
}

// fmtUsec formats microseconds the way wrk does: us, ms, s or m.
func fmtUsec(us float64) string {
	switch {
	case math.IsNaN(us):
		return "-"
	case us < 1000:
		return fmt.Sprintf("%.2fus", us)
	case us < 1e6:
		return fmt.Sprintf("%.2fms", us/1e3)
	case us < 60e6:
		return fmt.Sprintf("%.2fs", us/1e6)
	}
	return (time.Duration(us) * time.Microsecond).Round(time.Second).String()
}

func fmtBytes(n float64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	return fmt.Sprintf("%.2f%s", n, units[i])
}

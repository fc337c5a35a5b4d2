// Package summary holds the outcome of one load-generator run as it is
// printed by `loadgen -json` and read back by the runner. It is a leaf: it
// knows the JSON schema and how to summarise a histogram, nothing else.
package summary

import (
	"encoding/json"
	"fmt"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Workload is what a run drives: HTTP requests or raw TCP echo.
type Workload string

// Workloads, as they appear in Summary.Workload.
const (
	WorkloadHTTP Workload = "http"
	WorkloadEcho Workload = "echo"
)

// Engine is how the generator drives its connections.
type Engine string

// Engines, as they appear in Summary.Engine.
const (
	EngineGoroutines Engine = "goroutines" // one goroutine per connection on Go's netpoller
	EngineEpoll      Engine = "epoll"      // event loops over raw sockets; Linux only
)

// StopReason says why a run's measured window ended.
type StopReason string

// Stop reasons, as they appear in Summary.StopReason.
const (
	StopDuration     StopReason = "duration"
	StopRequests     StopReason = "requests"
	StopInterrupted  StopReason = "interrupted"
	StopServerExited StopReason = "server_exited"
)

// Summary is the outcome of one run, as printed by `loadgen -json`. Every
// field is documented in loadgen/README.md; fields are only ever added.
type Summary struct {
	Target              string            `json:"target"`                           // URL that was driven
	Workload            Workload          `json:"workload"`                         // http or echo
	Conns               int               `json:"conns"`                            // connections
	Pipeline            int               `json:"pipeline"`                         // requests outstanding per connection
	Rate                float64           `json:"rate"`                             // target requests/s, 0 = closed loop
	PayloadBytes        int               `json:"payload_bytes"`                    // echo message or POST body size
	Requests            uint64            `json:"requests"`                         // completed in the measured window
	Errors              uint64            `json:"errors"`                           // all kinds, measured window
	ErrorKinds          map[string]uint64 `json:"error_kinds"`                      // connect, read, write, timeout, status, mismatch, protocol
	DurationSeconds     float64           `json:"duration_s"`                       // measured window
	RPS                 float64           `json:"rps"`                              // Requests / DurationSeconds
	Latency             Percentiles       `json:"latency_us"`                       // corrected (from intended send) in open loop
	Uncorrected         *Percentiles      `json:"uncorrected_latency_us,omitempty"` // from actual send; open loop only
	SendLag             *LagPercentiles   `json:"send_lag_us,omitempty"`            // actual minus intended send; open loop only
	Saturated           bool              `json:"saturated"`                        // generator could not keep the schedule for its own reasons
	SaturatedReason     string            `json:"saturated_reason,omitempty"`
	OwnSendLag          *LagPercentiles   `json:"own_send_lag_us,omitempty"` // open loop: the generator's part of the send lag (not waiting for a full window)
	ServerBacklog       bool              `json:"server_backlog,omitempty"`  // open loop: sends waited for the server's answers; charged to it in Latency
	ServerBacklogReason string            `json:"server_backlog_reason,omitempty"`
	GeneratorCPUSeconds float64           `json:"generator_cpu_s"`  // user+sys of the generator process in the window
	Server              *ServerStats      `json:"server,omitempty"` // set when -server-pid is given
	HlogPath            string            `json:"hlog,omitempty"`   // interval log written, if any
	// ServerWindow is the server's answer to the window's close mark
	// (-mark-socket), kept as the server gave it; ServerWindowError says
	// why there is none when marking failed.
	ServerWindow      json.RawMessage `json:"server_window,omitempty"`
	ServerWindowError string          `json:"server_window_error,omitempty"`

	BytesRead    uint64     `json:"bytes_read"`              // received in the measured window
	BytesWritten uint64     `json:"bytes_written"`           // sent in the measured window
	WindowFull   uint64     `json:"window_full,omitempty"`   // open loop: sends due while the window was full
	StartTime    string     `json:"start_time"`              // start of the measured window, RFC 3339, UTC
	StartAt      string     `json:"start_at,omitempty"`      // with -start-at: the shared start asked for, RFC 3339, UTC
	StartSkewUs  *int64     `json:"start_skew_us,omitempty"` // with -start-at: when the warm-up began minus start_at, µs (> 0: late)
	StopReason   StopReason `json:"stop_reason"`             // why the window ended
	Engine       Engine     `json:"engine"`                  // goroutines or epoll

	ErrorPercent float64 `json:"error_pct"`               // 100 × errors / (requests + errors); 0 when both are 0
	Failed       bool    `json:"failed"`                  // no request succeeded, or ErrorPercent > FailErrorPercent
	FailedReason string  `json:"failed_reason,omitempty"` // why, with the measured values

	// Set only for a run with -mix: the mix as given, the seed of the
	// draws, and one entry per mix entry in the order written. The top-level
	// numbers are the totals over all entries.
	Mix       string          `json:"mix,omitempty"`
	Seed      uint64          `json:"seed,omitempty"`
	Endpoints []EndpointStats `json:"endpoints,omitempty"`

	// Set only for an idle run (-idle) with -server-pid: the server before
	// any connection was dialled (Base*) and at its peak while every
	// connection was open and silent, so memory per connection is a
	// difference over the connections alone.
	ServerIdle *IdleMemory `json:"server_idle,omitempty"`

	// Set only in open loop: the rate at the start and at the end of the
	// measured window, requests/s. Equal for a constant rate; for a ramp
	// (-R START:END) Rate is their mean.
	RateStart float64 `json:"rate_start,omitempty"`
	RateEnd   float64 `json:"rate_end,omitempty"`

	// Connections the generator opened in the measured window (connects
	// that succeeded; failed ones are connect errors) and their rate. With
	// Churn (-churn, a new connection per request) every request dials its
	// own, so Dials follows Requests; otherwise only re-dials after errors
	// or a server's close count.
	Churn          bool    `json:"churn,omitempty"`
	Dials          uint64  `json:"dials"`
	DialsPerSecond float64 `json:"dials_per_s"`
}

// FailErrorPercent is the share of errors, in percent of requests + errors,
// above which a run is failed: its latencies describe a failing server, not
// a serving one.
const FailErrorPercent = 1.0

// ErrorPercent is 100 × errors / (requests + errors); 0 when both are 0.
func ErrorPercent(requests, errors uint64) float64 {
	total := requests + errors
	if total == 0 {
		return 0
	}
	return 100 * float64(errors) / float64(total)
}

// TooManyErrors reports whether errors are more than FailErrorPercent of
// the attempts (requests + errors).
func TooManyErrors(requests, errors uint64) bool {
	return ErrorPercent(requests, errors) > FailErrorPercent
}

// ErrorKindConnect is the key of Summary.ErrorKinds that counts failed
// connection attempts (loadgen's ErrConnect).
const ErrorKindConnect = "connect"

// Verdict returns whether a run with these counts failed, and why: the
// generator's own verdict, which sets its exit status.
func Verdict(requests, errors uint64) (failed bool, errorPercent float64, reason string) {
	errorPercent = ErrorPercent(requests, errors)
	switch {
	case requests == 0 && errors == 0:
		return true, 0, "no request completed"
	case requests == 0:
		return true, errorPercent, fmt.Sprintf("no request succeeded (%d errors)", errors)
	case TooManyErrors(requests, errors):
		return true, errorPercent, fmt.Sprintf("%d errors are %.2f%% of %d attempts (> %g%%)", errors, errorPercent, requests+errors, FailErrorPercent)
	}
	return false, errorPercent, ""
}

// EndpointStats is one entry of a request mix: how often it was drawn and
// what its requests measured.
type EndpointStats struct {
	Path     string      `json:"path"`   // path and query exactly as written in -mix
	Weight   int         `json:"weight"` // relative weight in the mix
	Requests uint64      `json:"requests"`
	Errors   uint64      `json:"errors"`
	Latency  Percentiles `json:"latency_us"` // corrected in open loop, like the total
}

// Percentiles of a latency histogram, in microseconds.
type Percentiles struct {
	P50  int64   `json:"p50"`
	P90  int64   `json:"p90"`
	P99  int64   `json:"p99"`
	P999 int64   `json:"p999"`
	Max  int64   `json:"max"`
	Mean float64 `json:"mean"`
}

// LagPercentiles describe how late sends went out, in microseconds.
type LagPercentiles struct {
	P50 int64 `json:"p50"`
	P99 int64 `json:"p99"`
	Max int64 `json:"max"`
}

// ServerStats are the server's resources read from /proc/PID during the
// measured window.
type ServerStats struct {
	RSSIdleKiB  int64   `json:"rss_idle_kib"` // VmRSS before the generator dialled
	RSSPeakKiB  int64   `json:"rss_peak_kib"` // max VmRSS sampled (VmHWM if higher)
	RSSMeanKiB  int64   `json:"rss_mean_kib"` // mean of samples
	CPUSeconds  float64 `json:"cpu_s"`        // utime+stime delta over the window
	CtxSwitches uint64  `json:"ctx_switches"` // voluntary+involuntary delta, summed over tasks
	ThreadsPeak int     `json:"threads_peak"` // max Threads sampled
	Samples     int     `json:"samples"`      // number of /proc samples taken
	Exited      bool    `json:"exited"`       // the server exited during the window
}

// IdleMemory is what the server held before the generator dialled and
// while every connection was open and silent. The kernel's socket figures
// are system-wide (both ends of every loopback connection); see
// results/README.md for how they are attributed to the server.
type IdleMemory struct {
	RSSBaseKiB     int64 `json:"rss_base_kib"`      // VmRSS before dialling
	RSSKiB         int64 `json:"rss_kib"`           // max VmRSS while idle
	VmPTEBaseKiB   int64 `json:"vm_pte_base_kib"`   // page tables before dialling
	VmPTEKiB       int64 `json:"vm_pte_kib"`        // max VmPTE while idle
	ThreadsBase    int   `json:"threads_base"`      // threads before dialling
	Threads        int   `json:"threads"`           // max threads while idle
	SockMemBaseKiB int64 `json:"sock_mem_base_kib"` // /proc/net/sockstat TCP mem (pages → KiB) before dialling
	SockMemKiB     int64 `json:"sock_mem_kib"`      // the same while idle
	SlabBaseKiB    int64 `json:"tcp_slab_base_kib"` // /proc/slabinfo TCP and TCPv6 objects before dialling; -1 when unreadable
	SlabKiB        int64 `json:"tcp_slab_kib"`      // the same while idle
}

// PercentilesOf summarises a latency histogram recorded in microseconds.
func PercentilesOf(h *hdr.Histogram) Percentiles {
	v := h.ValueAtPercentiles([]float64{50, 90, 99, 99.9})
	return Percentiles{P50: v[50], P90: v[90], P99: v[99], P999: v[99.9], Max: h.Max(), Mean: h.Mean()}
}

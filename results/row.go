// Package results holds the result data: the schema (one Row per measured
// cell), the judge that gives a row its status (judge.go: one ordered
// table of rules), its CSV form, and HdrHistogram log IO and merging.
// Presenting results (report, plots, statistics) is package
// results/report; this one stays free of plotting dependencies.
package results

// Row is one measured cell × repetition: one line of summary.csv. The csv
// tag is the column name; units live in the names. Columns are only ever
// appended, never renamed or reordered, once published.
//
// Pointer fields are measured only sometimes; nil means "not measured" and
// is written as an empty field (never 0): uncorrected latency and send lag
// exist in open loop only, server resources only when the runner sampled
// the server (not in rows merged from generators), and RSSPerConnBytes only
// from MinConnsForRSSPerConn connections on.
type Row struct {
	RunID    string  `csv:"run_id"`
	Cell     string  `csv:"cell"` // stable cell key, used by -resume and compare
	Rep      int     `csv:"rep"`
	Backend  string  `csv:"backend"`
	Proto    string  `csv:"proto"`
	Workload string  `csv:"workload"` // plaintext, echo-http, echo, delay, cpu, mix, idle or idle-echo
	Conns    int     `csv:"conns"`
	Pipeline int     `csv:"pipeline"`
	Rate     float64 `csv:"rate"` // target req/s, 0 = closed loop
	Payload  int     `csv:"payload_bytes"`

	Status Status `csv:"status"`
	Reason string `csv:"reason"`

	DurationS        float64 `csv:"duration_s"`
	Requests         uint64  `csv:"requests"`
	RPS              float64 `csv:"rps"`
	P50Us            int64   `csv:"p50_us"`
	P90Us            int64   `csv:"p90_us"`
	P99Us            int64   `csv:"p99_us"`
	P999Us           int64   `csv:"p999_us"`
	MaxUs            int64   `csv:"max_us"`
	MeanUs           float64 `csv:"mean_us"`
	Errors           uint64  `csv:"errors"`
	Saturated        bool    `csv:"saturated"`
	UncorrectedP99Us *int64  `csv:"uncorrected_p99_us"` // open loop only
	SendLagP99Us     *int64  `csv:"send_lag_p99_us"`    // open loop only

	RSSIdleKiB               *int64   `csv:"rss_idle_kib"`
	RSSPeakKiB               *int64   `csv:"rss_peak_kib"`
	RSSMeanKiB               *int64   `csv:"rss_mean_kib"`
	RSSPerConnBytes          *int64   `csv:"rss_per_conn_bytes"` // (peak-idle)*1024/conns (idle workloads: (idle-base)*1024/conns), from MinConnsForRSSPerConn conns
	ServerCPUSeconds         *float64 `csv:"server_cpu_s"`
	ReqPerServerCPUSecond    *float64 `csv:"requests_per_server_cpu_s"`
	CtxSwitches              *uint64  `csv:"ctx_switches"`
	ThreadsPeak              *int     `csv:"threads_peak"`
	GeneratorCPUSeconds      *float64 `csv:"generator_cpu_s"`
	ReqPerGeneratorCPUSecond *float64 `csv:"requests_per_generator_cpu_s"`

	GoVersion       string `csv:"go_version"`
	Kernel          string `csv:"kernel"`
	CPUModel        string `csv:"cpu_model"`
	GOMAXPROCS      int    `csv:"gomaxprocs"` // of the server
	ServerCPUSet    string `csv:"server_cpus"`
	GeneratorCPUSet string `csv:"generator_cpus"`
	Commit          string `csv:"commit"` // vcs.revision of the server binary, "+dirty" if modified
	Plan            string `csv:"plan"`
	StartTime       string `csv:"start_time"` // RFC 3339, UTC
	Hlog            string `csv:"hlog"`       // path of the cell's .hlog, relative to the run dir

	// Host noise, bottleneck and variants (see results/README.md).
	HostStealPct    *float64 `csv:"host_steal_pct"`     // steal time on the pinned CPUs, % of their capacity
	HostOtherCPUPct *float64 `csv:"host_other_cpu_pct"` // CPU used there by anything but server and generator, %
	QuietWaitS      *float64 `csv:"quiet_wait_s"`       // time waited for a quiet host before the cell (-quiet-wait)
	ServerCPUPct    *float64 `csv:"server_cpu_pct"`     // server CPU ÷ (window × server CPUs), %
	GeneratorCPUPct *float64 `csv:"generator_cpu_pct"`  // generator CPU ÷ (window × generator CPUs), %
	Bottleneck      string   `csv:"bottleneck"`         // server, generator, both, neither; empty if not known
	Label           string   `csv:"label"`              // plan variant label; empty = the backend name
	HostCPUs        *int     `csv:"host_cpus"`          // online CPUs of the machine

	HandlerUs *int64  `csv:"handler_us"` // delay and cpu workloads: µs waited or computed per request
	Mix       string  `csv:"mix"`        // mix workload: the spec given to the generator
	Seed      *uint64 `csv:"seed"`       // mix workload: seed of the generator's draws

	// Idle workloads: the server's memory with every connection open and
	// silent, kernel included (see results/README.md for the attribution).
	VmPTEKiB           *int64   `csv:"vm_pte_kib"`            // server page tables (VmPTE) while idle
	KernelStackKiB     *int64   `csv:"kernel_stack_kib"`      // server threads while idle × the kernel stack size
	SocketKiB          *float64 `csv:"socket_kib"`            // half the system-wide rise of TCP socket memory and slab
	KernelPerConnBytes *int64   `csv:"kernel_per_conn_bytes"` // (ΔVmPTE + Δthreads × stack + socket) ÷ conns
	TotalPerConnBytes  *int64   `csv:"total_per_conn_bytes"`  // rss_per_conn_bytes + kernel_per_conn_bytes
	RateFraction       *float64 `csv:"rate_fraction"`         // rate given as a fraction of the round's closed-loop capacity; empty for absolute rates

	OwnSendLagP99Us *int64 `csv:"own_send_lag_p99_us"` // open loop: the generator's part of the send lag (not waiting on a full window)

	// What a Go server's runtime did in the measured window (runtime/metrics,
	// read at the window's edges); empty for servers without a Go runtime.
	GCCycles          *int64   `csv:"gc_cycles"`            // garbage-collection cycles completed
	GCPauseP99Us      *float64 `csv:"gc_pause_p99_us"`      // p99 of the stop-the-world GC pauses, µs (0: none)
	GCCPUPct          *float64 `csv:"gc_cpu_pct"`           // the runtime's GC CPU estimate ÷ its total CPU estimate, %
	SchedLatencyP99Us *float64 `csv:"sched_latency_p99_us"` // p99 of the time goroutines waited runnable, µs

	// What ran as the server (see results/README.md).
	ServerCommand string `csv:"server_command"` // command line as run, placeholders filled: "server -backend stdlib -proto http -addr 127.0.0.1:0"
	ServerSHA256  string `csv:"server_sha256"`  // first 12 hex digits of the SHA-256 of the server's executable
	ServerEnv     string `csv:"server_env"`     // environment bench added, NAME=VALUE separated by spaces: "GOMAXPROCS=1"

	// Attempt numbers the measurements of one cell repetition: 1 for the
	// first, 2, 3, … for re-runs of a noisy or generator-limited one (see
	// runner.Latest for which one counts); 0 in rows written before the
	// column existed and in merged rows, read as 1.
	Attempt int `csv:"attempt"`

	// ServerCPUCount is the cell's count on a plan's server_cpus axis: the
	// server ran on that many CPUs with GOMAXPROCS at that number; empty
	// when the plan has no such axis.
	ServerCPUCount *int `csv:"server_cpu_count"`

	// HostStallP99Us and HostStallMaxUs are how late a real-time thread
	// that sleeps to a deadline every 2 ms woke on the worst of the pinned
	// CPUs during the window (p99 and max, µs): time the host took the CPU
	// away, which steal does not always show (runner/stall.go). Empty when
	// the probe could not run at real-time priority.
	HostStallP99Us *int64 `csv:"host_stall_p99_us"`
	HostStallMaxUs *int64 `csv:"host_stall_max_us"`
}

// Values of Row.Bottleneck.
const (
	BottleneckServer    = "server"    // the server's CPUs were busy, the generator's were not
	BottleneckGenerator = "generator" // the generator's CPUs were busy, the server's were not
	BottleneckBoth      = "both"      // both sides were CPU-bound: co-limited
	BottleneckNeither   = "neither"   // neither side was CPU-bound: latency-bound (waiting, round trips)
)

// LabelOf is the name a row is grouped and compared by: its variant label,
// or the backend when the plan named no variants.
func (r Row) LabelOf() string {
	if r.Label != "" {
		return r.Label
	}
	return r.Backend
}

// MinConnsForRSSPerConn is the fewest connections for which
// Row.RSSPerConnBytes is given: below it the growth of RSS is mostly noise
// (allocator and runtime steps), not the cost of a connection.
const MinConnsForRSSPerConn = 64

// Value returns *p and whether it was measured (p is not nil).
func Value[T any](p *T) (T, bool) {
	if p == nil {
		var zero T
		return zero, false
	}
	return *p, true
}

// AttemptOf is the row's attempt, 1 when the column is empty.
func (r Row) AttemptOf() int { return max(r.Attempt, 1) }

// Completed reports whether the row is a finished measurement that need
// not run again: ok, backlog, or saturated (the generator was the limit; the figure
// stands as a lower bound).
func (r Row) Completed() bool {
	return r.Status.Counts() || r.Status == StatusSaturated
}

// GeneratorBound reports whether the row's generator, not its server, was
// the limit: saturated with the generator's CPUs busy and the server's
// not: in closed loop the generator could not ask for more, in open loop
// it fell behind its own schedule. A closed-loop row's throughput is then
// a lower bound on the server's.
func (r Row) GeneratorBound() bool {
	return r.Status == StatusSaturated && r.Bottleneck == BottleneckGenerator
}
